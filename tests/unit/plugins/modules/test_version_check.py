# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from ansible.module_utils.common import warnings as ansible_warnings
from ansible.module_utils.testing import patch_module_args
from ansible_collections.onprem.wandb.plugins.module_utils import probes
from ansible_collections.onprem.wandb.plugins.modules import version_check

SECRET = 'S3cr3t-pa$$"word\\x'
TOKEN = "k8s-token-0123456789abcdef"


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for name in (
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def run(capsys, tmp_path, monkeypatch):
    moduletmp = tmp_path / "moduletmp"
    moduletmp.mkdir()

    def run_module(args):
        args = dict(args)
        args.setdefault("_ansible_tmpdir", str(moduletmp))
        # Warnings are collected per process; start every run with an empty list.
        monkeypatch.setattr(ansible_warnings, "_global_warnings", {})
        with patch_module_args(args), pytest.raises(SystemExit) as exc_info:
            version_check.main()
        text = capsys.readouterr().out
        return exc_info.value.code, json.loads(text), text

    run_module.tmpdir = moduletmp
    return run_module


def warning_messages(out):
    """Warning texts of a module result (ansible-core 2.19 returns structured warnings)."""
    result = []
    for item in out.get("warnings", []):
        result.append(item["event"]["msg"] if isinstance(item, dict) else item)
    return result


def make_script(directory, name, body):
    path = directory / name
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(0o755)
    return str(path)


# ---------------------------------------------------------------------------
# Policy only (version given)
# ---------------------------------------------------------------------------

MYSQL_POLICY = {"series": ["8.0"], "minimum": "8.0.32", "recommended": "8.0.44"}


@pytest.mark.parametrize(
    "component, version, policy, rc, normalized, flavor",
    [
        ("mysql", "8.0.44", MYSQL_POLICY, 0, "8.0.44", "mysql"),
        ("mysql", "8.0.44-0ubuntu0.24.04.1", MYSQL_POLICY, 0, "8.0.44", "mysql"),
        ("mysql", "8.0.36-28", MYSQL_POLICY, 0, "8.0.36", "mysql"),
        ("mysql", "8.4.6", MYSQL_POLICY, 1, "8.4.6", "mysql"),
        ("mysql", "9.7.4-2", MYSQL_POLICY, 1, "9.7.4", "mysql"),
        ("mysql", "5.7.44-log", MYSQL_POLICY, 1, "5.7.44", "mysql"),
        (
            "mysql",
            "8.0.mysql_aurora.3.05.2",
            MYSQL_POLICY,
            0,
            "8.0.mysql_aurora.3.05.2",
            "aurora",
        ),
        ("mysql", "10.11.19-MariaDB-0+deb12u1", {}, 1, "10.11.19", "mariadb"),
        ("redis", "7.2.4", {"minimum": "7.0"}, 0, "7.2.4", "redis"),
        ("redis", "6.2.14", {"minimum": "7.0"}, 1, "6.2.14", "redis"),
        ("kubernetes", "v1.34.1+k3s1", {"minimum": "1.30"}, 0, "1.34.1", "k3s"),
        (
            "kubernetes",
            "v1.30.4-eks-a737599",
            {"series": ["1.33", "1.34"]},
            1,
            "1.30.4",
            "eks",
        ),
        ("helm", "v3.19.0+g3d8990f", {"series": ["3"]}, 0, "3.19.0", "helm"),
        ("helm", "v4.3.1", {"series": ["3"]}, 1, "4.3.1", "helm"),
        (
            "minio",
            "RELEASE.2025-09-07T16-13-09Z",
            {"minimum": "RELEASE.2025-04-22T22-12-26Z"},
            0,
            "RELEASE.2025-09-07T16-13-09Z",
            "minio",
        ),
        (
            "os",
            "debian:12",
            {"os_allowed": ["debian:12", "debian:13"]},
            0,
            "12",
            "debian",
        ),
        (
            "os",
            "debian:forky/sid",
            {"os_allowed": ["debian:12", "debian:13"]},
            1,
            "forky",
            "debian",
        ),
        (
            "os",
            "debian:forky/sid",
            {"os_allowed": ["debian:12"], "os_allow_unversioned": True},
            0,
            "forky",
            "debian",
        ),
    ],
)
def test_given_version(run, component, version, policy, rc, normalized, flavor):
    args = {"component": component, "version": version}
    args.update(policy)
    code, out, _dummy = run(args)
    assert code == rc, out["msg"]
    assert out["changed"] is False
    assert out["component"] == component
    assert out["version"] == normalized
    assert out["raw"] == version
    assert out["flavor"] == flavor
    assert out["source"] == "version option"
    assert "given in the version option" in out["msg"]
    assert bool(out["errors"]) is bool(rc)
    assert set(out["policy"]) == {
        "minimum",
        "recommended",
        "maximum_exclusive",
        "series",
        "aurora_minimum",
        "allow_development",
        "os_allowed",
        "os_allow_unversioned",
    }


def test_failure_message_carries_policy_hint(run):
    code, out, _dummy = run(
        dict(
            component="mysql",
            version="9.7.4",
            policy_hint="Set mysql_version or preflight_version_policy.mysql.",
            **MYSQL_POLICY,
        )
    )
    assert code == 1
    assert out["msg"] == (
        "mysql 9.7.4 given in the version option; required: series 8.0, minimum 8.0.32 (recommended 8.0.44). "
        "9.7.4 is not in series 8.0. Set mysql_version or preflight_version_policy.mysql."
    )
    assert out["errors"] == ["9.7.4 is not in series 8.0"]
    assert out["series"] == "9.7"


def test_recommended_warns_but_passes(run):
    code, out, _dummy = run(dict(component="mysql", version="8.0.36", **MYSQL_POLICY))
    assert code == 0
    assert out["meets_recommended"] is False
    assert warning_messages(out) == [
        "mysql 8.0.36 is older than the recommended 8.0.44; it is accepted, but upgrading is advised"
    ]


def test_mariadb_rejected_message(run):
    code, out, _dummy = run(
        {
            "component": "mysql",
            "version": "10.11.19-MariaDB-0+deb12u1",
            "series": ["8.0", "8.4"],
        }
    )
    assert code == 1
    assert "MariaDB is not MySQL; W&B requires MySQL 8.0/8.4" in out["msg"]


def test_aurora_return_value(run):
    code, out, _dummy = run(dict(component="mysql", version="8.0.mysql_aurora.3.04.1", **MYSQL_POLICY))
    assert code == 1
    assert out["aurora_version"] == "3.04.1"
    assert "Aurora MySQL 3.04.1 is older than 3.05.2" in out["msg"]


def test_minio_development_build(run):
    code, out, _dummy = run(
        {
            "component": "minio",
            "version": "DEVELOPMENT.2026-02-12T20-18-48Z",
            "minimum": "RELEASE.2025-04-22T22-12-26Z",
        }
    )
    assert code == 0
    assert out["development_build"] is True
    code, out, _dummy = run(
        {
            "component": "minio",
            "version": "DEVELOPMENT.2026-02-12T20-18-48Z",
            "allow_development": False,
        }
    )
    assert code == 1


def test_prerelease_warning(run):
    code, out, _dummy = run({"component": "kubernetes", "version": "v1.37.0-alpha.0", "minimum": "1.30"})
    assert code == 0
    assert out["prerelease"] == "alpha.0"
    assert warning_messages(out) == ["kubernetes 1.37.0-alpha.0 is a pre-release build (alpha.0)"]


@pytest.mark.parametrize(
    "args, fragment",
    [
        (
            {"component": "mysql", "version": "8.0.44", "minimum": "latest"},
            "Invalid version policy for mysql",
        ),
        (
            {
                "component": "minio",
                "version": "RELEASE.2025-09-07T16-13-09Z",
                "minimum": "8.0",
            },
            "Invalid version policy for minio",
        ),
        (
            {"component": "helm", "version": "version.BuildInfo{}"},
            "Could not parse the helm version",
        ),
    ],
)
def test_invalid_input(run, args, fragment):
    code, out, _dummy = run(args)
    assert code == 1
    assert fragment in out["msg"]


def test_check_mode(run):
    code, out, _dummy = run({"component": "redis", "version": "7.2.4", "_ansible_check_mode": True})
    assert code == 0
    assert "skipped" not in out


# ---------------------------------------------------------------------------
# Redis: a tiny RESP server on loopback
# ---------------------------------------------------------------------------


def _read_command(stream):
    line = stream.readline()
    if not line:
        return None
    if not line.startswith(b"*"):
        raise ValueError("inline commands are not supported by the test server")
    args = []
    for _dummy in range(int(line[1:].strip())):
        length = int(stream.readline()[1:].strip())
        args.append(stream.read(length + 2)[:-2].decode())
    return args


class FakeRedis:
    def __init__(
        self,
        version="7.2.4",
        password=None,
        user="default",
        info_extra="",
        ssl_context=None,
    ):
        self.version = version
        self.password = password
        self.user = user
        self.info_extra = info_extra
        self.ssl_context = ssl_context
        self.commands = []
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(5)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve)
        self.thread.daemon = True
        self.thread.start()

    def _serve(self):
        while not self.stopping.is_set():
            try:
                conn, _dummy = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(5)
            try:
                if self.ssl_context is not None:
                    conn = self.ssl_context.wrap_socket(conn, server_side=True)
                self._handle(conn)
            except (OSError, ValueError):
                pass
            finally:
                conn.close()

    def _handle(self, conn):
        stream = conn.makefile("rb")
        authed = self.password is None
        while True:
            command = _read_command(stream)
            if command is None:
                return
            name = command[0].upper()
            self.commands.append([name] + command[1:2])
            if name == "AUTH":
                user, password = (command[1], command[2]) if len(command) == 3 else ("default", command[1])
                if self.password is not None and user == self.user and password == self.password:
                    authed = True
                    conn.sendall(b"+OK\r\n")
                else:
                    conn.sendall(b"-WRONGPASS invalid username-password pair or user is disabled.\r\n")
            elif name == "INFO":
                if not authed:
                    conn.sendall(b"-NOAUTH Authentication required.\r\n")
                    continue
                body = (
                    f"# Server\r\nredis_version:{self.version}\r\nredis_git_sha1:00000000\r\nredis_mode:standalone\r\n"
                    f"os:Linux 6.1.0-26-amd64 x86_64\r\narch_bits:64\r\n{self.info_extra}"
                ).encode()
                conn.sendall(b"$%d\r\n%s\r\n" % (len(body), body))
            else:
                conn.sendall(b"-ERR unknown command '%s'\r\n" % name.encode())

    def close(self):
        self.stopping.set()
        self.listener.close()
        self.thread.join(5)


