# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The order of the statements onprem.wandb.mysql_promote sends to each server, and what it undoes
when one fails, against recording stand-ins for the two connections. Whether MySQL and keepalived
behave as these sequences assume is the job of the mysql_failover scenario."""

from __future__ import annotations

import pytest
from ansible_collections.onprem.wandb.plugins.module_utils import promotion
from ansible_collections.onprem.wandb.plugins.modules import mysql_promote

PRIMARY_IP, STANDBY_IP = "10.0.0.11", "10.0.0.12"


class Failed(Exception):
    def __init__(self, result):
        super().__init__(result["msg"])
        self.result = result


class Module:
    def __init__(self, check_mode=False, **params):
        self.params = {name: spec.get("default") for name, spec in mysql_promote.ARGUMENT_SPEC.items()}
        self.params.update(
            names=["db1", "db2"],
            local_address=PRIMARY_IP,
            peer_host=STANDBY_IP,
            peer_user="wandb_promote",
            peer_password="promote-secret",
            replication_user="wandb_repl",
            replication_password="repl-secret",
            replica_wait=2,
        )
        self.params.update(params)
        self.check_mode = check_mode

    def fail_json(self, **result):
        raise Failed(result)

    def get_bin_path(self, _name, required=False):
        return None


class ConnectionLost(Exception):
    pass


class Server:
    """Records what the module runs; FAIL_ON: statements that fail (once, or every time once the
    connection is LOST); VALUES: answers of value() by a part of the query."""

    def __init__(self, name, state, values=None, fail_on=(), lost=False, replica_after_start=None):
        self.name = name
        self._state = state
        self.values = values or {}
        self.fail_on = set(fail_on)
        self.lost = lost
        self.broken = False
        self.replica_after_start = replica_after_start
        self.log = []

    def run(self, statements, done=None, args=None):
        for statement in statements:
            if self.broken or statement in self.fail_on:
                self.fail_on.discard(statement)
                self.broken = self.lost
                raise ConnectionLost(f"lost the connection during {statement}")
            self.log.append(statement)
            if done is not None:
                done.append(statement)
            if args is not None:
                self.args = args

    def value(self, sql, args=None):
        for part, answer in self.values.items():
            if part in sql:
                return answer
        raise AssertionError(f"unexpected query {sql}")

    def rows(self, sql, args=None):
        if "Rpl_semi_sync_source_clients" in sql:
            return [{"Variable_name": "Rpl_semi_sync_source_clients", "Value": "1"}]
        if "Rpl_semi_sync_source_status" in sql:
            on = "SET GLOBAL rpl_semi_sync_source_enabled = ON" in self.log
            return [{"Variable_name": "Rpl_semi_sync_source_status", "Value": "ON" if on else "OFF"}]
        raise AssertionError(f"unexpected query {sql}")

    def state(self):
        state = dict(self._state)
        if self.replica_after_start is not None and "START REPLICA" in self.log:
            state["replica"] = self.replica_after_start
        return state

    def close(self):
        pass


def replica(source, **over):
    row = {
        "Source_Host": source,
        "Replica_IO_Running": "Yes",
        "Replica_SQL_Running": "Yes",
        "Seconds_Behind_Source": 0,
        "Auto_Position": 1,
        "Last_IO_Error": "",
        "Last_SQL_Error": "",
    }
    row.update(over)
    return row


def pair(timed_out=0, errant="", standby_fail_on=(), standby_lost=False, primary_fail_on=(), follows=None):
    primary = Server(
        "db1",
        {"answering": True, "read_only": False, "gtid_executed": "u:1-10", "server_uuid": "u1", "replica": {}},
        values={"GTID_SUBTRACT": errant, "@@GLOBAL.gtid_executed": "u:1-12"},
        fail_on=primary_fail_on,
        replica_after_start=replica(STANDBY_IP) if follows is None else follows,
    )
    standby = Server(
        "db2",
        {
            "answering": True,
            "read_only": True,
            "gtid_executed": "u:1-10",
            "server_uuid": "u2",
            "replica": replica(PRIMARY_IP),
        },
        values={"WAIT_FOR_EXECUTED_GTID_SET": timed_out},
        fail_on=standby_fail_on,
        lost=standby_lost,
    )
    return primary, standby


def switchover(primary, standby, **params):
    promo = mysql_promote.Promotion(Module(**params))
    return promo._switchover(primary, standby)


def changes(server):
    """The statements that change a server (SET SESSION only tunes the module's own connection)."""
    return [s for s in server.log if not s.startswith("SET SESSION")]


FOLLOW_BEFORE, FOLLOW_AFTER = promotion.follow_statements(True)


def test_a_switchover_freezes_waits_promotes_and_follows_in_that_order():
    primary, standby = pair()
    result = switchover(primary, standby)
    assert result["changed"] and result["frozen_gtids"] == "u:1-12"
    assert changes(primary) == [*promotion.FREEZE, *FOLLOW_BEFORE, promotion.CHANGE_SOURCE, *FOLLOW_AFTER]
    assert changes(standby) == [*promotion.PROMOTE, "SET GLOBAL rpl_semi_sync_source_enabled = ON"]
    assert result["semi_sync_source"] is True
    # The replication password is a statement parameter, never part of the statement.
    assert primary.args["password"] == "repl-secret" and primary.args["host"] == STANDBY_IP
    assert all("repl-secret" not in s for s in primary.log)
    steps = [name for name, _seconds in result["steps"]]
    assert steps[:3] == ["primary read-only", "standby applied every GTID", "standby open for writes"]


def test_check_mode_changes_nothing():
    primary, standby = pair()
    result = mysql_promote.Promotion(Module(check_mode=True))._switchover(primary, standby)
    assert result["changed"] and "would become the primary" in result["msg"]
    assert primary.log == [] and standby.log == []


@pytest.mark.parametrize(
    ("kwargs", "phrase"),
    [
        ({"errant": "u2:1"}, "never had (u2:1)"),
        ({}, "not healthy enough"),
    ],
)
def test_a_refused_switchover_changes_nothing(kwargs, phrase):
    primary, standby = pair(**kwargs)
    if not kwargs:
        standby._state["replica"] = replica(PRIMARY_IP, Replica_SQL_Running="No")
    with pytest.raises(Failed) as failed:
        switchover(primary, standby)
    assert phrase in failed.value.result["msg"] and "Nothing was changed" in failed.value.result["msg"]
    assert primary.log == [] and standby.log == []


def test_a_standby_that_does_not_catch_up_gives_the_primary_its_writes_back():
    primary, standby = pair(timed_out=1)
    with pytest.raises(Failed) as failed:
        switchover(primary, standby, timeout=7)
    msg = failed.value.result["msg"]
    assert "did not apply the primary's transactions within mysql_switchover_timeout_seconds=7" in msg
    assert "db1 takes writes again; nothing else changed" in msg
    assert changes(primary) == [*promotion.FREEZE, *promotion.THAW]
    assert changes(standby) == []
    assert failed.value.result["changed"] is True


@pytest.mark.parametrize("index", range(len(promotion.PROMOTE)))
def test_a_promotion_that_fails_before_it_opens_is_undone(index):
    statement = promotion.PROMOTE[index]
    primary, standby = pair(standby_fail_on=[statement])
    with pytest.raises(Failed) as failed:
        switchover(primary, standby)
    msg = failed.value.result["msg"]
    if index > promotion.OPEN:
        # The standby takes writes: nothing is undone, the old primary stays read-only.
        assert "db2 was promoted and takes writes" in msg and "mysql_rejoin=db1" in msg
        assert changes(primary) == [*promotion.FREEZE]
        assert changes(standby) == list(promotion.PROMOTE[:index])
    else:
        assert "db1 takes writes again" in msg
        back = list(promotion.undo_switchover("promoting", index)[0][1]) if index else []
        assert changes(standby) == list(promotion.PROMOTE[:index]) + back
        assert changes(primary) == [*promotion.FREEZE, *promotion.THAW]


def test_a_standby_that_may_have_opened_keeps_the_primary_read_only():
    # The connection broke on read_only = OFF: the standby may accept writes, and cannot be made
    # read-only again. Opening the primary now could make two writers.
    primary, standby = pair(standby_fail_on=["SET GLOBAL read_only = OFF"], standby_lost=True)
    with pytest.raises(Failed) as failed:
        switchover(primary, standby)
    msg = failed.value.result["msg"]
    assert "db2 could not be made read-only again" in msg and "db1 stays read-only" in msg
    assert changes(primary) == [*promotion.FREEZE]


def test_a_standby_lost_before_it_could_open_lets_the_primary_open():
    # Lost during STOP REPLICA .. super_read_only = OFF: read_only is still ON on the standby.
    primary, standby = pair(standby_fail_on=["SET GLOBAL super_read_only = OFF"], standby_lost=True)
    with pytest.raises(Failed) as failed:
        switchover(primary, standby)
    msg = failed.value.result["msg"]
    assert "db1 takes writes again. db2 is read-only, but putting its replication back failed" in msg
    assert changes(primary) == [*promotion.FREEZE, *promotion.THAW]


def test_a_failure_after_the_standby_opened_names_the_rejoin_and_keeps_the_hold(tmp_path):
    hold = tmp_path / "hold"
    primary, standby = pair(primary_fail_on=["START REPLICA"])
    promo = mysql_promote.Promotion(Module(writer_address="10.0.0.10", writer_hold_file=str(hold)))
    promo.wait_writer_address = lambda _uuid: True
    with pytest.raises(Failed) as failed:
        promo._switchover(primary, standby)
    result = failed.value.result
    assert "db2 is the primary and takes writes" in result["msg"] and "mysql_rejoin=db1" in result["msg"]
    assert result["changed"] is True and result["blocked_seconds"] >= 0
    # The old primary keeps the writer address away until the rejoin lifts the hold.
    assert hold.read_text() == "1\n"
    assert "SET GLOBAL super_read_only = OFF" not in primary.log


def test_an_old_primary_that_does_not_replicate_fails_the_switchover():
    primary, standby = pair(follows=replica(STANDBY_IP, Replica_IO_Running="No", Last_IO_Error="error 2003"))
    with pytest.raises(Failed) as failed:
        switchover(primary, standby)
    assert "db1 does not replicate from db2" in failed.value.result["msg"]
    assert "IO thread No error 2003" in failed.value.result["msg"]


def test_the_hold_of_the_writer_address_is_lifted_once_settled(tmp_path):
    hold = tmp_path / "hold"
    primary, standby = pair()
    promo = mysql_promote.Promotion(
        Module(writer_address="10.0.0.10", writer_hold_file=str(hold), writer_hold_settle=0.0)
    )
    promo.wait_writer_address = lambda _uuid: True
    result = promo._switchover(primary, standby)
    assert result["writer_address_moved"] is True
    assert hold.read_text() == "0\n"
    steps = [name for name, _seconds in result["steps"]]
    assert steps.index("writer address released") < steps.index("hold of the writer address lifted")


def test_the_writer_address_is_released_as_soon_as_the_primary_is_read_only(tmp_path):
    # Before the standby opens: its keepalived must not raise its priority (which restarts its
    # master-down timer) between the release and its taking the address.
    hold = tmp_path / "hold"
    primary, standby = pair()
    promo = mysql_promote.Promotion(Module(writer_address="10.0.0.10", writer_hold_file=str(hold)))
    promo.wait_writer_address = lambda _uuid: hold.read_text() == "1\n"
    result = promo._switchover(primary, standby)
    steps = [name for name, _seconds in result["steps"]]
    assert steps[steps.index("primary read-only") + 1] == "writer address released"
    assert steps.index("writer address released") < steps.index("standby applied every GTID")
    assert result["writer_address_moved"] is True


@pytest.mark.parametrize(
    ("kwargs", "phrase", "hold_after"),
    [
        # Undone: the primary takes writes again, and the address comes back to it.
        ({"timed_out": 1}, "db1 takes writes again; nothing else changed", "0\n"),
        # The standby may have opened: the primary stays read-only, the address stays away.
        ({"standby_fail_on": ["SET GLOBAL read_only = OFF"], "standby_lost": True}, "db1 stays read-only", "1\n"),
    ],
)
def test_a_failed_switchover_gives_the_writer_address_back_only_to_a_writable_primary(
    tmp_path, kwargs, phrase, hold_after
):
    hold = tmp_path / "hold"
    primary, standby = pair(**kwargs)
    promo = mysql_promote.Promotion(Module(writer_address="10.0.0.10", writer_hold_file=str(hold)))
    with pytest.raises(Failed) as failed:
        promo._switchover(primary, standby)
    assert phrase in failed.value.result["msg"]
    assert hold.read_text() == hold_after


def test_write_hold_needs_keepalived_directory(tmp_path):
    assert mysql_promote.write_hold(str(tmp_path / "absent" / "hold"), 1) is False
    path = tmp_path / "hold"
    assert mysql_promote.write_hold(str(path), 1) is True
    assert mysql_promote.write_hold(str(path), 1) is False
    assert mysql_promote.hold_is_set(str(path))


# --- failover ---------------------------------------------------------------------------------


def standby_alone(timed_out=0, fail_on=(), lost=False, state=None):
    return Server(
        "db2",
        state or {"answering": True, "read_only": True, "gtid_executed": "", "replica": replica(PRIMARY_IP)},
        values={"RECEIVED_TRANSACTION_SET": "u:1-12\n", "WAIT_FOR_EXECUTED_GTID_SET": timed_out},
        fail_on=fail_on,
        lost=lost,
    )


def failover(standby, **params):
    return mysql_promote.Promotion(Module(**params))._failover(standby)


def test_a_failover_applies_what_was_received_then_opens():
    standby = standby_alone()
    result = failover(standby)
    assert result["changed"] and result["received"] == "u:1-12"
    assert standby.log == ["STOP REPLICA IO_THREAD", *promotion.PROMOTE]


def test_a_failover_that_does_not_catch_up_restarts_the_receiver():
    standby = standby_alone(timed_out=1)
    with pytest.raises(Failed) as failed:
        failover(standby)
    assert "did not apply what it received" in failed.value.result["msg"]
    assert "db2 replicates again" in failed.value.result["msg"]
    assert standby.log == ["STOP REPLICA IO_THREAD", "START REPLICA IO_THREAD"]


def test_a_failover_refuses_a_server_that_is_not_a_standby():
    standby = standby_alone(state={"answering": True, "read_only": False, "gtid_executed": "", "replica": {}})
    with pytest.raises(Failed) as failed:
        failover(standby)
    assert "not a live standby" in failed.value.result["msg"] and standby.log == []


# --- status -----------------------------------------------------------------------------------


def test_status_without_an_answering_server_still_reads_the_fence(tmp_path, monkeypatch):
    marker = tmp_path / "fenced"
    marker.write_text("fenced\n")

    def refuse(*_args, **_kwargs):
        raise ConnectionLost("Can't connect to local MySQL server")

    monkeypatch.setattr(mysql_promote, "HAS_PYMYSQL", True)
    monkeypatch.setattr(mysql_promote, "connect_local", refuse)
    live = mysql_promote.Promotion(Module(fence_marker=str(marker))).status()
    assert live["answering"] is False and live["fenced"] is True and live["service"] == "unknown"
    assert "Can't connect" in live["error"]
