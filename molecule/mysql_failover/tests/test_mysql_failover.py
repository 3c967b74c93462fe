# SPDX-License-Identifier: GPL-3.0-or-later
"""Promotion of the MySQL pair with writes running.

The pair goes through one sequence of stages: converged; the refusals (nothing may change); a
switchover under a write load; a rerun of the role with the now stale inventory; a failover after
the primary's server is killed; the role refusing the fenced host; the rejoin of the old primary as
the standby; a failover of a primary whose host is unreachable. Each stage is a module fixture that
depends on the stage before it, runs it, and records what it produced: the playbook's JSON result
and the servers' state at that moment. Tests only assert on those records, so they do not depend on
their order or selection: `pytest -k rejoin` builds every stage up to the rejoin, in order.
Host names, addresses and the floating address come from the scenario's inventory."""

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from labtest import PREFIX, Inventory, host, known_secrets, leaked_secrets, playbook, put_file, run_playbook  # noqa: E402
from mysqltest import replica_status, rows, sql  # noqa: E402

INVENTORY = Inventory()
PAIR = INVENTORY.hosts("wandb_mysql")
IP = {name: INVENTORY.address(name) for name in PAIR}
VIP = INVENTORY.var(PAIR[0], "mysql_vip_address")
INVENTORY_PRIMARY = next(n for n in PAIR if INVENTORY.var(n, "mysql_role") == "primary")
CA = "/etc/mysql/onprem-wandb-tls/ca.crt"
CNF = "/etc/mysql/mysql.conf.d/zz-onprem-wandb.cnf"
SECRETS = "/etc/mysql/onprem-wandb"
CLIENT_CNF = "/root/.wandb-client.cnf"  # W&B's login for the test clients, root only
# This scenario's own rerun playbook: next to it are the scenario's host_vars, which Ansible
# reads for that playbook.
RERUN = str(Path(__file__).resolve().parents[1] / "rerun.yml")
SWITCHOVER = "playbooks/mysql_switchover.yml"
FAILOVER = "playbooks/mysql_failover.yml"
# The background writer (W&B's writes): molecule/shared/writer.sh.
WRITER = (Path(__file__).resolve().parents[2] / "shared" / "writer.sh").read_text()
# How long writers were blocked is measured and printed (MEASURED lines in the output), never
# asserted: on a loaded machine a timed test is flaky. The targets and their ratios against a
# baseline are benchmarks/site.py's.
MEASURED = {}


def print_measured():
    """Print the figures measured so far, with the machine's load at that moment."""
    print(f"\nMEASURED {MEASURED} load average {os.getloadavg()[0]:.1f}")


# --- Reading the servers ------------------------------------------------------


def other(name):
    return next(n for n in PAIR if n != name)