@pytest.fixture
def redis_server():
    servers = []

    def start(**kwargs):
        server = FakeRedis(**kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def test_redis_probe_without_password(run, redis_server):
    server = redis_server(version="7.2.4")
    code, out, _dummy = run({"component": "redis", "login_port": server.port, "minimum": "7.0"})
    assert code == 0, out["msg"]
    assert out["version"] == "7.2.4"
    assert out["flavor"] == "redis"
    assert out["source"] == f"127.0.0.1:{server.port}"
    assert out["msg"] == f"redis 7.2.4 found on 127.0.0.1:{server.port}; satisfies minimum 7.0."
    assert server.commands == [["INFO", "server"]]


def test_redis_probe_with_password(run, redis_server):
    server = redis_server(version="7.0.15", password=SECRET)
    code, out, text = run(
        {
            "component": "redis",
            "login_host": "127.0.0.1",
            "login_port": server.port,
            "login_password": SECRET,
            "minimum": "7.0",
            "recommended": "7.2",
        }
    )
    assert code == 0, out["msg"]
    assert out["version"] == "7.0.15"
    assert out["meets_recommended"] is False
    assert server.commands == [["AUTH", SECRET], ["INFO", "server"]]
    assert SECRET not in text


def test_redis_probe_with_acl_user(run, redis_server):
    server = redis_server(version="7.2.4", password=SECRET, user="wandb")
    code, out, _dummy = run(
        {
            "component": "redis",
            "login_port": server.port,
            "login_user": "wandb",
            "login_password": SECRET,
        }
    )
    assert code == 0, out["msg"]
    assert server.commands[0] == ["AUTH", "wandb"]


def test_redis_probe_too_old(run, redis_server):
    server = redis_server(version="6.2.14")
    code, out, _dummy = run(
        {
            "component": "redis",
            "login_port": server.port,
            "minimum": "7.0",
            "policy_hint": "Set redis_version.",
        }
    )
    assert code == 1
    assert out["msg"] == (
        f"redis 6.2.14 found on 127.0.0.1:{server.port}; required: minimum 7.0. "
        "6.2.14 is older than the minimum 7.0. Set redis_version."
    )


def test_redis_probe_wrong_password_is_masked(run, redis_server):
    server = redis_server(password="other")
    code, out, text = run({"component": "redis", "login_port": server.port, "login_password": SECRET})
    assert code == 1
    assert f"authentication to redis at 127.0.0.1:{server.port} failed: WRONGPASS" in out["msg"]
    assert SECRET not in text


def test_redis_probe_noauth_hint(run, redis_server):
    server = redis_server(password=SECRET)
    code, out, _dummy = run({"component": "redis", "login_port": server.port})
    assert code == 1
    assert "NOAUTH" in out["msg"] and "set login_password" in out["msg"]


def test_redis_probe_valkey(run, redis_server):
    server = redis_server(version="7.2.4", info_extra="server_name:valkey\r\nvalkey_version:8.0.1\r\n")
    code, out, _dummy = run({"component": "redis", "login_port": server.port})
    assert code == 0
    assert out["flavor"] == "valkey"
    assert out["version"] == "7.2.4"


def test_redis_probe_connection_refused(run):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    code, out, _dummy = run({"component": "redis", "login_port": port, "timeout": 2})
    assert code == 1
    assert out["msg"].startswith(
        f"Could not read the redis version: cannot read the version of redis at 127.0.0.1:{port}"
    )


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    openssl = shutil.which("openssl")
    if not openssl:
        pytest.skip("openssl is not available")
    directory = tmp_path_factory.mktemp("tls")
    cert = str(directory / "cert.pem")
    key = str(directory / "key.pem")
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            key,
            "-out",
            cert,
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return cert, key


def _server_context(tls_files):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*tls_files)
    return context


