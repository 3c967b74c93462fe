# SPDX-License-Identifier: GPL-3.0-or-later
"""Promotion of the MySQL pair with writes running.

The tests run in file order and build on each other: refusals first (nothing
may change), then a switchover under a write load, a rerun of the role with the
now stale inventory, a failover after the primary's server is killed, the
rejoin of the old primary as the standby, and a failover of a primary whose host
is unreachable. The floating writer address is checked after each promotion."""

import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from labtest import PREFIX, host, playbook  # noqa: E402
from mysqltest import replica_status, rows, sql  # noqa: E402

IP = {"mysql1": "10.89.45.11", "mysql2": "10.89.45.12"}
VIP = "10.89.45.100"  # mysql_vip_address in host_vars
CA = "/etc/mysql/onprem-wandb-tls/ca.crt"
RERUN = "molecule/mysql_failover/rerun.yml"
SWITCHOVER = "playbooks/mysql_switchover.yml"
FAILOVER = "playbooks/mysql_failover.yml"
WRITER_HOST = "mysql1"  # the writer's client runs here; its server may be down
WRITER_DIR = "/tmp/writer"

# A client that keeps inserting numbered rows, one connection per row, into
# whichever server takes them: on an error it retries the same row on the
# other server (what W&B does through an endpoint that follows the primary).
# A row counts as committed only once a server acknowledged it (a duplicate
# key on a retry means an earlier attempt committed).
WRITER = r"""#!/bin/bash
set -u
dir=$1; shift
hosts=("$@"); cur=0; i=0
export MYSQL_PWD="$(cat "$dir/password")"
: > "$dir/ok"; : > "$dir/err"
while [ ! -e "$dir/stop" ]; do
  i=$((i + 1))
  while [ ! -e "$dir/stop" ]; do
    h=${hosts[$cur]}
    out=$(mysql -u wandb -h "$h" --protocol=TCP --connect-timeout=2 -N -B \
          -e "INSERT INTO wandb_local.writes (id, host) VALUES ($i, '$h')" 2>&1)
    rc=$?
    if [ $rc -eq 0 ] || [[ $out == *"Duplicate entry"* ]]; then
      echo "$i $(date +%s.%N) $h" >> "$dir/ok"
      break
    fi
    echo "$i $(date +%s.%N) $h ${out//$'\n'/ }" >> "$dir/err"
    cur=$((1 - cur))
    sleep 0.05
  done
done
touch "$dir/stopped"
"""

MEASURED = {}


def variable(name, var):
    return rows(name, f"SELECT @@GLOBAL.{var}")[0][0]


def assert_standby_of(standby, primary):
    for _attempt in range(30):
        status = replica_status(standby)
        if status.get("Replica_IO_Running") == "Yes" and status.get("Replica_SQL_Running") == "Yes":
            break
        time.sleep(1)
    assert status.get("Source_Host") == IP[primary], status
    assert status["Replica_IO_Running"] == "Yes" and status["Replica_SQL_Running"] == "Yes", status
    assert status["Auto_Position"] == "1", status
    assert variable(standby, "super_read_only") == "1"
    res = sql(standby, "INSERT INTO wandb_local.writes (id, host) VALUES (-1, 'refused')")
    assert res.rc != 0 and "super-read-only" in res.stderr, res.stderr


def assert_primary(name):
    assert variable(name, "read_only") == "0"
    assert variable(name, "super_read_only") == "0"
    assert replica_status(name) == {}


def state_snapshot():
    """What a refused operation must not change."""
    return {
        name: (
            variable(name, "read_only"),
            variable(name, "super_read_only"),
            replica_status(name).get("Source_Host"),
            host(name).check_output("md5sum /etc/mysql/mysql.conf.d/zz-onprem-wandb.cnf"),
        )
        for name in IP
    }


def start_writer():
    w = host(WRITER_HOST)
    w.run(f"rm -rf {WRITER_DIR} && mkdir -p {WRITER_DIR}")
    primary = next(name for name in IP if variable(name, "read_only") == "0")
    password = host(primary).check_output("cat /etc/mysql/onprem-wandb/wandb_password").strip()
    w.run(f"umask 077 && printf %s {shlex.quote(password)} > {WRITER_DIR}/password")
    w.run(f"cat > {WRITER_DIR}/writer.sh <<'EOF'\n{WRITER}EOF")
    # Start on the live primary: the first target is the first address.
    targets = [IP[primary]] + [ip for name, ip in IP.items() if name != primary]
    res = w.run(
        f"setsid nohup bash {WRITER_DIR}/writer.sh {WRITER_DIR} {' '.join(targets)} </dev/null >/dev/null 2>&1 &"
    )
    assert res.rc == 0, res.stderr


