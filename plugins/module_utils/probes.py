# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Read-only probes that read the version of a running service or an installed binary.

Every probe returns the raw version string (plus some details) and raises
ProbeError with a message that never contains a secret.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import ssl
import tempfile

from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text
from ansible.module_utils.urls import open_url
from ansible_collections.onprem.wandb.plugins.module_utils.versions import mask_secrets

OS_RELEASE_PATHS = ("/etc/os-release", "/usr/lib/os-release")

C_LOCALE = {"LC_ALL": "C", "LANG": "C"}


class ProbeError(Exception):
    """A probe could not read a version; the message is safe to show."""


def _safe(exc, secrets):
    return mask_secrets(to_native(exc), secrets)


# ---------------------------------------------------------------------------
# Redis (RESP over a plain or TLS socket)
# ---------------------------------------------------------------------------


class RedisReplyError(Exception):
    """An error reply (``-ERR ...``) from the server."""


def resp_command(*args):
    """Encode a command as a RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = to_bytes(arg, errors="surrogate_or_strict")
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def _readline(stream):
    line = stream.readline(65536)
    if not line:
        raise ProbeError("connection closed by the server")
    if not line.endswith(b"\r\n"):
        raise ProbeError("malformed reply from the server")
    return line[:-2]


def read_resp(stream):
    """Read one RESP reply from a binary file-like object.

    Returns text for simple/bulk strings, an int for integers, a list for
    arrays and None for null replies. Error replies raise RedisReplyError.
    """
    line = _readline(stream)
    kind, payload = line[:1], line[1:]
    if kind == b"+":
        return to_text(payload, errors="surrogate_or_replace")
    if kind == b"-":
        raise RedisReplyError(to_text(payload, errors="surrogate_or_replace"))
    if kind == b":":
        return int(payload)
    if kind in (b"$", b"="):
        length = int(payload)
        if length < 0:
            return None
        data = stream.read(length + 2)
        if len(data) != length + 2:
            raise ProbeError("truncated reply from the server")
        return to_text(data[:-2], errors="surrogate_or_replace")
    if kind in (b"*", b"~", b">"):
        length = int(payload)
        if length < 0:
            return None
        return [read_resp(stream) for dummy in range(length)]
    if kind == b"_":
        return None
    raise ProbeError("unexpected reply from the server (not a Redis server?)")


def parse_info(text):
    """Parse the ``key:value`` lines of an INFO reply."""
    info = {}
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        key, value = line.split(":", 1)
        info[key] = value
    return info


def _ssl_context(ca_cert=None, validate_certs=True, client_cert=None, client_key=None):
    context = ssl.create_default_context(cafile=ca_cert) if ca_cert else ssl.create_default_context()
    if not validate_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if client_cert:
        context.load_cert_chain(client_cert, client_key)
    return context


def probe_redis(
    host="127.0.0.1",
    port=6379,
    password=None,
    user=None,
    tls=False,
    ca_cert=None,
    validate_certs=True,
    client_cert=None,
    client_key=None,
    timeout=5,
):
    """Return ``dict(raw=..., flavor=..., info=...)`` read with AUTH + ``INFO server``."""
    secrets = [password]
    where = f"{host}:{port}"
    sock = None
    try:
        sock = socket.create_connection((host, int(port)), timeout=timeout)
        if tls:
            context = _ssl_context(ca_cert, validate_certs, client_cert, client_key)
            sock = context.wrap_socket(sock, server_hostname=host)
        stream = sock.makefile("rb")
        try:
            if password:
                args = ("AUTH", user, password) if user else ("AUTH", password)
                sock.sendall(resp_command(*args))
                try:
                    read_resp(stream)
                except RedisReplyError as exc:
                    raise ProbeError(f"authentication to redis at {where} failed: {_safe(exc, secrets)}") from None
            sock.sendall(resp_command("INFO", "server"))
            try:
                reply = read_resp(stream)
            except RedisReplyError as exc:
                message = _safe(exc, secrets)
                if message.upper().startswith("NOAUTH"):
                    message += "; set login_password (and login_user for an ACL user)"
                raise ProbeError(f"redis at {where} refused INFO: {message}") from None
        finally:
            stream.close()
    except ProbeError:
        raise
    except ssl.SSLError as exc:
        raise ProbeError(f"TLS error talking to redis at {where}: {_safe(exc, secrets)}") from None
    except (TimeoutError, OSError, ValueError) as exc:
        raise ProbeError(f"cannot read the version of redis at {where}: {_safe(exc, secrets)}") from None
    finally:
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    if not isinstance(reply, str):
        raise ProbeError(f"unexpected INFO reply from redis at {where}")
    info = parse_info(reply)
    version = info.get("redis_version")
    if not version:
        raise ProbeError(f"redis at {where} did not report redis_version in INFO server")
    flavor = "valkey" if info.get("server_name", "").lower() == "valkey" or "valkey_version" in info else "redis"
    keep = (
        "redis_version",
        "valkey_version",
        "server_name",
        "redis_mode",
        "os",
        "arch_bits",
    )
    return {
        "raw": version,
        "flavor": flavor,
        "info": {k: info[k] for k in keep if k in info},
    }


# ---------------------------------------------------------------------------
# Kubernetes API server (/version)
# ---------------------------------------------------------------------------


def probe_kubernetes(
    api_url,
    api_key=None,
    ca_cert=None,
    validate_certs=True,
    client_cert=None,
    client_key=None,
    timeout=5,
):
    """GET ``{api_url}/version`` and return ``dict(raw=gitVersion, data=...)``."""
    secrets = [api_key]
    url = api_url.rstrip("/") + "/version"
    headers = {"Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    try:
        response = open_url(
            url,
            method="GET",
            headers=headers,
            validate_certs=validate_certs,
            ca_path=ca_cert,
            client_cert=client_cert,
            client_key=client_key,
            timeout=timeout,
            follow_redirects="safe",
            use_netrc=False,
        )
        body = response.read()
    except Exception as exc:  # noqa: BLE001 - HTTPError, URLError, SSLValidationError, socket errors...
        code = getattr(exc, "code", None)
        if code in (401, 403):
            detail = f"HTTP {code}; pass api_key (a token allowed to GET /version) or client_cert/client_key"
        elif code:
            detail = f"HTTP {code}"
        else:
            detail = _safe(getattr(exc, "reason", None) or exc, secrets)
        raise ProbeError(f"cannot read {url}: {mask_secrets(detail, secrets)}") from None
    try:
        data = json.loads(to_text(body, errors="surrogate_or_strict"))
    except ValueError:
        raise ProbeError(f"{url} did not return JSON (is api_url the Kubernetes API server?)") from None
    version = data.get("gitVersion") if isinstance(data, dict) else None
    if not version:
        raise ProbeError(f"{url} did not return gitVersion")
    return {"raw": version, "data": data}


# ---------------------------------------------------------------------------
# MySQL
# ---------------------------------------------------------------------------


def compose_mysql_version(version, aurora_version=None):
    """Combine VERSION() and @@aurora_version into ``8.0.mysql_aurora.3.05.2`` form."""
    version = (version or "").strip()
    if aurora_version:
        match = re.match(r"^(\d+\.\d+)", version)
        if match:
            return f"{match.group(1)}.mysql_aurora.{aurora_version.strip()}"
    return version


def probe_mysql_pymysql(pymysql, host=None, port=3306, user=None, password=None, unix_socket=None, timeout=5):
    """Read the version with PyMySQL (``pymysql`` is the imported module)."""
    secrets = [password]
    kwargs = {"port": int(port), "connect_timeout": timeout, "read_timeout": timeout}
    if unix_socket:
        kwargs["unix_socket"] = unix_socket
    if host:
        kwargs["host"] = host
    if user:
        kwargs["user"] = user
    if password:
        kwargs["password"] = password
    conn = None
    try:
        conn = pymysql.connect(**kwargs)
        cursor = conn.cursor()
        cursor.execute("SELECT VERSION()")
        version = cursor.fetchone()[0]
        cursor.execute("SHOW VARIABLES LIKE 'aurora_version'")
        row = cursor.fetchone()
        cursor.close()
    except Exception as exc:  # noqa: BLE001 - any driver error becomes a ProbeError with secrets masked
        raise ProbeError(f"cannot read the MySQL version: {_safe(exc, secrets)}") from None
    finally:
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()
    version = to_text(version)
    aurora = to_text(row[1]) if row else None
    return {
        "raw": compose_mysql_version(version, aurora),
        "server_version": version,
        "method": "pymysql",
    }


def _option_value(value):
    text = to_text(value)
    if "\n" in text or "\r" in text:
        raise ProbeError("MySQL option values cannot contain newlines")
    return '"{}"'.format(text.replace("\\", "\\\\").replace('"', '\\"'))


def mysql_defaults_file_content(host=None, port=3306, user=None, password=None, unix_socket=None):
    """Content of the temporary ``--defaults-extra-file`` holding the credentials."""
    lines = ["[client]"]
    if user:
        lines.append(f"user={_option_value(user)}")
    if password:
        lines.append(f"password={_option_value(password)}")
    if unix_socket:
        lines.append(f"socket={_option_value(unix_socket)}")
    if host:
        lines.append(f"host={_option_value(host)}")
    if port:
        lines.append(f"port={int(port)}")
    return "\n".join(lines) + "\n"


MYSQL_QUERY = "SELECT VERSION(); SHOW VARIABLES LIKE 'aurora_version'"


def probe_mysql_client(
    run_command,
    binary,
    host=None,
    port=3306,
    user=None,
    password=None,
    unix_socket=None,
    timeout=5,
    tmpdir=None,
):
    """Read the version with the ``mysql`` command line client.

    Credentials go through a 0600 ``--defaults-extra-file`` removed afterwards,
    never through the command line.
    """
    secrets = [password]
    fd, path = tempfile.mkstemp(prefix="wandb-mysql-", suffix=".cnf", dir=tmpdir)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(mysql_defaults_file_content(host, port, user, password, unix_socket))
        args = [
            binary,
            f"--defaults-extra-file={path}",
            "--batch",
            "--skip-column-names",
            f"--connect-timeout={int(timeout)}",
            "-e",
            MYSQL_QUERY,
        ]
        rc, out, err = run_command(args, environ_update=C_LOCALE)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
    if rc != 0:
        detail = (err or out or "").strip() or f"exit code {rc}"
        raise ProbeError(f"cannot read the MySQL version with {binary}: {_safe(detail, secrets)}")
    lines = [line for line in (out or "").splitlines() if line.strip()]
    if not lines:
        raise ProbeError(f"{binary} returned no version")
    version = lines[0].strip()
    aurora = None
    for line in lines[1:]:
        fields = line.split("\t")
        if len(fields) == 2 and fields[0].strip() == "aurora_version":
            aurora = fields[1].strip()
    return {
        "raw": compose_mysql_version(version, aurora),
        "server_version": version,
        "method": "client",
    }


# ---------------------------------------------------------------------------
# Binaries: helm, minio
# ---------------------------------------------------------------------------

_SEMVER_TOKEN_RE = re.compile(r"\bv?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?")


def probe_helm(run_command, binary):
    """``helm version --template '{{.Version}}'``, falling back to ``helm version --short``."""
    attempts = (
        [binary, "version", "--template", "{{.Version}}"],
        [binary, "version", "--short"],
    )
    last = ""
    for args in attempts:
        rc, out, err = run_command(args, environ_update=C_LOCALE)
        if rc == 0:
            match = _SEMVER_TOKEN_RE.search(out or "")
            if match:
                return {"raw": match.group(0), "output": (out or "").strip()}
            last = "unexpected output {!r}".format((out or "").strip()[:200])
        else:
            last = (err or out or "").strip()[:400] or f"exit code {rc}"
    raise ProbeError(f"cannot read the helm version with {binary}: {last}")


_MINIO_TOKEN_RE = re.compile(r"\b(?:RELEASE|DEVELOPMENT)\.\S+")


def probe_minio(run_command, binary):
    """``minio --version``; returns the RELEASE.* / DEVELOPMENT.* tag of the first line."""
    rc, out, err = run_command([binary, "--version"], environ_update=C_LOCALE)
    if rc != 0:
        detail = (err or out or "").strip()[:400] or f"exit code {rc}"
        raise ProbeError(f"cannot read the minio version with {binary}: {detail}")
    lines = [line.strip() for line in (out or "").splitlines() if line.strip()]
    first = lines[0] if lines else ""
    match = _MINIO_TOKEN_RE.search(first)
    if not match:
        raise ProbeError(f"unexpected output of {binary} --version: {first[:200]!r}")
    return {"raw": match.group(0), "output": first}


# ---------------------------------------------------------------------------
# OS
# ---------------------------------------------------------------------------


def read_os_release(paths=None):
    """Return ``(path, text)`` of the first readable os-release file."""
    errors = []
    for path in paths or OS_RELEASE_PATHS:
        try:
            with open(path) as handle:
                return path, handle.read()
        except OSError as exc:
            errors.append(f"{path}: {to_native(exc)}")
    raise ProbeError("cannot read os-release ({})".format("; ".join(errors)))