def test_redis_probe_tls_with_ca(run, redis_server, tls_files):
    server = redis_server(version="7.2.4", password=SECRET, ssl_context=_server_context(tls_files))
    code, out, _dummy = run(
        {
            "component": "redis",
            "login_port": server.port,
            "login_password": SECRET,
            "tls": True,
            "ca_cert": tls_files[0],
        }
    )
    assert code == 0, out["msg"]
    assert out["version"] == "7.2.4"


def test_redis_probe_tls_unverified_fails_then_skip_validation(run, redis_server, tls_files):
    server = redis_server(version="7.2.4", ssl_context=_server_context(tls_files))
    code, out, _dummy = run({"component": "redis", "login_port": server.port, "tls": True})
    assert code == 1
    assert "TLS error" in out["msg"] or "certificate" in out["msg"]
    code, out, _dummy = run(
        {
            "component": "redis",
            "login_port": server.port,
            "tls": True,
            "validate_certs": False,
        }
    )
    assert code == 0, out["msg"]


def test_resp_helpers():
    assert probes.resp_command("AUTH", "user", "pw") == b"*3\r\n$4\r\nAUTH\r\n$4\r\nuser\r\n$2\r\npw\r\n"
    assert probes.parse_info("# Server\r\nredis_version:7.2.4\r\nexecutable:/usr/bin/redis-server\r\n") == {
        "redis_version": "7.2.4",
        "executable": "/usr/bin/redis-server",
    }


