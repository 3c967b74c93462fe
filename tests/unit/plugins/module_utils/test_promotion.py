# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest
from ansible_collections.onprem.wandb.plugins.module_utils import promotion

PRIMARY_IP = "10.0.0.11"
NAMES = ("db1", "db2")


def replica(**over):
    row = {
        "Source_Host": PRIMARY_IP,
        "Replica_IO_Running": "Yes",
        "Replica_SQL_Running": "Yes",
        "Seconds_Behind_Source": 0,
        "Last_IO_Error": "",
        "Last_SQL_Error": "",
    }
    row.update(over)
    return row


def state(read_only=False, rep=None, answering=True):
    return {"answering": answering, "read_only": read_only, "gtid_executed": "", "replica": rep or {}}


PRIMARY = state()
STANDBY = state(read_only=True, rep=replica())


@pytest.mark.parametrize(
    ("server", "role"),
    [
        (state(answering=False), "down"),
        (state(read_only=True, rep=replica()), "standby"),
        # A writable server that replicates is still a standby: replication decides.
        (state(read_only=False, rep=replica()), "standby"),
        (state(), "primary"),
        (state(read_only=True), "read_only"),
    ],
)
def test_live_role(server, role):
    assert promotion.live_role(server) == role


@pytest.mark.parametrize(("value", "lag"), [(0, 0), ("12", 12), (None, None), ("", None), ("NULL", None), (" ", None)])
def test_lag_seconds(value, lag):
    assert promotion.lag_seconds({"Seconds_Behind_Source": value}) == lag


def test_a_healthy_pair_is_not_refused():
    assert promotion.switchover_refusal(PRIMARY, STANDBY, NAMES, PRIMARY_IP, 10, "") is None


@pytest.mark.parametrize(
    ("primary", "standby", "errant", "phrases"),
    [
        # The standby's applier stopped: the scenario's refusal.
        (
            PRIMARY,
            state(True, replica(Replica_SQL_Running="No", Last_SQL_Error="Error 1062")),
            "",
            ["db2 is not healthy enough to take over", "SQL thread No Error 1062", "Nothing was changed"],
        ),
        (
            PRIMARY,
            state(True, replica(Replica_IO_Running="Connecting", Last_IO_Error="err 2003")),
            "",
            ["not healthy enough", "IO thread Connecting err 2003"],
        ),
        (
            PRIMARY,
            state(True, replica(Seconds_Behind_Source=11)),
            "",
            ["11 seconds behind", "mysql_switchover_max_lag_seconds=10"],
        ),
        (PRIMARY, state(True, replica(Seconds_Behind_Source=None)), "", ["unknown seconds behind"]),
        (PRIMARY, state(True, replica(Source_Host="10.0.0.99")), "", ["source 10.0.0.99 (primary db1 is 10.0.0.11)"]),
        (PRIMARY, state(True), "", ["not healthy enough", "source none"]),
        (PRIMARY, state(answering=False), "", ["not healthy enough"]),
        (
            PRIMARY,
            STANDBY,
            "3e11fa47-71ca-11e1-9e33-c80aa9429562:7",
            [
                "executed transactions the primary db1 never had (3e11fa47-71ca-11e1-9e33-c80aa9429562:7)",
                "Nothing was changed",
            ],
        ),
        # The primary changed under the checks (someone else switched or froze it).
        (state(read_only=True), STANDBY, "", ["db1 is not a writable primary any more (live role read_only)"]),
        (state(rep=replica(Source_Host="10.0.0.12")), STANDBY, "", ["live role standby", "Nothing was changed"]),
    ],
)
def test_switchover_refusals(primary, standby, errant, phrases):
    msg = promotion.switchover_refusal(primary, standby, NAMES, PRIMARY_IP, 10, errant)
    assert msg is not None
    for phrase in phrases:
        assert phrase in msg, msg


def test_lag_at_the_limit_is_accepted():
    standby = state(True, replica(Seconds_Behind_Source=10))
    assert promotion.switchover_refusal(PRIMARY, standby, NAMES, PRIMARY_IP, 10, "") is None


@pytest.mark.parametrize(
    ("standby", "refused"),
    [(STANDBY, False), (state(), True), (state(read_only=True), True), (state(answering=False), True)],
)
def test_failover_refusal(standby, refused):
    msg = promotion.failover_refusal(standby, "db2")
    assert (msg is not None) == refused
    if refused:
        assert "db2 is not a live standby" in msg and "Nothing was changed" in msg


STANDBY_BACK = (
    "SET GLOBAL super_read_only = ON",
    "SET GLOBAL rpl_semi_sync_replica_enabled = ON",
    "START REPLICA",
)


@pytest.mark.parametrize(
    ("stage", "promoted", "plan"),
    [
        ("checked", 0, []),
        # The standby did not catch up in time: the primary gets its writes back, nothing else.
        ("frozen", 0, [("primary", promotion.THAW, False)]),
        # STOP REPLICA failed: the standby never stopped being a read-only replica.
        ("promoting", 0, [("primary", promotion.THAW, False)]),
        # Its replication was stopped: it replicates again, read-only, before the primary opens.
        # Until the statement that opens it was tried it is read-only whatever happens, so the
        # primary opens even when putting the standby back fails.
        ("promoting", 1, [("standby", STANDBY_BACK, False), ("primary", promotion.THAW, False)]),
        ("promoting", promotion.OPEN - 1, [("standby", STANDBY_BACK, False), ("primary", promotion.THAW, False)]),
        # read_only = OFF failed, maybe after it ran (a broken connection): the primary opens only
        # once the standby is read-only again for certain.
        ("promoting", promotion.OPEN, [("standby", STANDBY_BACK, True), ("primary", promotion.THAW, False)]),
        # The standby accepted writes: giving them back to the old primary would make two writers.
        ("promoting", promotion.OPEN + 1, []),
        ("promoting", len(promotion.PROMOTE), []),
    ],
)
def test_undo_switchover(stage, promoted, plan):
    assert promotion.undo_switchover(stage, promoted, semi_sync=True) == plan