def running(name):
    """Whether the host (its container) runs."""
    res = subprocess.run(
        ["podman", "inspect", "-f", "{{.State.Running}}", f"{PREFIX}-{name}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return res.stdout.strip() == "true"


def server(name):
    """One server's live state, or {"answering": False}."""
    if not running(name):
        return {"answering": False, "host_running": False}
    res = sql(name, "SELECT @@GLOBAL.read_only, @@GLOBAL.super_read_only")
    if res.rc != 0:
        return {"answering": False, "host_running": True}
    read_only, super_read_only = res.stdout.split()
    status = replica_status(name)
    return {
        "answering": True,
        "read_only": read_only,
        "super_read_only": super_read_only,
        "source": status.get("Source_Host"),
        "io": status.get("Replica_IO_Running"),
        "sql": status.get("Replica_SQL_Running"),
        "auto_position": status.get("Auto_Position"),
    }


def host_files(name):
    """The role's managed configuration, the unit state and the fence marker of NAME."""
    h = host(name)
    return {
        "cnf": h.check_output(f"cat {CNF}"),
        "enabled": h.run("systemctl is-enabled mysql").stdout.strip(),
        "fenced": h.file(f"{SECRETS}/fenced").exists,
    }


def snapshot():
    """What a refused operation must not change."""
    return {
        name: (server(name), host(name).check_output(f"md5sum {CNF}"), host(name).file(f"{SECRETS}/fenced").exists)
        for name in PAIR
    }


def wait_standby(standby, timeout=60):
    """The standby's state once both replication threads run (or TIMEOUT passed)."""
    deadline = time.time() + timeout
    while True:
        state = server(standby)
        if state.get("io") == "Yes" and state.get("sql") == "Yes" or time.time() > deadline:
            return state
        time.sleep(1)


def refuses_writes(name):
    res = sql(name, "INSERT INTO wandb_local.writes (id, host) VALUES (-1, 'refused')")
    return res.rc != 0 and "super-read-only" in res.stderr


def semi_sync_source(name):
    return dict(rows(name, "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_source_status'"))["Rpl_semi_sync_source_status"]


def client_login(name):
    """W&B's login, from the host's copy of the generated password, in a root-only option file."""
    res = host(name).run(
        f"umask 077 && {{ printf '[client]\\nuser=wandb\\npassword='; cat {SECRETS}/wandb_password; }} > {CLIENT_CNF}"
    )
    assert res.rc == 0, res.stderr


def vip(primary, client, timeout=60):
    """Ask the floating address from CLIENT as W&B's user, over TLS that verifies the pair's CA and the
    VIP's name, until PRIMARY answers as the writable server; which running hosts hold it; how long."""
    client_login(client)
    query = "SELECT @@GLOBAL.report_host, @@GLOBAL.read_only"
    cmd = (
        f"mysql --defaults-extra-file={CLIENT_CNF} -h {VIP} --protocol=TCP --connect-timeout=2 "
        f"--ssl-mode=VERIFY_IDENTITY --ssl-ca={CA} -N -B -e {shlex.quote(query)}"
    )
    started = time.time()
    while True:
        res = host(client).run(cmd)
        answer = res.stdout.split() if res.rc == 0 else []
        if answer == [IP[primary], "0"] or time.time() - started > timeout:
            break
        time.sleep(1)
    holders = [n for n in PAIR if running(n) and f" {VIP}/" in host(n).check_output("ip -4 -o addr show")]
    return {"answer": answer, "holders": holders, "seconds": round(time.time() - started, 1), "error": res.stderr}


# --- The write load --------------------------------------------------------------


class Writer:
    """molecule/shared/writer.sh on host CLIENT into TABLE, through TARGETS (addresses)."""

    def __init__(self, client, table, targets, name):
        self.client, self.table, self.targets = client, table, targets
        self.dir = f"/tmp/writer-{name}"

    def start(self):
        w = host(self.client)
        client_login(self.client)
        w.run(f"rm -rf {self.dir} && mkdir -p {self.dir}")
        put_file(self.client, f"{self.dir}/writer.sh", WRITER, mode="0700")
        res = w.run(
            # From the host's own address: the client stands for W&B, which runs on other hosts.
            f"WRITER_BIND={IP[self.client]} setsid nohup bash {self.dir}/writer.sh {self.dir} {self.table}"
            f" {' '.join(self.targets)}"
            " </dev/null >/dev/null 2>&1 &"
        )
        assert res.rc == 0, res.stderr
        return self

    def committed(self):
        """(id, time, target) of every acknowledged row, in order."""
        out = host(self.client).check_output(f"cat {self.dir}/ok")
        return [(int(i), float(t), h) for i, t, h in (line.split() for line in out.splitlines())]

    def wait(self, count, after=0.0, timeout=120):
        """Until COUNT rows committed after the time AFTER."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if len([r for r in self.committed() if r[1] > after]) >= count:
                return
            time.sleep(1)
        err = host(self.client).run(f"tail -5 {self.dir}/err").stdout
        pytest.fail(f"the writer did not commit {count} rows through {self.targets}: {err}")

    def stop(self):
        w = host(self.client)
        w.run(f"touch {self.dir}/stop")
        for _attempt in range(30):
            if w.file(f"{self.dir}/stopped").exists:
                break
            time.sleep(0.5)
        return self.committed()

    def errors(self, phrase):
        return int(host(self.client).run(f"grep -c {shlex.quote(phrase)} {self.dir}/err").stdout.strip() or 0)

    def missing(self, done, name):
        """Acknowledged rows that server NAME does not have."""
        ids = {int(r[0]) for r in rows(name, f"SELECT id FROM {self.table}")}
        return sorted({i for i, _t, _h in done} - ids)


def longest_gap(done):
    """Longest time between two acknowledged rows: how long writes were blocked."""
    times = [t for _i, t, _h in done]
    return max((b - a for a, b in zip(times, times[1:], strict=False)), default=0.0)


def write_and_replicate(primary, standby, row_id, note):
    """Write row ROW_ID on PRIMARY; whether STANDBY has it within 10 s."""
    res = sql(primary, f"INSERT INTO wandb_local.writes (id, host) VALUES ({row_id}, '{note}')")
    assert res.rc == 0, res.stderr
    for _attempt in range(20):
        if rows(standby, f"SELECT host FROM wandb_local.writes WHERE id = {row_id}") == [[note]]:
            return True
        time.sleep(0.5)
    return False


# --- The stages, in their one order ------------------------------------------------


@pytest.fixture(scope="module")
def converged():
    """The pair as site.yml left it, and the tables the writers fill (one per writer and stage)."""
    primary, standby = INVENTORY_PRIMARY, other(INVENTORY_PRIMARY)
    res = sql(
        primary,
        "; ".join(
            f"DROP TABLE IF EXISTS wandb_local.{t}; CREATE TABLE wandb_local.{t} (id INT PRIMARY KEY, host VARCHAR(32))"
            for t in ("writes", "writes_direct", "writes_failover")
        ),
    )
    assert res.rc == 0, res.stderr
    return {
        "primary": primary,
        "standby": standby,
        "servers": {primary: server(primary), standby: wait_standby(standby)},
        "table_replicated": write_and_replicate(primary, standby, 0, "converged"),
        "passwords": {n: host(n).check_output(f"cat {SECRETS}/wandb_password").strip() for n in PAIR},
        "standby_refuses_writes": refuses_writes(standby),
        "vip": vip(primary, client=standby),
    }


@pytest.fixture(scope="module")
def refusals(converged):
    """Three requests each playbook must refuse while changing nothing."""
    primary, standby = converged["primary"], converged["standby"]
    out = {}
    assert sql(standby, "STOP REPLICA SQL_THREAD").rc == 0
    try:
        before = snapshot()
        out["unhealthy standby"] = (run_playbook(playbook_path=SWITCHOVER), before, snapshot())
    finally:
        assert sql(standby, "START REPLICA SQL_THREAD").rc == 0
    out["standby after the refusal"] = wait_standby(standby)
    before = snapshot()
    out["wrong target"] = (
        run_playbook("-e", f"mysql_switchover_to={primary}", playbook_path=SWITCHOVER),
        before,
        snapshot(),
    )
    before = snapshot()
    out["primary alive"] = (run_playbook(playbook_path=FAILOVER), before, snapshot())
    return out


@pytest.fixture(scope="module")
def switched_over(refusals, converged):
    """A switchover while two clients write: one through the floating address (as W&B does), one
    to the servers' own addresses (retrying on the other one), which sees MySQL's own gap."""
    old, new = converged["primary"], converged["standby"]
    through_vip = Writer(old, "wandb_local.writes", [VIP], "vip").start()
    direct = Writer(old, "wandb_local.writes_direct", [IP[old], IP[new]], "direct").start()
    try:
        through_vip.wait(30)
        direct.wait(30)
        started = time.time()
        run = run_playbook(playbook_path=SWITCHOVER)
        if run.rc == 0:
            through_vip.wait(30, after=time.time())
            direct.wait(30, after=time.time())
    finally:
        done = {"vip": through_vip.stop(), "direct": direct.stop()}
    assert run.rc == 0, run
    standby = wait_standby(old)
    for _attempt in range(30):  # the old primary replays every row from the new one
        if not any(w.missing(done[k], old) for k, w in (("vip", through_vip), ("direct", direct))):
            break
        time.sleep(1)
    return {
        "old": old,
        "new": new,
        "run": run,
        "started": started,
        "done": done,
        "servers": {new: server(new), old: standby},
        "old_refuses_writes": refuses_writes(old),
        "missing": {(k, n): w.missing(done[k], n) for k, w in (("vip", through_vip), ("direct", direct)) for n in PAIR},
        "read_only_errors": through_vip.errors("read-only") + direct.errors("read-only"),
        "semi_sync": semi_sync_source(new),
        "vip": vip(new, client=old),
    }


@pytest.fixture(scope="module")
def rerun(switched_over):
    """The role alone on the pair, with the inventory still naming the old primary."""
    new, old = switched_over["new"], switched_over["old"]
    # Backups are another scenario's concern: everything else of the role runs.
    run = run_playbook("--tags", "mysql_install,mysql_configure,mysql_replication", playbook_path=RERUN)
    return {
        "new": new,
        "old": old,
        "run": run,
        "servers": {new: server(new), old: wait_standby(old)},
        "files": {n: host_files(n) for n in PAIR},
    }


@pytest.fixture(scope="module")
def failed_over(rerun):
    """The primary's server killed while a client writes through the floating address; the failover
    playbook promotes the standby."""
    dead, new = rerun["new"], rerun["old"]
    writer = Writer(new, "wandb_local.writes_failover", [VIP], "failover").start()
    try:
        writer.wait(30)
        killed = time.time()
        # A crash: mysqld killed outright, and kept down (systemd would restart it).
        res = host(dead).run("kill -9 $(pidof mysqld); systemctl stop mysql")
        assert res.rc == 0, res.stderr
        # Rows acknowledged before this came from the old primary in its last moments.
        dead_for_sure = time.time()
        run = run_playbook(playbook_path=FAILOVER)
        if run.rc == 0:
            writer.wait(30, after=time.time())
    finally:
        done = writer.stop()
    assert run.rc == 0, run
    return {
        "dead": dead,
        "new": new,
        "run": run,
        "killed": killed,
        "dead_for_sure": dead_for_sure,
        "done": done,
        "servers": {new: server(new), dead: server(dead)},
        "missing": writer.missing(done, new),
        "files": {dead: host_files(dead)},
        "mysqld_running": host(dead).service("mysql").is_running,
        "vip": vip(new, client=dead),
    }


@pytest.fixture(scope="module")
def fenced_refusal(failed_over):
    """The role run on the fenced host alone."""
    fenced = failed_over["dead"]
    run = run_playbook("--limit", fenced, playbook_path=RERUN)
    return {"fenced": fenced, "run": run, "files": host_files(fenced)}


@pytest.fixture(scope="module")
def rejoined(fenced_refusal, failed_over):
    """The old primary brought back as the standby."""
    old, primary = fenced_refusal["fenced"], failed_over["new"]
    run = run_playbook("-e", f"mysql_rejoin={old}", playbook_path=FAILOVER)
    return {
        "old": old,
        "primary": primary,
        "run": run,
        "servers": {primary: server(primary), old: wait_standby(old)},
        "old_refuses_writes": refuses_writes(old),
        "files": {old: host_files(old)},
        "vip": vip(primary, client=old),
        "replicates": write_and_replicate(primary, old, 1000000, "after-rejoin"),
        "semi_sync": semi_sync_source(primary),
    }


@pytest.fixture(scope="module")
def switched_back(rejoined):
    """A second switchover, back to the first primary, run with -vvv: every command Ansible runs
    on a host and every result without no_log is shown, and none of the passwords the module
    holds (promotion, replication) nor any other secret may be."""
    primary, standby = rejoined["primary"], rejoined["old"]
    secrets = known_secrets(PAIR)
    res = playbook("-vvv", playbook_path=SWITCHOVER)
    out = res.stdout + res.stderr
    return {
        "primary": standby,
        "standby": primary,
        "rc": res.returncode,
        "tail": out[-3000:],
        "shown_commands": bool(re.search(r"^<[\w.-]+> SSH: EXEC", out, re.M)),
        "secrets": secrets,
        "leaks": leaked_secrets(out, secrets),
        "servers": {standby: server(standby), primary: wait_standby(primary)},
    }


@pytest.fixture(scope="module")
def unreachable_failover(switched_back, tmp_path_factory):
    """The primary's whole host goes down: Ansible cannot reach it, so nothing can prove it is not
    still taking writes. The playbook refuses until the operator confirms, then promotes."""
    gone, standby = switched_back["primary"], switched_back["standby"]
    replicated = write_and_replicate(gone, standby, 2000000, "before-outage")
    # At a site Ansible reaches the host over SSH; once the host is down that connection fails as
    # unreachable. Here: an inventory source that says so, and the host actually stopped.
    unreachable = tmp_path_factory.mktemp("inventory") / "unreachable.yml"
    unreachable.write_text(
        f"all:\n  hosts:\n    {gone}:\n      ansible_connection: ssh\n"
        f"      ansible_host: {IP[gone]}\n      ansible_user: root\n"
        "      ansible_ssh_common_args: -o ConnectTimeout=5 -o StrictHostKeyChecking=no -o BatchMode=yes\n"
    )
    subprocess.run(["podman", "stop", "-t", "10", f"{PREFIX}-{gone}"], check=True, capture_output=True)
    refused = run_playbook("-i", str(unreachable), playbook_path=FAILOVER)
    after_refusal = server(standby)
    confirmed = run_playbook("-i", str(unreachable), "-e", "mysql_failover_confirm=true", playbook_path=FAILOVER)
    return {
        "gone": gone,
        "new": standby,
        "replicated": replicated,
        "refused": refused,
        "after_refusal": after_refusal,
        "confirmed": confirmed,
        "servers": {standby: server(standby)},
        "outage_row": rows(standby, "SELECT host FROM wandb_local.writes WHERE id = 2000000"),
        "vip": vip(standby, client=standby) if confirmed.rc == 0 else None,
    }


# --- What each stage must show ----------------------------------------------------------


def assert_primary(state):
    assert state["answering"] and state["read_only"] == "0" and state["super_read_only"] == "0", state
    assert state["source"] is None, state


def assert_standby_of(state, primary):
    assert state["answering"], state
    assert state["source"] == IP[primary], state
    assert (state["io"], state["sql"], state["auto_position"]) == ("Yes", "Yes", "1"), state
    assert state["super_read_only"] == "1", state


def assert_vip(result, primary):
    assert result["answer"] == [IP[primary], "0"], result
    assert result["holders"] == [primary], result


def assert_refused(stage, *phrases):
    run, before, after = stage
    assert run.rc != 0, run
    msgs = " ".join(run.failed_msgs())
    for phrase in phrases:
        assert phrase in msgs, msgs
    assert all(n == 0 for n in run.changed().values()), run.changed()
    assert after == before


def test_the_pair_starts_healthy(converged):
    primary, standby = converged["primary"], converged["standby"]
    assert_primary(converged["servers"][primary])
    assert_standby_of(converged["servers"][standby], primary)
    assert converged["table_replicated"]
    assert converged["standby_refuses_writes"]
    # The standby keeps a copy of the generated password for its promotion.
    assert converged["passwords"][primary] == converged["passwords"][standby]
    assert len(converged["passwords"][primary]) == 32
    assert_vip(converged["vip"], primary)


def test_switchover_refuses_an_unhealthy_standby(refusals, converged):
    assert_refused(
        refusals["unhealthy standby"], "is not healthy enough to take over", "SQL thread No", "Nothing was changed"
    )
    assert_standby_of(refusals["standby after the refusal"], converged["primary"])


def test_switchover_refuses_a_target_that_is_not_the_standby(refusals, converged):
    primary = converged["primary"]
    assert_refused(refusals["wrong target"], f"mysql_switchover_to={primary} is not the live standby")


def test_failover_refuses_while_the_primary_is_alive(refusals, converged):
    assert_refused(refusals["primary alive"], f"A writable server is up: {converged['primary']}", "Nothing was changed")


def test_switchover_under_writes_loses_nothing(switched_over):
    run, old, new = switched_over["run"], switched_over["old"], switched_over["new"]
    report = run.msgs("Report the switchover")[0]
    assert report[0].startswith(f"Switchover done: {new} is the primary, {old} replicates from it."), report
    blocked = re.fullmatch(r"Writes were refused for ([0-9.]+) s \(mysql_switchover_blocked_seconds\)\.", report[1])
    assert blocked, report
    assert report[2].startswith(f"The writer address {VIP} answered from {new} "), report
    assert_primary(switched_over["servers"][new])
    assert_standby_of(switched_over["servers"][old], new)
    assert switched_over["old_refuses_writes"]
    # Every acknowledged row is on the new primary and, replicated from it, on the old one.
    assert all(not m for m in switched_over["missing"].values()), switched_over["missing"]
    assert switched_over["semi_sync"] == "ON"
    assert_vip(switched_over["vip"], new)
    gaps = {
        k: longest_gap([r for r in done if r[1] > switched_over["started"]])
        for k, done in switched_over["done"].items()
    }
    # The baseline of the same run: the longest gap of each writer before the switchover started.
    before = {
        k: longest_gap([r for r in done if r[1] <= switched_over["started"]])
        for k, done in switched_over["done"].items()
    }
    MEASURED["switchover playbook (s)"] = round(run.seconds, 1)
    MEASURED["switchover writes refused, module (s)"] = float(blocked.group(1))
    MEASURED["switchover longest gap, writer through the floating address (s)"] = round(gaps["vip"], 2)
    MEASURED["switchover longest gap, writer on the servers' addresses (s)"] = round(gaps["direct"], 2)
    MEASURED["longest gap before the switchover, writer through the floating address (s)"] = round(before["vip"], 2)
    MEASURED["longest gap before the switchover, writer on the servers' addresses (s)"] = round(before["direct"], 2)
    MEASURED["switchover read-only refusals the writers saw"] = switched_over["read_only_errors"]
    MEASURED["switchover VIP on the new primary after the playbook (s)"] = switched_over["vip"]["seconds"]
    print_measured()


def test_role_rerun_follows_the_live_roles_and_changes_nothing(rerun):
    run, new, old = rerun["run"], rerun["new"], rerun["old"]
    assert run.rc == 0, run
    warning = " ".join(" ".join(rerun["run"].msgs("Say which inventory edit makes the live roles permanent")).split())
    assert f"the inventory is out of date. {new} is the live primary" in warning, warning
    assert run.changed() and all(n == 0 for n in run.changed().values()), run.changed()
    assert_primary(rerun["servers"][new])
    assert_standby_of(rerun["servers"][old], new)
    assert "super_read_only = OFF" in rerun["files"][new]["cnf"]
    assert "super_read_only = ON" in rerun["files"][old]["cnf"]
    MEASURED["role rerun after switchover (s)"] = round(run.seconds, 1)


def test_failover_after_the_primary_dies_loses_nothing(failed_over):
    run, dead, new = failed_over["run"], failed_over["dead"], failed_over["new"]
    assert_primary(failed_over["servers"][new])
    assert failed_over["missing"] == [], failed_over["missing"][:20]
    # Fenced: stopped, masked, read-only configuration, the marker.
    assert not failed_over["servers"][dead]["answering"]
    assert not failed_over["mysqld_running"]
    files = failed_over["files"][dead]
    assert files["enabled"] == "masked" and files["fenced"], files
    assert "super_read_only = ON" in files["cnf"]
    report = " ".join(" ".join(failed_over["run"].msgs("Report the failover")[0]).split())
    assert f"{new} is the primary" in report and f"mysql_rejoin={dead}" in report, report
    assert_vip(failed_over["vip"], new)
    first_after_kill = min(t for _i, t, _h in failed_over["done"] if t > failed_over["dead_for_sure"])
    kill_to_write = first_after_kill - failed_over["killed"]
    MEASURED["failover playbook (s)"] = round(run.seconds, 1)
    MEASURED["failover kill to the first write through the floating address (s)"] = round(kill_to_write, 1)
    MEASURED["failover VIP on the new primary after the playbook (s)"] = failed_over["vip"]["seconds"]
    print_measured()


def test_role_refuses_the_fenced_host(fenced_refusal):
    run, fenced = fenced_refusal["run"], fenced_refusal["fenced"]
    assert run.rc != 0, run
    assert any(f"{fenced} was fenced by playbooks/mysql_failover.yml" in m for m in run.failed_msgs()), run
    assert fenced_refusal["files"]["enabled"] == "masked"
    assert fenced_refusal["files"]["fenced"]


def test_rejoin_brings_the_old_primary_back_as_standby(rejoined):
    run, old, primary = rejoined["run"], rejoined["old"], rejoined["primary"]
    assert run.rc == 0, run
    report = rejoined["run"].msgs("Report the rejoin")[0]
    assert report[0].startswith(f"{old} is now the standby of {primary}"), report
    assert_primary(rejoined["servers"][primary])
    assert_standby_of(rejoined["servers"][old], primary)
    assert rejoined["old_refuses_writes"]
    assert rejoined["files"][old]["enabled"] == "enabled" and not rejoined["files"][old]["fenced"]
    assert_vip(rejoined["vip"], primary)
    assert rejoined["replicates"]
    assert rejoined["semi_sync"] == "ON"
    MEASURED["rejoin playbook (s)"] = round(run.seconds, 1)
    print_measured()


def test_a_verbose_switchover_shows_no_secret(switched_back):
    assert switched_back["rc"] == 0, switched_back["tail"]
    assert switched_back["shown_commands"], "no command shown"
    # The promotion and replication passwords are kept on both hosts.
    kept = [where for where in switched_back["secrets"] if where.endswith(("promote_password", "replication_password"))]
    assert len(kept) >= 2, sorted(switched_back["secrets"])
    assert switched_back["leaks"] == []
    primary, standby = switched_back["primary"], switched_back["standby"]
    assert_primary(switched_back["servers"][primary])
    assert_standby_of(switched_back["servers"][standby], primary)


def test_failover_of_an_unreachable_primary_needs_confirmation(unreachable_failover):
    gone, new = unreachable_failover["gone"], unreachable_failover["new"]
    assert unreachable_failover["replicated"]
    refused = unreachable_failover["refused"]
    assert refused.rc != 0, refused
    msgs = " ".join(refused.failed_msgs())
    assert f"{gone} does not answer to Ansible" in msgs and "mysql_failover_confirm=true" in msgs, msgs
    assert unreachable_failover["after_refusal"]["super_read_only"] == "1"
    confirmed = unreachable_failover["confirmed"]
    assert confirmed.rc == 0, confirmed
    assert_primary(unreachable_failover["servers"][new])
    assert unreachable_failover["outage_row"] == [["before-outage"]]
    report = " ".join(" ".join(confirmed.msgs("Report the failover")[0]).split())
    assert f"mysql_rejoin={gone}" in report and "NOT fenced (unreachable)" in report, report
    assert_vip(unreachable_failover["vip"], new)
    MEASURED["failover of an unreachable primary, playbook (s)"] = round(confirmed.seconds, 1)
    print_measured()