@pytest.mark.parametrize(
    "data, expected",
    [
        (b"+OK\r\n", "OK"),
        (b":42\r\n", 42),
        (b"$5\r\nhello\r\n", "hello"),
        (b"$-1\r\n", None),
        (b"*2\r\n$1\r\na\r\n:1\r\n", ["a", 1]),
        (b"_\r\n", None),
    ],
)
def test_read_resp(data, expected):
    assert probes.read_resp(io.BytesIO(data)) == expected


@pytest.mark.parametrize(
    "data, error",
    [
        (b"-ERR boom\r\n", probes.RedisReplyError),
        (b"", probes.ProbeError),
        (b"+OK\n", probes.ProbeError),
        (b"$10\r\nshort\r\n", probes.ProbeError),
        (b"HTTP/1.1 400 Bad Request\r\n", probes.ProbeError),
    ],
)
def test_read_resp_errors(data, error):
    with pytest.raises(error):
        probes.read_resp(io.BytesIO(data))


# ---------------------------------------------------------------------------
# Kubernetes: http.server on loopback
# ---------------------------------------------------------------------------

K8S_VERSION = {
    "major": "1",
    "minor": "34",
    "gitVersion": "v1.34.1+k3s1",
    "gitCommit": "24fc436e",
    "gitTreeState": "clean",
    "buildDate": "2025-09-10T12:00:00Z",
    "goVersion": "go1.24.6",
    "compiler": "gc",
    "platform": "linux/amd64",
}


