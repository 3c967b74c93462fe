# SPDX-License-Identifier: GPL-3.0-or-later
"""Every day-2 operation playbook validates its options (the role's entry point for it) before it
does anything: a bad value fails with a message that names the variable, and the pair is exactly
as it was. Runs against the converged pair; nothing here changes it."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from labtest import Inventory, host, run_playbook  # noqa: E402
from mysqltest import replica_status, rows  # noqa: E402

INVENTORY = Inventory()
PAIR = INVENTORY.hosts("wandb_mysql")
CNF = "/etc/mysql/mysql.conf.d/zz-onprem-wandb.cnf"


def pair_state():
    """What an operation would change: roles, replication, GTIDs, the managed files, the service."""
    state = {}
    for name in PAIR:
        replica = replica_status(name)
        state[name] = {
            "vars": rows(name, "SELECT @@GLOBAL.read_only, @@GLOBAL.super_read_only, @@GLOBAL.gtid_executed"),
            "replica": {k: replica.get(k) for k in ("Source_Host", "Replica_IO_Running", "Replica_SQL_Running")},
            "files": host(name).check_output(f"md5sum {CNF}; ls -A /etc/mysql/onprem-wandb"),
            "service": host(name).run("systemctl is-enabled mysql; systemctl is-active mysql").stdout,
        }
    return state


# (playbook, extra arguments, entry point whose spec refuses, variable, what the run must also show)
CASES = [
    (
        "mysql_switchover.yml",
        ["-e", "mysql_switchover_max_lag_seconds=soon"],
        "switchover",
        "mysql_switchover_max_lag_seconds",
    ),
    # The failover playbook's first play reads the pair (and warns about the old name of the admin
    # password); its second play's entry point refuses the option.
    (
        "mysql_failover.yml",
        ["-e", "mysql_failover_confirm=perhaps", "-e", "mysql_root_password=read-under-its-old-name"],
        "failover",
        "mysql_failover_confirm",
    ),
    (
        "mysql_failover.yml",
        ["-e", f"mysql_rejoin={PAIR[-1]}", "-e", "mysql_rejoin_reseed=maybe"],
        "rejoin",
        "mysql_rejoin_reseed",
    ),
    ("mysql_restore.yml", ["-e", "mysql_restore_drill=perhaps"], "restore", "mysql_restore_drill"),
]


@pytest.mark.parametrize(("playbook", "args", "entry", "variable"), CASES, ids=[c[3] for c in CASES])
def test_a_bad_option_is_refused_before_anything_changes(playbook, args, entry, variable):
    before = pair_state()
    run = run_playbook(*args, playbook_path=f"playbooks/{playbook}")
    assert run.rc != 0, run
    failures = run.failures()
    assert failures, run
    # Only the validation of the operation's own entry point failed, on the hosts of the pair.
    assert {task.split(" - ")[0] for task, _h, _r in failures} == {
        f"onprem.wandb.mysql : Validating arguments against arg spec '{entry}'"
    }, run
    assert {h for _t, h, _r in failures} <= set(PAIR), run
    for _task, _host, result in failures:
        assert any(e.startswith(f"argument '{variable}' is of type") for e in result["argument_errors"]), result
        assert f"argument '{variable}'" in result["msg"], result
    assert all(n == 0 for n in run.changed().values()), run.changed()
    assert pair_state() == before
    if "mysql_root_password" in " ".join(args):
        assert any(
            m.startswith("mysql_root_password is deprecated, use mysql_admin_password instead")
            for m in run.deprecations()
        ), run.deprecations()
