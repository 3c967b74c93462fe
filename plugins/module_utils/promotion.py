# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Decisions of a MySQL promotion (switchover, failover) from the servers' live state.

Pure functions over plain values, no connection and no Ansible import: the module
onprem.wandb.mysql_promote reads each server's state, asks these functions whether to refuse,
which statements to run and what to undo when a step fails, and runs them.

A server's state is a dict:
  answering      bool   the server answered
  read_only      bool   @@GLOBAL.read_only (super_read_only implies it)
  gtid_executed  str    @@GLOBAL.gtid_executed (newlines removed)
  replica        dict   the row of SHOW REPLICA STATUS (empty: replicates from nobody)
"""

from __future__ import annotations

# What turns a server read-only for everyone (super_read_only also stops accounts with
# CONNECTION_ADMIN or SUPER), and what lets writes in again.
FREEZE = ("SET GLOBAL super_read_only = ON",)
THAW = ("SET GLOBAL super_read_only = OFF", "SET GLOBAL read_only = OFF")

# Promotion of a standby, in the order the module runs them. The standby keeps its replication
# settings until it is writable (RESET REPLICA ALL comes last), so until it opens it can go back
# to replicating from its source, read-only: the undo of a failed promotion. Writes are accepted
# from OPEN on: from there nothing is undone, since giving writes back to the old primary would
# make two writers.
PROMOTE = (
    "STOP REPLICA",
    "SET GLOBAL rpl_semi_sync_replica_enabled = OFF",
    "SET GLOBAL rpl_semi_sync_source_enabled = OFF",
    "SET GLOBAL super_read_only = OFF",
    "SET GLOBAL read_only = OFF",
    "RESET REPLICA ALL",
)
OPEN = PROMOTE.index("SET GLOBAL read_only = OFF")

CHANGE_SOURCE = (
    "CHANGE REPLICATION SOURCE TO SOURCE_HOST = %(host)s, SOURCE_PORT = %(port)s, SOURCE_USER = %(user)s, "
    "SOURCE_PASSWORD = %(password)s, SOURCE_AUTO_POSITION = 1, SOURCE_SSL = %(ssl)s, SOURCE_SSL_CA = %(ssl_ca)s, "
    "SOURCE_SSL_VERIFY_SERVER_CERT = %(verify)s, GET_SOURCE_PUBLIC_KEY = 1, SOURCE_CONNECT_RETRY = %(retry)s"
)


def yes(value):
    """A replication thread's state (Yes, No, Connecting) as running or not."""
    return str(value or "") == "Yes"


def lag_seconds(replica):
    """Seconds_Behind_Source as an int, or None when the server does not know it."""
    value = replica.get("Seconds_Behind_Source")
    if value is None or str(value).strip() in ("", "NULL", "None"):
        return None
    return int(value)


def live_role(state):
    """down, standby (replication configured), primary (writable) or read_only (neither)."""
    if not state.get("answering"):
        return "down"
    if state.get("replica"):
        return "standby"
    return "read_only" if state.get("read_only") else "primary"


def _threads(replica):
    io_error = replica.get("Last_IO_Error") or ""
    sql_error = replica.get("Last_SQL_Error") or ""
    return (
        f"IO thread {replica.get('Replica_IO_Running') or '-'}{' ' + io_error if io_error else ''}, "
        f"SQL thread {replica.get('Replica_SQL_Running') or '-'}{' ' + sql_error if sql_error else ''}"
    )


def switchover_refusal(primary, standby, names, primary_address, max_lag, errant):
    """Why a switchover from PRIMARY to STANDBY (states) must not start, or None.

    NAMES: (primary name, standby name) for the messages; PRIMARY_ADDRESS: the address the
    standby must replicate from; MAX_LAG: the largest accepted lag in seconds; ERRANT: the GTID
    set the standby executed and the primary never had (GTID_SUBTRACT on the primary)."""
    p_name, s_name = names
    if live_role(primary) != "primary":
        return (
            f"{p_name} is not a writable primary any more (live role {live_role(primary)}). Nothing was changed: "
            "read the pair's state again (the status of playbooks/mysql_failover.yml) before a switchover."
        )
    replica = standby.get("replica") or {}
    lag = lag_seconds(replica)
    healthy = (
        live_role(standby) == "standby"
        and replica.get("Source_Host") == primary_address
        and yes(replica.get("Replica_IO_Running"))
        and yes(replica.get("Replica_SQL_Running"))
        and lag is not None
        and lag <= int(max_lag)
    )
    if not healthy:
        return (
            f"The standby {s_name} is not healthy enough to take over: source {replica.get('Source_Host') or 'none'} "
            f"(primary {p_name} is {primary_address}), {_threads(replica)}, "
            f"{lag if lag is not None else 'unknown'} seconds behind (limit mysql_switchover_max_lag_seconds={max_lag}). "
            "Nothing was changed: fix replication (START REPLICA, the errors above) and let it catch up first."
        )
    if errant:
        return (
            f"The standby {s_name} executed transactions the primary {p_name} never had ({errant}): something wrote "
            "to it directly. Promoting it would ship them to the old primary. Nothing was changed. Inspect them "
            "(mysqlbinlog on the standby); if they are not needed, re-seed the standby (the role with "
            "-e mysql_standby_reseed=true)."
        )
    return None