def committed():
    """(id, time, host) of every acknowledged row, in order."""
    out = host(WRITER_HOST).check_output(f"cat {WRITER_DIR}/ok")
    return [(int(i), float(t), h) for i, t, h in (line.split() for line in out.splitlines())]


def wait_for_writes(count, on_host=None, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        done = [r for r in committed() if on_host is None or r[2] == IP[on_host]]
        if len(done) >= count:
            return
        time.sleep(1)
    err = host(WRITER_HOST).run(f"tail -5 {WRITER_DIR}/err").stdout
    pytest.fail(f"the writer did not commit {count} rows on {on_host or 'any server'}: {err}")


def stop_writer():
    w = host(WRITER_HOST)
    w.run(f"touch {WRITER_DIR}/stop")
    for _attempt in range(30):
        if w.file(f"{WRITER_DIR}/stopped").exists:
            break
        time.sleep(0.5)
    return committed()


def longest_gap(done):
    """Longest time between two acknowledged rows: how long writes were blocked."""
    times = [t for _i, t, _h in done]
    return max((b - a for a, b in zip(times, times[1:], strict=False)), default=0.0)


def assert_all_present(done, name):
    ids = {i for i, _t, _h in done}
    present = {int(r[0]) for r in rows(name, "SELECT id FROM wandb_local.writes")}
    missing = sorted(ids - present)
    assert not missing, f"{len(missing)} committed rows missing on {name}: {missing[:20]}"


def write_and_replicate(primary, standby, row_id, note):
    """Write row ROW_ID on PRIMARY and wait until STANDBY has it."""
    res = sql(primary, f"INSERT INTO wandb_local.writes (id, host) VALUES ({row_id}, '{note}')")
    assert res.rc == 0, res.stderr
    for _attempt in range(20):
        if rows(standby, f"SELECT host FROM wandb_local.writes WHERE id = {row_id}") == [[note]]:
            return
        time.sleep(0.5)
    pytest.fail(f"row {row_id} written on {primary} did not reach {standby}")


def running(name):
    res = subprocess.run(
        ["podman", "inspect", "-f", "{{.State.Running}}", f"{PREFIX}-{name}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return res.stdout.strip() == "true"


def assert_vip_on(primary, timeout=60, client=None):
    """The floating address answers on PRIMARY: asked from CLIENT (default the other host) as
    W&B's user, over TLS that verifies the pair's CA and the VIP's name in the certificate; of the
    running hosts only PRIMARY holds it. Returns the seconds it took to get there."""
    client = client or next(name for name in IP if name != primary)
    password = host(client).check_output("cat /etc/mysql/onprem-wandb/wandb_password").strip()
    query = "SELECT @@GLOBAL.report_host, @@GLOBAL.read_only"
    cmd = (
        f"MYSQL_PWD={shlex.quote(password)} mysql -u wandb -h {VIP} --protocol=TCP --connect-timeout=2 "
        f"--ssl-mode=VERIFY_IDENTITY --ssl-ca={CA} -N -B -e {shlex.quote(query)}"
    )
    started = time.time()
    while True:
        res = host(client).run(cmd)
        if res.rc == 0 and res.stdout.split() == [IP[primary], "0"]:
            break
        if time.time() - started > timeout:
            pytest.fail(f"the VIP {VIP} did not answer on {primary} within {timeout} s: {res.stdout} {res.stderr}")
        time.sleep(1)
    took = time.time() - started
    holders = [name for name in IP if running(name) and f" {VIP}/" in host(name).check_output("ip -4 -o addr show")]
    assert holders == [primary], holders
    return took


def run(path, *args):
    started = time.time()
    res = playbook(*args, playbook_path=path)
    # Messages may be folded over lines by the YAML output: match on words.
    out = " ".join((res.stdout + res.stderr).replace("\\\n", "").split())
    return res, out, time.time() - started


def test_the_pair_starts_healthy():
    assert_primary("mysql1")
    assert_standby_of("mysql2", "mysql1")
    password = host("mysql1").check_output("cat /etc/mysql/onprem-wandb/wandb_password").strip()
    # The standby keeps a copy of the generated password for its promotion.
    assert host("mysql2").check_output("cat /etc/mysql/onprem-wandb/wandb_password").strip() == password
    assert_vip_on("mysql1")
    res = sql(
        "mysql1",
        "DROP TABLE IF EXISTS wandb_local.writes; CREATE TABLE wandb_local.writes (id INT PRIMARY KEY, host VARCHAR(32))",
    )
    assert res.rc == 0, res.stderr


def test_switchover_refuses_an_unhealthy_standby():
    assert sql("mysql2", "STOP REPLICA SQL_THREAD").rc == 0
    try:
        before = state_snapshot()
        res, out, _t = run(SWITCHOVER)
        assert res.returncode != 0, out
        assert "is not healthy enough to take over" in out and "SQL thread No" in out, out
        assert "Nothing was changed" in out, out
        assert state_snapshot() == before
    finally:
        assert sql("mysql2", "START REPLICA SQL_THREAD").rc == 0
    assert_standby_of("mysql2", "mysql1")


def test_switchover_refuses_a_target_that_is_not_the_standby():
    before = state_snapshot()
    res, out, _t = run(SWITCHOVER, "-e", "mysql_switchover_to=mysql1")
    assert res.returncode != 0, out
    assert "mysql_switchover_to=mysql1 is not the live standby" in out, out
    assert state_snapshot() == before


def test_failover_refuses_while_the_primary_is_alive():
    before = state_snapshot()
    res, out, _t = run(FAILOVER)
    assert res.returncode != 0, out
    assert "A writable server is up: mysql1" in out, out
    assert state_snapshot() == before


def test_switchover_under_writes_loses_nothing():
    start_writer()
    try:
        wait_for_writes(30)
        res, out, took = run(SWITCHOVER)
        assert res.returncode == 0, out
        wait_for_writes(30, on_host="mysql2")
    finally:
        done = stop_writer()
    blocked = re.search(r"Writes were refused for ([0-9.]+) s", out)
    assert blocked, out
    MEASURED["switchover playbook (s)"] = round(took, 1)
    MEASURED["switchover writes refused, playbook (s)"] = float(blocked.group(1))
    MEASURED["switchover writes blocked, writer (s)"] = round(longest_gap(done), 2)
    MEASURED["switchover rows committed"] = len(done)
    assert_primary("mysql2")
    MEASURED["switchover VIP on the new primary after the playbook (s)"] = round(assert_vip_on("mysql2"), 1)
    assert_all_present(done, "mysql2")
    assert_standby_of("mysql1", "mysql2")
    # The old primary has every row too, through replication from the new one.
    for _attempt in range(30):
        if rows("mysql1", "SELECT COUNT(*) FROM wandb_local.writes") == rows(
            "mysql2", "SELECT COUNT(*) FROM wandb_local.writes"
        ):
            break
        time.sleep(1)
    assert_all_present(done, "mysql1")
    # The writer saw the primary refuse writes and moved on.
    assert host(WRITER_HOST).run(f"grep -c read-only {WRITER_DIR}/err").stdout.strip() != "0"
    status = dict(rows("mysql2", "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_source_%'"))
    assert status["Rpl_semi_sync_source_status"] == "ON", status
    print(f"\nMEASURED {MEASURED}")


def test_role_rerun_follows_the_live_roles_and_changes_nothing():
    # Backups are another scenario's concern: everything else of the role runs.
    res, out, took = run(RERUN, "--tags", "mysql_install,mysql_configure,mysql_replication")
    assert res.returncode == 0, out
    MEASURED["role rerun after switchover (s)"] = round(took, 1)
    assert "the inventory is out of date. mysql2 is the live primary" in out, out
    recap = re.findall(r"(mysql[12]) : ok=\d+ changed=(\d+)", out)
    assert len(recap) == 2 and all(c == "0" for _h, c in recap), recap
    assert_primary("mysql2")
    assert_standby_of("mysql1", "mysql2")
    assert "super_read_only = OFF" in host("mysql2").check_output("cat /etc/mysql/mysql.conf.d/zz-onprem-wandb.cnf")


def test_failover_after_the_primary_dies_loses_nothing():
    start_writer()
    try:
        wait_for_writes(30)
        killed = time.time()
        # A crash: mysqld killed outright, and kept down (systemd would restart it).
        res = host("mysql2").run("kill -9 $(pidof mysqld); systemctl stop mysql")
        assert res.rc == 0, res.stderr
        res, out, took = run(FAILOVER)
        assert res.returncode == 0, out
        wait_for_writes(30, on_host="mysql1")
    finally:
        done = stop_writer()
    first_on_new = min(t for _i, t, h in done if h == IP["mysql1"])
    MEASURED["failover playbook (s)"] = round(took, 1)
    MEASURED["failover writes blocked, kill to first write (s)"] = round(first_on_new - killed, 1)
    assert_primary("mysql1")
    MEASURED["failover VIP on the new primary after the playbook (s)"] = round(assert_vip_on("mysql1"), 1)
    assert_all_present(done, "mysql1")
    old = host("mysql2")
    assert old.run("systemctl is-enabled mysql").stdout.strip() == "masked"
    assert not old.service("mysql").is_running
    assert old.file("/etc/mysql/onprem-wandb/fenced").exists
    assert "super_read_only = ON" in old.check_output("cat /etc/mysql/mysql.conf.d/zz-onprem-wandb.cnf")
    assert "mysql_rejoin=mysql2" in out, out
    print(f"\nMEASURED {MEASURED}")


def test_role_refuses_the_fenced_host():
    res, out, _t = run(RERUN, "--limit", "mysql2")
    assert res.returncode != 0, out
    assert "mysql2 was fenced by playbooks/mysql_failover.yml" in out, out
    assert host("mysql2").run("systemctl is-enabled mysql").stdout.strip() == "masked"


def test_rejoin_brings_the_old_primary_back_as_standby():
    res, out, took = run(FAILOVER, "-e", "mysql_rejoin=mysql2")
    assert res.returncode == 0, out
    MEASURED["rejoin playbook (s)"] = round(took, 1)
    assert "mysql2 is now the standby of mysql1" in out, out
    assert_standby_of("mysql2", "mysql1")
    assert_vip_on("mysql1")
    assert not host("mysql2").file("/etc/mysql/onprem-wandb/fenced").exists
    assert host("mysql2").run("systemctl is-enabled mysql").stdout.strip() == "enabled"
    write_and_replicate("mysql1", "mysql2", 1000000, "after-rejoin")
    status = dict(rows("mysql1", "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_source_status'"))
    assert status["Rpl_semi_sync_source_status"] == "ON", status
    print(f"\nMEASURED {MEASURED}")


def test_failover_of_an_unreachable_primary_needs_confirmation(tmp_path):
    """The primary's whole host goes down: Ansible cannot reach it, so nothing can prove it is not
    still taking writes. The playbook refuses until the operator confirms, then promotes."""
    write_and_replicate("mysql1", "mysql2", 2000000, "before-outage")
    # At a site Ansible reaches mysql1 over SSH; once the host is down that connection fails as
    # unreachable. Here: an inventory source that says so, and the host actually stopped.
    unreachable = tmp_path / "unreachable.yml"
    unreachable.write_text(
        "all:\n  hosts:\n    mysql1:\n      ansible_connection: ssh\n"
        f"      ansible_host: {IP['mysql1']}\n      ansible_user: root\n"
        "      ansible_ssh_common_args: -o ConnectTimeout=5 -o StrictHostKeyChecking=no -o BatchMode=yes\n"
    )
    subprocess.run(["podman", "stop", "-t", "10", f"{PREFIX}-mysql1"], check=True, capture_output=True)
    res, out, _t = run(FAILOVER, "-i", str(unreachable))
    assert res.returncode != 0, out
    assert "mysql1 does not answer to Ansible" in out and "mysql_failover_confirm=true" in out, out
    assert variable("mysql2", "super_read_only") == "1"
    res, out, took = run(FAILOVER, "-i", str(unreachable), "-e", "mysql_failover_confirm=true")
    assert res.returncode == 0, out
    MEASURED["failover of an unreachable primary, playbook (s)"] = round(took, 1)
    assert_primary("mysql2")
    assert rows("mysql2", "SELECT host FROM wandb_local.writes WHERE id = 2000000") == [["before-outage"]]
    assert_vip_on("mysql2", client="mysql2")
    assert "mysql_rejoin=mysql1" in out, out
    print(f"\nMEASURED {MEASURED}")
