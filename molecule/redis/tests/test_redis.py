# SPDX-License-Identifier: GPL-3.0-or-later
"""Redis for W&B: reached from another lab host the way W&B's pods reach it."""

import json
import os
import shlex
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from labtest import host, playbook  # noqa: E402

PLAIN = {"name": "redis1", "ip": "10.89.42.21", "port": 6379, "tls": False}
TLS = {"name": "redis2", "ip": "10.89.42.22", "port": 6380, "tls": True}
SERVERS = [PLAIN, TLS]
CA_ON_CLIENT = "/tmp/redis2-ca.pem"
EXPORT = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent")) / "export"


def secret(name, which="password"):
    return host(name).check_output(f"cat /etc/onprem-wandb/redis/{which}").strip()


def cli(server, *args, password=None, user=None):
    """Run redis-cli on the client host against SERVER; returns (rc, output)."""
    client = host("client")
    cmd = ["redis-cli", "--no-auth-warning", "-h", server["ip"], "-p", str(server["port"])]
    if server["tls"]:
        if not client.file(CA_ON_CLIENT).exists:
            ca = host(server["name"]).check_output("cat /etc/redis/tls/ca.crt")
            client.run(f"cat > {CA_ON_CLIENT} <<'PEM'\n{ca}\nPEM")
        cmd += ["--tls", "--cacert", CA_ON_CLIENT]
    if user:
        cmd += ["--user", user]
    if password:
        cmd += ["-a", password]
    res = client.run(shlex.join([*cmd, *args]) + " 2>&1")
    return res.rc, res.stdout.strip()


@pytest.mark.parametrize("server", SERVERS, ids=lambda s: s["name"])
def test_redis_7_from_the_mirror_runs_enabled(server):
    h = host(server["name"])
    suite = h.system_info.codename
    assert suite == ("trixie" if server["name"] == "redis2" else "bookworm")
    assert h.package("redis-server").version.split(":")[-1].startswith("7.")
    assert f"http://mirror.wandb-lab.internal/apt/{suite}" in h.check_output("apt-cache policy redis-server")
    svc = h.service("redis-server")
    assert svc.is_running and svc.is_enabled


def test_the_pinned_redis_7_is_held_on_debian_13():
    h = host("redis2")
    for pkg in ("redis-server", "redis-tools"):
        assert h.package(pkg).version == "5:7.0.15-1~deb12u7"
    assert h.check_output("apt-mark showhold").split() == ["redis-server", "redis-tools"]
    # Debian 13's own 8.0 is what apt would take otherwise.
    assert "Candidate: 5:8." in h.check_output("LANG=C apt-cache policy redis-server")
    assert host("redis1").check_output("apt-mark showhold") == ""


def test_debian_13s_redis_8_is_refused_before_anything_changes(tmp_path):
    # The client is a Debian 13 host with the mirror as its source and no Redis
    # server: the role, run there without a pin, finds 8.0 and refuses.
    play = tmp_path / "redis_on_client.yml"
    play.write_text("- hosts: client\n  gather_facts: true\n  roles: [onprem.wandb.redis]\n")
    res = playbook(playbook_path=str(play))
    out = res.stdout + res.stderr
    assert res.returncode != 0, out
    assert "redis_package_version" in out and "8.0.2" in out and "series" in out.lower(), out
    assert "changed=0" in out, out
    assert not host("client").package("redis-server").is_installed


@pytest.mark.parametrize("server", SERVERS, ids=lambda s: s["name"])
def test_unauthenticated_commands_are_refused(server):
    rc, out = cli(server, "set", "intruder", "1")
    assert "NOAUTH" in out, out
    rc, out = cli(server, "-a", "wrong-password-0000", "ping")
    assert "WRONGPASS" in out or "AUTH failed" in out, out


@pytest.mark.parametrize("server", SERVERS, ids=lambda s: s["name"])
def test_authenticated_queue_commands_work_from_another_host(server):
    pw = secret(server["name"])
    assert cli(server, "ping", password=pw)[1] == "PONG"
    cli(server, "del", "wandb-test-queue", password=pw)
    assert cli(server, "rpush", "wandb-test-queue", "job1", "job2", password=pw)[1] == "2"
    assert cli(server, "lpop", "wandb-test-queue", password=pw)[1] == "job1"
    assert cli(server, "set", "wandb-test-ttl", "x", "EX", "604800", password=pw)[1] == "OK"
    # INFO stays allowed: clients and the version check read it.
    assert "redis_version:7." in cli(server, "info", "server", password=pw)[1]


@pytest.mark.parametrize("server", SERVERS, ids=lambda s: s["name"])
@pytest.mark.parametrize(
    "command",
    [
        ["flushall"],
        ["flushdb"],
        ["config", "set", "appendonly", "no"],
        ["debug", "sleep", "0"],
        ["shutdown"],
        ["acl", "setuser", "x", "on"],
    ],
)
def test_dangerous_commands_are_denied_to_wandbs_user(server, command):
    rc, out = cli(server, *command, password=secret(server["name"]))
    # DEBUG is refused before the ACL is consulted (enable-debug-command no).
    assert "NOPERM" in out or "command not allowed" in out, out