class _VersionHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        server = self.server
        server.seen.append((self.path, self.headers.get("Authorization")))
        if server.token and self.headers.get("Authorization") != f"Bearer {server.token}":
            return self._reply(401, b'{"kind":"Status","message":"Unauthorized","code":401}')
        if self.path != "/version":
            return self._reply(404, b"{}")
        body = server.body if server.body is not None else json.dumps(server.payload).encode()
        return self._reply(200, body)

    def _reply(self, code, body):
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def k8s_server():
    servers = []

    def start(payload=None, token=None, body=None):
        server = HTTPServer(("127.0.0.1", 0), _VersionHandler)
        server.payload = payload or K8S_VERSION
        server.token = token
        server.body = body
        server.seen = []
        thread = threading.Thread(target=server.serve_forever)
        thread.daemon = True
        thread.start()
        servers.append((server, thread))
        return server, f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_kubernetes_probe(run, k8s_server):
    server, url = k8s_server()
    code, out, _dummy = run({"component": "kubernetes", "api_url": url + "/", "minimum": "1.30"})
    assert code == 0, out["msg"]
    assert out["version"] == "1.34.1"
    assert out["flavor"] == "k3s"
    assert out["raw"] == "v1.34.1+k3s1"
    assert out["source"] == url + "/"
    assert server.seen == [("/version", None)]


def test_kubernetes_probe_with_token(run, k8s_server):
    server, url = k8s_server(token=TOKEN, payload=dict(K8S_VERSION, gitVersion="v1.30.4-eks-a737599"))
    code, out, text = run(
        {
            "component": "kubernetes",
            "api_url": url,
            "api_key": TOKEN,
            "series": ["1.33", "1.34"],
        }
    )
    assert code == 1
    assert server.seen == [("/version", f"Bearer {TOKEN}")]
    assert out["flavor"] == "eks"
    assert "1.30.4 is not in series 1.33, 1.34" in out["msg"]
    assert TOKEN not in text


def test_kubernetes_probe_unauthorized(run, k8s_server):
    _server, url = k8s_server(token=TOKEN)
    code, out, text = run({"component": "kubernetes", "api_url": url, "api_key": "wrong-" + TOKEN})
    assert code == 1
    assert "HTTP 401" in out["msg"] and "api_key" in out["msg"]
    assert TOKEN not in text


def test_kubernetes_probe_not_json(run, k8s_server):
    _server, url = k8s_server(body=b"<html>hello</html>")
    code, out, _dummy = run({"component": "kubernetes", "api_url": url})
    assert code == 1
    assert "did not return JSON" in out["msg"]


def test_kubernetes_requires_api_url(run):
    code, out, _dummy = run({"component": "kubernetes"})
    assert code == 1
    assert "api_url or kubeconfig is required" in out["msg"]


def _kubeconfig(tmp_path, url, token=None, context="lab"):
    user = {"token": token} if token else {}
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": context,
        "clusters": [{"name": "c", "cluster": {"server": url}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "lab", "context": {"cluster": "c", "user": "u"}}],
    }
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(config))
    return str(path)


def test_kubernetes_probe_through_kubeconfig(run, k8s_server, tmp_path):
    server, url = k8s_server(token=TOKEN, payload=dict(K8S_VERSION, gitVersion="v1.33.9"))
    code, out, text = run(
        {"component": "kubernetes", "kubeconfig": _kubeconfig(tmp_path, url, TOKEN), "minimum": "1.34.0"}
    )
    assert code == 1
    assert server.seen == [("/version", f"Bearer {TOKEN}")]
    assert out["source"] == url
    assert "1.33.9 is older than the minimum 1.34.0" in out["msg"]
    assert TOKEN not in text


@pytest.mark.parametrize(
    "context, fragment",
    [("missing", "context missing not found (contexts: lab)"), (None, "")],
)
def test_kubernetes_kubeconfig_context(run, k8s_server, tmp_path, context, fragment):
    _server, url = k8s_server()
    args = {"component": "kubernetes", "kubeconfig": _kubeconfig(tmp_path, url)}
    if context:
        args["kube_context"] = context
    code, out, _dummy = run(args)
    if fragment:
        assert code == 1 and fragment in out["msg"]
    else:
        assert code == 0, out["msg"]


def test_kubernetes_kubeconfig_missing(run, tmp_path):
    code, out, _dummy = run({"component": "kubernetes", "kubeconfig": str(tmp_path / "none")})
    assert code == 1
    assert "cannot read kubeconfig" in out["msg"] and "wandb_kubeconfig" in out["msg"]


# ---------------------------------------------------------------------------
# MySQL: PyMySQL (fake module object) and the mysql client (fake binary)
# ---------------------------------------------------------------------------


