# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark of the mysql_pair Molecule scenario (not a test; prints numbers).

  python3 benchmarks/mysql.py [--fresh] [--mb 64] [--keep] [--switchover] [--no-converge]

Times `molecule converge -s mysql_pair` (on fresh hosts with --fresh: destroy
and create first) and a re-run (which must change nothing), then loads about
--mb MiB of rows into wandb_local on the primary (with the standby's apply lag
after 2000 one-row commits and after each bulk batch) and measures the standby's
backup unit (dump + gzip + sha256 + off-host copy) and the restore drill's
load into a scratch mysqld, in MB/s of uncompressed dump. With --switchover
(when playbooks/mysql_switchover.yml exists) it also times a switchover and
the switch back. Run it from the project root; the machine's load shows in
the numbers, so compare runs on a quiet host.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

from benchlib import ROOT, backup_unit, changed, load_rows, molecule, podman, project_env, sql, wait_applied

SCENARIO = "mysql_pair"
PREFIX = f"wbm-{SCENARIO}"
PRIMARY = f"{PREFIX}-mysql1"
STANDBY = f"{PREFIX}-mysql2"
TABLE = "wandb_local.bench_rows"


def inventory() -> str:
    found = sorted(Path.home().glob(f".ansible/tmp/molecule.*.{SCENARIO}/inventory/ansible_inventory.yml"))
    if not found:
        sys.exit("no inventory of the mysql_pair scenario: run molecule create/converge first")
    return str(found[-1])


def playbook(path: str, *args: str) -> tuple[float, str]:
    env = project_env(
        ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"),
        ANSIBLE_ROLES_PATH=str(ROOT / "roles"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks",
    )
    cmd = [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", inventory(), str(ROOT / path), *args]
    start = time.monotonic()
    res = subprocess.run(cmd, cwd=ROOT, env=env, text=True, capture_output=True, check=False)
    took = time.monotonic() - start
    if res.returncode != 0:
        sys.exit(f"{path} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    return took, res.stdout


def task_seconds(out: str, name: str) -> float:
    """A task's duration from the profile_tasks summary."""
    match = re.search(re.escape(name) + r"\s*-+\s*([\d.]+)s", out)
    return float(match.group(1)) if match else float("nan")


def small_writes_lag(count: int) -> tuple[float, float]:
    """COUNT single-row transactions on the primary (one client session, as W&B writes): the
    commit rate, and how long after the last commit the standby had applied them all."""
    sql(PRIMARY, "CREATE TABLE IF NOT EXISTS wandb_local.bench_small (id INT PRIMARY KEY, v VARCHAR(64))")
    sql(PRIMARY, "TRUNCATE TABLE wandb_local.bench_small")
    inserts = "".join(f"INSERT INTO wandb_local.bench_small VALUES ({i}, UUID());\n" for i in range(count))
    start = time.monotonic()
    podman(PRIMARY, "mysql", stdin=inserts)
    rate = count / (time.monotonic() - start)
    lag = wait_applied(PRIMARY, STANDBY)
    sql(PRIMARY, "DROP TABLE wandb_local.bench_small")
    return rate, lag


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fresh", action="store_true", help="destroy and create the hosts first")
    parser.add_argument("--mb", type=int, default=64, help="MiB of rows to back up and restore")
    parser.add_argument("--keep", action="store_true", help="keep the hosts (default: keep unless --fresh)")
    parser.add_argument("--switchover", action="store_true", help="also time a switchover and the switch back")
    parser.add_argument("--no-converge", action="store_true", help="use the converged hosts as they are")
    args = parser.parse_args()

    if args.fresh:
        molecule(SCENARIO, "destroy")
        took, _out = molecule(SCENARIO, "create")
        print(f"create (lab hosts):          {took:7.1f} s")
    if not args.no_converge:
        # The pair only: the scenario's MinIO (the backup tests' S3 facility) is not timed.
        took, out = molecule(SCENARIO, "converge", "--", "--limit", "wandb_mysql")
        print(f"converge of the pair:        {took:7.1f} s  changed={changed(out)}")
        took, out = molecule(SCENARIO, "converge", "--", "--limit", "wandb_mysql")
        print(f"re-run (idempotent):         {took:7.1f} s  changed={changed(out)}")

    rate, lag = small_writes_lag(2000)
    print(f"2000 one-row commits:        {rate:7.1f} commits/s; standby applied the last {lag:.2f} s later")

    start = time.monotonic()
    rows, lags = load_rows(PRIMARY, STANDBY, TABLE, args.mb)
    size = float(
        sql(
            PRIMARY,
            "SELECT SUM(data_length + index_length) FROM information_schema.tables WHERE table_schema = 'wandb_local'",
        )
    )
    print(f"loaded {rows} rows ({size / 1e6:.1f} MB in InnoDB) and replicated in {time.monotonic() - start:.1f} s")
    print(
        f"replication lag after each of {len(lags)} bulk batches: max {max(lags):.2f} s, "
        f"last (largest batch) {lags[-1]:.2f} s"
    )

    backup = backup_unit(STANDBY)
    took, status, raw = backup["seconds"], backup["status"], backup["raw_bytes"]
    print(
        f"backup unit:                 {took:7.1f} s  dump {raw / 1e6:.1f} MB -> {status['size'] / 1e6:.1f} MB, "
        f"dump+compress {raw / 1e6 / status['dump_seconds']:.1f} MB/s, whole run {raw / 1e6 / took:.1f} MB/s"
    )

    took, out = playbook("playbooks/mysql_restore.yml", "-e", "mysql_restore_drill=true")
    load = task_seconds(out, "Load the backup into the scratch instance")
    print(
        f"restore drill:               {took:7.1f} s  load {load:.1f} s = {raw / 1e6 / load:.1f} MB/s of dump"
        f" ({'checksums equal' if 'match the source' in out else 'checksums NOT confirmed'})"
    )

    if args.switchover and (ROOT / "playbooks" / "mysql_switchover.yml").exists():
        for direction in ("switchover", "switch back"):
            took, out = playbook("playbooks/mysql_switchover.yml")
            blocked = re.search(r"Writes were refused for ([0-9.]+) s", out)
            refused = f"writes refused {blocked.group(1)} s" if blocked else "writes refused: not reported"
            print(f"{direction + ':':29s}{took:7.1f} s  {refused}")

    sql(PRIMARY, f"DROP TABLE IF EXISTS {TABLE}")
    if args.fresh and not args.keep:
        molecule(SCENARIO, "destroy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