def test_the_primary_opens_last_in_every_undo():
    for promoted in range(len(promotion.PROMOTE) + 1):
        plan = promotion.undo_switchover("promoting", promoted, semi_sync=True)
        servers = [server for server, _statements, _required in plan]
        assert "primary" not in servers[:-1], plan


def test_undo_switchover_keeps_semi_sync_off_when_it_was():
    plan = promotion.undo_switchover("promoting", 2, semi_sync=False)
    assert plan[0][1][1] == "SET GLOBAL rpl_semi_sync_replica_enabled = OFF"


@pytest.mark.parametrize(
    ("stage", "promoted", "plan"),
    [
        ("checked", 0, []),
        ("received", 0, [("standby", ("START REPLICA IO_THREAD",), False)]),
        ("promoting", 0, [("standby", ("START REPLICA IO_THREAD",), False)]),
        ("promoting", 3, [("standby", STANDBY_BACK, False)]),
        ("promoting", promotion.OPEN, [("standby", STANDBY_BACK, True)]),
        ("promoting", promotion.OPEN + 1, []),
    ],
)
def test_undo_failover(stage, promoted, plan):
    assert promotion.undo_failover(stage, promoted, semi_sync=True) == plan


@pytest.mark.parametrize("undo", [promotion.undo_switchover, promotion.undo_failover])
def test_unknown_stage(undo):
    with pytest.raises(ValueError, match="unknown"):
        undo("later")


def test_promotion_opens_before_it_forgets_its_source():
    """The standby never is a read-only server without replication (the writer address's check
    would fault it): writes open before RESET REPLICA ALL, after the replica stopped."""
    steps = list(promotion.PROMOTE)
    assert steps.index("STOP REPLICA") < steps.index("SET GLOBAL super_read_only = OFF") < promotion.OPEN
    assert promotion.OPEN < steps.index("RESET REPLICA ALL")
    assert steps[promotion.OPEN] == "SET GLOBAL read_only = OFF"


@pytest.mark.parametrize(("semi_sync", "value"), [(True, "ON"), (False, "OFF")])
def test_follow_statements(semi_sync, value):
    before, after = promotion.follow_statements(semi_sync)
    assert before[0] == "SET GLOBAL super_read_only = ON"
    assert f"SET GLOBAL rpl_semi_sync_replica_enabled = {value}" in before
    assert after == ("START REPLICA",)


@pytest.mark.parametrize(
    ("ssl", "ca", "verify", "expected"),
    [
        (True, "/ca.crt", True, {"ssl": 1, "ssl_ca": "/ca.crt", "verify": 1}),
        (True, "", False, {"ssl": 1, "ssl_ca": "", "verify": 0}),
        # Without TLS, no CA and no verification, whatever was passed.
        (False, "/ca.crt", True, {"ssl": 0, "ssl_ca": "", "verify": 0}),
    ],
)
def test_change_source_args(ssl, ca, verify, expected):
    args = promotion.change_source_args("10.0.0.12", "3306", "repl", "p'w\\d", ssl, ca, verify, "10")
    assert args == {"host": "10.0.0.12", "port": 3306, "user": "repl", "password": "p'w\\d", "retry": 10, **expected}
    # Every value is a parameter: the client library quotes it (the password is never pasted in).
    assert "%(password)s" in promotion.CHANGE_SOURCE and "'" not in promotion.CHANGE_SOURCE


@pytest.mark.parametrize(("elapsed", "settled"), [(0.0, False), (3.9, False), (4.0, True), (9.0, True)])
def test_hold_settled(elapsed, settled):
    assert promotion.hold_settled(100.0, 100.0 + elapsed, 4.0) is settled


NEW_SOURCE = "10.0.0.12"


@pytest.mark.parametrize(
    ("row", "verdict", "phrases"),
    [
        (replica(Source_Host=NEW_SOURCE, Auto_Position=1), "ok", []),
        (replica(Source_Host=NEW_SOURCE, Auto_Position="1"), "ok", []),
        # Still connecting: ask again until the deadline.
        (replica(Source_Host=NEW_SOURCE, Auto_Position=1, Replica_IO_Running="Connecting"), "wait", ["Connecting"]),
        # A thread stopped: waiting does not help.
        (
            replica(Source_Host=NEW_SOURCE, Auto_Position=1, Replica_IO_Running="No", Last_IO_Error="error 1045"),
            "failed",
            ["IO thread No error 1045"],
        ),
        (
            replica(Source_Host=NEW_SOURCE, Auto_Position=1, Replica_SQL_Running="No", Last_SQL_Error="error 1062"),
            "failed",
            ["SQL thread No error 1062"],
        ),
        # Not what was asked for.
        (replica(Auto_Position=1), "failed", ["source 10.0.0.11 (expected 10.0.0.12)"]),
        (replica(Source_Host=NEW_SOURCE, Auto_Position=0), "failed", ["auto-position 0"]),
        ({}, "failed", ["source none (expected 10.0.0.12)"]),
    ],
)
def test_replica_check(row, verdict, phrases):
    got, message = promotion.replica_check(row, NEW_SOURCE)
    assert got == verdict
    for phrase in phrases:
        assert phrase in message, message