class FakeCursor:
    def __init__(self, rows):
        self.rows = rows
        self.queries = []
        self.current = None

    def execute(self, query):
        self.queries.append(query)
        self.current = self.rows.get(query)

    def fetchone(self):
        return self.current

    def close(self):
        pass


class FakePyMySQL:
    def __init__(self, version="8.0.44", aurora=None, error=None):
        self.rows = {"SELECT VERSION()": (version,)}
        if aurora:
            self.rows["SHOW VARIABLES LIKE 'aurora_version'"] = (
                "aurora_version",
                aurora,
            )
        self.error = error
        self.kwargs = None
        self.cursor_obj = FakeCursor(self.rows)

    def connect(self, **kwargs):
        self.kwargs = kwargs
        if self.error:
            raise RuntimeError(self.error)
        return self

    def cursor(self):
        return self.cursor_obj

    def close(self):
        pass


def test_mysql_probe_pymysql(run, monkeypatch):
    fake = FakePyMySQL("8.0.44-0ubuntu0.24.04.1")
    monkeypatch.setattr(version_check, "pymysql", fake)
    code, out, text = run(
        dict(
            component="mysql",
            login_host="db.example",
            login_user="wandb",
            login_password=SECRET,
            **MYSQL_POLICY,
        )
    )
    assert code == 0, out["msg"]
    assert out["version"] == "8.0.44"
    assert out["raw"] == "8.0.44-0ubuntu0.24.04.1"
    assert out["source"] == "db.example:3306"
    assert fake.kwargs == {
        "host": "db.example",
        "port": 3306,
        "user": "wandb",
        "password": SECRET,
        "connect_timeout": 5,
        "read_timeout": 5,
    }
    assert SECRET not in text


def test_mysql_probe_pymysql_aurora(run, monkeypatch):
    monkeypatch.setattr(version_check, "pymysql", FakePyMySQL("8.0.32", aurora="3.05.2"))
    code, out, _dummy = run(
        dict(
            component="mysql",
            login_unix_socket="/run/mysqld/mysqld.sock",
            **MYSQL_POLICY,
        )
    )
    assert code == 0, out["msg"]
    assert out["flavor"] == "aurora"
    assert out["version"] == "8.0.mysql_aurora.3.05.2"
    assert out["source"] == "/run/mysqld/mysqld.sock"


def test_mysql_probe_pymysql_error_is_masked(run, monkeypatch):
    monkeypatch.setattr(
        version_check,
        "pymysql",
        FakePyMySQL(error=f"connect failed with password {SECRET}"),
    )
    code, out, text = run(
        {
            "component": "mysql",
            "login_password": SECRET,
            "mysql_binary": "/nonexistent/mysql",
        }
    )
    assert code == 1
    assert "PyMySQL: cannot read the MySQL version: connect failed with password ********" in out["msg"]
    assert SECRET not in text


def test_mysql_probe_nothing_available(run, monkeypatch):
    monkeypatch.setattr(version_check, "pymysql", None)
    code, out, _dummy = run({"component": "mysql", "mysql_binary": "/nonexistent/mysql"})
    assert code == 1
    assert "install python3-pymysql" in out["msg"]


FAKE_MYSQL = r"""
import json, os, stat, sys
args = sys.argv[1:]
path = args[0].split('=', 1)[1]
record = dict(
    argv=args,
    mode=oct(stat.S_IMODE(os.stat(path).st_mode)),
    config=open(path).read(),
    path=path,
)
with open(os.environ['FAKE_MYSQL_LOG'], 'w') as handle:
    json.dump(record, handle)
if os.environ.get('FAKE_MYSQL_FAIL'):
    sys.stderr.write("ERROR 1045 (28000): Access denied for user 'wandb'@'10.0.0.9' (using password: YES)\n")
    sys.exit(1)
sys.stdout.write(os.environ['FAKE_MYSQL_OUTPUT'])
"""


@pytest.fixture
def fake_mysql(tmp_path, monkeypatch):
    monkeypatch.setattr(version_check, "pymysql", None)
    log = tmp_path / "mysql.json"
    monkeypatch.setenv("FAKE_MYSQL_LOG", str(log))
    binary = make_script(tmp_path, "mysql", FAKE_MYSQL)

    def record():
        return json.loads(log.read_text())

    return binary, record