def failover_refusal(standby, name):
    """Why STANDBY (a state) must not be promoted by a failover, or None."""
    role = live_role(standby)
    if role == "standby":
        return None
    return (
        f"{name} is not a live standby any more (live role {role}); nothing to promote. Nothing was changed: "
        "read the pair's state again before a failover."
    )


def _on(flag):
    return "ON" if flag else "OFF"


def _standby_back(semi_sync):
    """A half-promoted standby back to a read-only replica of its source: its source settings
    are intact (RESET REPLICA ALL comes after OPEN)."""
    return (
        "SET GLOBAL super_read_only = ON",
        f"SET GLOBAL rpl_semi_sync_replica_enabled = {_on(semi_sync)}",
        "START REPLICA",
    )


def undo_switchover(stage, promoted=0, semi_sync=True):
    """What gives the pair back its state before the switchover when it fails at STAGE.

    STAGE: checked (nothing changed), frozen (the primary is read-only), promoting (PROMOTED
    statements of PROMOTE succeeded on the standby; the next one failed, and may have run all the
    same when the connection broke). Returns [(server, statements, required)], server "primary"
    or "standby", run in order: when a step that is REQUIRED fails, the steps after it must not
    run. Empty: nothing to undo, or, once the standby accepts writes, nothing that may be undone:
    giving the old primary its writes back would make two writers.

    The standby goes back to a read-only replica before the primary opens again. That step is
    required once the statement that opens the standby was tried (PROMOTED == OPEN): unless the
    standby is read-only again for certain, the primary stays read-only."""
    if stage == "checked":
        return []
    if stage == "frozen":
        return [("primary", THAW, False)]
    if stage == "promoting":
        if promoted > OPEN:
            return []
        standby = [("standby", _standby_back(semi_sync), promoted == OPEN)] if promoted > 0 else []
        return standby + [("primary", THAW, False)]
    raise ValueError(f"unknown switchover stage {stage!r}")


def undo_failover(stage, promoted=0, semi_sync=True):
    """What gives the standby back its state before the failover when it fails at STAGE:
    checked (nothing changed), received (its receiver thread stopped), promoting (PROMOTED
    statements of PROMOTE succeeded). Same shape as undo_switchover. Nothing is undone once it
    accepts writes."""
    if stage == "checked":
        return []
    if stage == "received" or (stage == "promoting" and promoted == 0):
        return [("standby", ("START REPLICA IO_THREAD",), False)]
    if stage == "promoting":
        return [] if promoted > OPEN else [("standby", _standby_back(semi_sync), promoted == OPEN)]
    raise ValueError(f"unknown failover stage {stage!r}")


def follow_statements(semi_sync):
    """What turns a server into a read-only replica of a new source (the CHANGE REPLICATION
    SOURCE statement, with its parameters, comes between the lists), in order."""
    before = (
        "SET GLOBAL super_read_only = ON",
        "STOP REPLICA",
        "RESET REPLICA ALL",
        "SET GLOBAL rpl_semi_sync_source_enabled = OFF",
        f"SET GLOBAL rpl_semi_sync_replica_enabled = {_on(semi_sync)}",
    )
    return before, ("START REPLICA",)


def change_source_args(host, port, user, password, ssl, ssl_ca, verify, retry):
    """The parameters of CHANGE_SOURCE (the client library quotes each value)."""
    return {
        "host": host,
        "port": int(port),
        "user": user,
        "password": password,
        "ssl": 1 if ssl else 0,
        "ssl_ca": ssl_ca if ssl else "",
        "verify": 1 if ssl and verify else 0,
        "retry": int(retry),
    }


def replica_check(replica, source_host):
    """Where a new replica of SOURCE_HOST stands, from its SHOW REPLICA STATUS row REPLICA.

    Returns (verdict, message): "ok" (both threads run, GTID auto-position, that source), "wait"
    (a thread is still starting: worth asking again until a deadline), "failed" (a thread
    stopped, or the replica is not set up as asked). The message names the state and errors."""
    io, sql = replica.get("Replica_IO_Running"), replica.get("Replica_SQL_Running")
    message = (
        f"source {replica.get('Source_Host') or 'none'} (expected {source_host}), {_threads(replica)}, "
        f"auto-position {replica.get('Auto_Position', '-')}"
    )
    if not replica or replica.get("Source_Host") != source_host or int(replica.get("Auto_Position") or 0) != 1:
        return "failed", message
    if yes(io) and yes(sql):
        return "ok", message
    if "No" in (io, sql):
        return "failed", message
    return "wait", message


def hold_settled(frozen_at, now, settle):
    """Whether the old primary's own writable check has certainly seen it read-only: then its
    floating-address hold can be lifted without it claiming the address back."""
    return now - frozen_at >= settle