@pytest.mark.parametrize("server", SERVERS, ids=lambda s: s["name"])
def test_config_values_as_set(server):
    admin = secret(server["name"], "admin_password")

    def get(name):
        return cli(server, "config", "get", name, user="admin", password=admin)[1].splitlines()[-1]

    assert get("maxmemory-policy") == "noeviction"
    assert get("appendonly") == "yes"
    assert get("appendfsync") == "everysec"
    assert get("protected-mode") == "yes"
    assert get("bind") == f"{server['ip']} 127.0.0.1"
    assert get("enable-debug-command") == "no"
    assert get("disable-thp") == "yes"
    if server["tls"]:
        assert get("port") == "0"
        assert get("tls-port") == "6380"
        assert get("maxmemory") == str(256 * 1024 * 1024)
    else:
        assert int(get("maxmemory")) > 0


def test_plain_port_is_closed_on_the_tls_host():
    res = host("client").run("redis-cli -h 10.89.42.22 -p 6379 ping 2>&1")
    assert "PONG" not in res.stdout
    assert not host("redis2").socket("tcp://0.0.0.0:6379").is_listening


def test_tls_rejects_an_untrusted_server_name_check():
    # The certificate names the advertised address; redis-cli verifies it.
    res = host("client").run(
        "redis-cli --tls --cacert /etc/ssl/certs/ca-certificates.crt -h 10.89.42.22 -p 6380 ping 2>&1"
    )
    assert "PONG" not in res.stdout


@pytest.mark.parametrize("server", SERVERS, ids=lambda s: s["name"])
def test_bound_to_the_lab_interface_and_loopback_only(server):
    h = host(server["name"])
    listening = h.check_output("ss -Hltn")
    assert f"{server['ip']}:{server['port']}" in listening
    assert f"0.0.0.0:{server['port']}" not in listening and f"*:{server['port']}" not in listening


@pytest.mark.parametrize("server", SERVERS, ids=lambda s: s["name"])
def test_data_survives_a_restart(server):
    pw = secret(server["name"])
    assert cli(server, "set", "wandb-test-durable", "kept", password=pw)[1] == "OK"
    host(server["name"]).run("systemctl restart redis-server")
    assert cli(server, "get", "wandb-test-durable", password=pw)[1] == "kept"
    assert host(server["name"]).file("/var/lib/redis/appendonlydir").is_directory


@pytest.mark.parametrize("server", SERVERS, ids=lambda s: s["name"])
def test_secrets_are_protected_and_not_in_clear_text_in_the_config(server):
    h = host(server["name"])
    pw = secret(server["name"])
    f = h.file("/etc/onprem-wandb/redis/password")
    assert f.user == "root" and f.mode == 0o600
    assert len(pw) >= 16
    for conf in ("/etc/redis/redis.conf", "/etc/redis/users.acl"):
        assert pw not in h.file(conf).content_string
    assert h.file("/etc/redis/users.acl").mode == 0o640


def test_given_password_is_used_and_generated_one_is_url_safe():
    assert secret("redis2") == (EXPORT.parent / "redis2_password").read_text().strip()
    assert secret("redis1").isalnum() and len(secret("redis1")) == 32


@pytest.mark.parametrize("server", SERVERS, ids=lambda s: s["name"])
def test_connection_string_for_wandb_on_the_controller(server):
    conn = EXPORT / server["name"] / "redis-connection"
    assert conn.stat().st_mode & 0o777 == 0o600
    expected = f"redis://:{secret(server['name'])}@{server['ip']}:{server['port']}?"
    if server["tls"]:
        expected += "tls=true&caCertPath=/etc/ssl/certs/redis_ca.pem&"
    expected += "ttlInSeconds=604800"
    assert conn.read_text().strip() == expected
    if server["tls"]:
        assert (EXPORT / "redis2" / "redis-ca.pem").read_text().strip() == host("redis2").check_output(
            "cat /etc/redis/tls/ca.crt"
        ).strip()


@pytest.mark.parametrize("server", SERVERS, ids=lambda s: s["name"])
def test_service_is_sandboxed(server):
    h = host(server["name"])
    props = h.check_output("systemctl show redis-server -p ProtectSystem -p NoNewPrivileges -p ReadWritePaths -p UMask")
    assert "ProtectSystem=strict" in props and "NoNewPrivileges=yes" in props
    assert "/etc/redis" not in props.split("ReadWritePaths=")[1].splitlines()[0]


def test_kernel_settings_are_left_to_the_container_host():
    assert not host("redis1").file("/etc/sysctl.d/60-onprem-wandb-redis.conf").exists


def test_bad_input_fails_naming_the_variable_and_changes_nothing():
    res = playbook(
        "--limit", "redis1", "-e", json.dumps({"redis_maxmemory": "lots"}), playbook_path="molecule/redis/role_only.yml"
    )
    out = res.stdout + res.stderr
    assert res.returncode != 0, out
    assert "redis_maxmemory" in out, out
    assert "changed=0" in out


def test_unsafe_password_fails_without_printing_it():
    bad = "p@ss/word:with#bad?chars"
    res = playbook(
        "--limit", "redis1", "-e", json.dumps({"redis_password": bad}), playbook_path="molecule/redis/role_only.yml"
    )
    out = res.stdout + res.stderr
    assert res.returncode != 0, out
    assert "redis_password" in out, out
    assert bad not in out