@pytest.mark.parametrize(
    "output, version, flavor",
    [
        ("8.0.44\n", "8.0.44", "mysql"),
        ("8.0.32\naurora_version\t3.05.2\n", "8.0.mysql_aurora.3.05.2", "aurora"),
    ],
)
def test_mysql_probe_client(run, fake_mysql, monkeypatch, output, version, flavor):
    binary, record = fake_mysql
    monkeypatch.setenv("FAKE_MYSQL_OUTPUT", output)
    code, out, text = run(
        dict(
            component="mysql",
            login_host="10.0.0.5",
            login_port=3307,
            login_user="wandb",
            login_password=SECRET,
            mysql_binary=binary,
            **MYSQL_POLICY,
        )
    )
    assert code == 0, out["msg"]
    assert out["version"] == version
    assert out["flavor"] == flavor
    assert out["source"] == "10.0.0.5:3307"
    seen = record()
    assert seen["mode"] == "0o600"
    assert seen["argv"][0].startswith("--defaults-extra-file=")
    assert seen["argv"][1:] == [
        "--batch",
        "--skip-column-names",
        "--connect-timeout=5",
        "-e",
        probes.MYSQL_QUERY,
    ]
    assert SECRET not in " ".join(seen["argv"])
    assert seen["config"] == (
        '[client]\nuser="wandb"\npassword="S3cr3t-pa$$\\"word\\\\x"\nhost="10.0.0.5"\nport=3307\n'
    )
    assert not os.path.exists(seen["path"])
    assert SECRET not in text


def test_mysql_probe_client_failure(run, fake_mysql, monkeypatch):
    binary, record = fake_mysql
    monkeypatch.setenv("FAKE_MYSQL_FAIL", "1")
    code, out, _dummy = run(
        {
            "component": "mysql",
            "login_user": "wandb",
            "login_password": SECRET,
            "mysql_binary": binary,
        }
    )
    assert code == 1
    assert "Access denied" in out["msg"]
    assert not os.path.exists(record()["path"])


def test_mysql_defaults_file_content():
    assert (
        probes.mysql_defaults_file_content(user="u", unix_socket="/s", port=None) == '[client]\nuser="u"\nsocket="/s"\n'
    )
    with pytest.raises(probes.ProbeError):
        probes.mysql_defaults_file_content(password="a\nb")


# ---------------------------------------------------------------------------
# helm / minio: fake binaries
# ---------------------------------------------------------------------------

FAKE_HELM = r"""
import sys
args = sys.argv[1:]
if args == ['version', '--template', '{{.Version}}']:
    if MODE == 'template':
        sys.stdout.write('v3.19.0')
        sys.exit(0)
    sys.stderr.write('Error: unknown flag: --template\n')
    sys.exit(1)
if args == ['version', '--short']:
    sys.stdout.write('v3.19.0+g3d8990f\n')
    sys.exit(0)
sys.exit(2)
"""


@pytest.mark.parametrize("mode, raw", [("template", "v3.19.0"), ("short", "v3.19.0+g3d8990f")])
def test_helm_probe(run, tmp_path, mode, raw):
    binary = make_script(tmp_path, "helm", f"MODE = {mode!r}\n{FAKE_HELM}")
    code, out, _dummy = run({"component": "helm", "binary": binary, "series": ["3"], "minimum": "3.14.0"})
    assert code == 0, out["msg"]
    assert out["raw"] == raw
    assert out["version"] == "3.19.0"
    assert out["source"] == binary
    assert f"found at {binary}" in out["msg"]


def test_helm_found_in_path(run, tmp_path, monkeypatch):
    make_script(tmp_path, "helm", 'MODE = "template"\n' + FAKE_HELM)
    monkeypatch.setenv("PATH", str(tmp_path) + os.pathsep + os.environ.get("PATH", ""))
    code, out, _dummy = run({"component": "helm"})
    assert code == 0, out["msg"]
    assert out["source"] == str(tmp_path / "helm")


def test_helm_broken_binary(run, tmp_path):
    binary = make_script(tmp_path, "helm", 'import sys\nsys.stderr.write("boom\\n")\nsys.exit(3)\n')
    code, out, _dummy = run({"component": "helm", "binary": binary})
    assert code == 1
    assert "cannot read the helm version" in out["msg"] and "boom" in out["msg"]


def test_binary_not_found(run):
    code, out, _dummy = run({"component": "minio", "binary": "/nonexistent/minio"})
    assert code == 1
    assert "minio binary /nonexistent/minio not found" in out["msg"]


@pytest.mark.parametrize(
    "first_line, rc, normalized, development",
    [
        (
            "minio version RELEASE.2025-09-07T16-13-09Z (commit-id=07c3a429bfed433e49018cb0f78a52145d4bedeb)",
            0,
            "RELEASE.2025-09-07T16-13-09Z",
            False,
        ),
        (
            "minio version DEVELOPMENT.2026-02-12T20-18-48Z (commit-id=0123456789ab)",
            0,
            "DEVELOPMENT.2026-02-12T20-18-48Z",
            True,
        ),
        (
            "minio version RELEASE.2024-12-18T13-15-44Z (commit-id=abc)",
            1,
            "RELEASE.2024-12-18T13-15-44Z",
            False,
        ),
    ],
)
def test_minio_probe(run, tmp_path, first_line, rc, normalized, development):
    body = f'import sys\nassert sys.argv[1:] == ["--version"]\nprint({first_line!r})\nprint("Runtime: go1.24.6 linux/amd64")\n'
    binary = make_script(tmp_path, "minio", body)
    code, out, _dummy = run(
        {
            "component": "minio",
            "binary": binary,
            "minimum": "RELEASE.2025-04-22T22-12-26Z",
        }
    )
    assert code == rc, out["msg"]
    assert out["version"] == normalized
    assert out["development_build"] is development
    assert out["raw"] == first_line.split()[2]


# ---------------------------------------------------------------------------
# OS: os-release files
# ---------------------------------------------------------------------------

OS_RELEASES = {
    "debian12": (
        'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\n'
        'VERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n'
    ),
    "sid": 'PRETTY_NAME="Debian GNU/Linux forky/sid"\nNAME="Debian GNU/Linux"\nVERSION_CODENAME=forky\nID=debian\n',
    "ubuntu2404": (
        'PRETTY_NAME="Ubuntu 24.04.3 LTS"\nNAME="Ubuntu"\nVERSION_ID="24.04"\nVERSION_CODENAME=noble\n'
        "ID=ubuntu\nID_LIKE=debian\n"
    ),
    "rocky9": 'NAME="Rocky Linux"\nVERSION_ID="9.4"\nID="rocky"\nPRETTY_NAME="Rocky Linux 9.4 (Blue Onyx)"\n',
}

OS_ALLOWED = ["debian:12", "debian:13", "ubuntu:22.04", "ubuntu:24.04"]


@pytest.mark.parametrize(
    "name, unversioned, rc, version, os_id, codename",
    [
        ("debian12", False, 0, "12", "debian", "bookworm"),
        ("ubuntu2404", False, 0, "24.04", "ubuntu", "noble"),
        ("sid", False, 1, "forky", "debian", "forky"),
        ("sid", True, 0, "forky", "debian", "forky"),
        ("rocky9", True, 1, "9.4", "rocky", ""),
    ],
)
def test_os_probe(run, tmp_path, monkeypatch, name, unversioned, rc, version, os_id, codename):
    path = tmp_path / "os-release"
    path.write_text(OS_RELEASES[name])
    monkeypatch.setattr(probes, "OS_RELEASE_PATHS", (str(tmp_path / "missing"), str(path)))
    code, out, _dummy = run(
        {
            "component": "os",
            "os_allowed": OS_ALLOWED,
            "os_allow_unversioned": unversioned,
            "policy_hint": "Set preflight_allowed_os.",
        }
    )
    assert code == rc, out["msg"]
    assert out["version"] == version
    assert out["os_id"] == os_id
    assert out["os_codename"] == codename
    assert out["source"] == str(path)
    assert out["os_pretty_name"]
    if rc:
        assert out["msg"].endswith("Set preflight_allowed_os.")


def test_os_probe_missing_file(run, tmp_path, monkeypatch):
    monkeypatch.setattr(probes, "OS_RELEASE_PATHS", (str(tmp_path / "missing"),))
    code, out, _dummy = run({"component": "os"})
    assert code == 1
    assert "cannot read os-release" in out["msg"]


def test_os_probe_real_host(run):
    if not os.path.exists("/etc/os-release") and not os.path.exists("/usr/lib/os-release"):
        pytest.skip("no os-release on this host")
    code, out, _dummy = run({"component": "os"})
    assert code in (0, 1)
    assert out["os_id"]


def test_fake_scripts_are_executable(tmp_path):
    path = make_script(tmp_path, "x", "pass\n")
    assert os.stat(path).st_mode & stat.S_IXUSR
