# SPDX-License-Identifier: GPL-3.0-or-later
"""What every benchmark script shares: timing a Molecule step of a scenario, commands on lab
hosts, and loading, backing up and restoring a MySQL pair."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def project_env(**extra: str) -> dict[str, str]:
    """The environment of a project tool: the project's virtualenv first on PATH (molecule
    runs ansible-config and ansible-playbook by name), plus EXTRA."""
    env = dict(os.environ)
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess]:
    """Run CMD from the project root with ENV, output captured; return (seconds, result)."""
    start = time.monotonic()
    res = subprocess.run(cmd, cwd=ROOT, env=env, text=True, capture_output=True, check=False)
    return time.monotonic() - start, res


def molecule(scenario: str, *args: str) -> tuple[float, str]:
    """Run `molecule ARGS -s SCENARIO [-- ANSIBLE_ARGS]` from the project root (ARGS may end with
    "--" and arguments for ansible-playbook); return (seconds, stdout). Exit on failure."""
    head, sep, tail = list(args), [], []
    if "--" in head:
        cut = head.index("--")
        head, sep, tail = head[:cut], ["--"], head[cut + 1 :]
    took, res = timed([str(ROOT / ".venv" / "bin" / "molecule"), *head, "-s", scenario, *sep, *tail], project_env())
    if res.returncode != 0:
        sys.exit(f"molecule {' '.join(args)} -s {scenario} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    # molecule writes the ansible-playbook output (recaps included) to stderr.
    return took, res.stdout + res.stderr


def changed(out: str) -> int:
    """The sum of changed= over every play recap in OUT."""
    return sum(int(n) for n in re.findall(r"changed=(\d+)", out))


def podman(container: str, *cmd: str, stdin: str | None = None, check: bool = True) -> str:
    """CMD on the lab host CONTAINER (stdin: STDIN); its stdout. Exit when it fails and CHECK."""
    res = subprocess.run(
        ["podman", "exec", "-i", container, *cmd], input=stdin, text=True, capture_output=True, check=False
    )
    if check and res.returncode != 0:
        sys.exit(f"{' '.join(cmd)[:200]} on {container} failed: {res.stderr.strip()[-2000:]}")
    return res.stdout.strip()


def sql(container: str, query: str) -> str:
    """QUERY as MySQL's root over the socket of CONTAINER; tab-separated rows."""
    return podman(container, "mysql", "-N", "-B", "-e", query)


def wait_applied(primary: str, standby: str) -> float:
    """Seconds from now until STANDBY applied everything PRIMARY has committed."""
    gtid = sql(primary, "SELECT @@GLOBAL.gtid_executed").replace("\\n", "")
    start = time.monotonic()
    sql(standby, f"SELECT WAIT_FOR_EXECUTED_GTID_SET('{gtid}', 600)")
    return time.monotonic() - start


def load_rows(primary: str, standby: str, table: str, mib: int) -> tuple[int, list[float]]:
    """Load about MIB MiB of rows into TABLE on PRIMARY in doubling batches; return the row count
    and, per batch, how long STANDBY took after the primary's commit to apply it."""
    sql(primary, f"DROP TABLE IF EXISTS {table}")
    sql(
        primary,
        f"CREATE TABLE {table} (id BIGINT AUTO_INCREMENT PRIMARY KEY, run VARCHAR(36), payload VARBINARY(1024)); "
        f"INSERT INTO {table} (run, payload) VALUES (UUID(), RANDOM_BYTES(256))",
    )
    target = mib * 1024  # rows of about 1 KiB
    rows = 1
    lags = []
    while rows < target:
        sql(
            primary,
            f"INSERT INTO {table} (run, payload) "
            f"SELECT UUID(), CONCAT(RANDOM_BYTES(256), REPEAT(SHA2(id, 256), 10)) FROM {table} LIMIT {target - rows}",
        )
        lags.append(wait_applied(primary, standby))
        rows = int(sql(primary, f"SELECT COUNT(*) FROM {table}"))
    return rows, lags


def decompressor(path: str) -> str:
    """The command that writes the uncompressed content of the backup PATH to stdout."""
    return "zstd -dc" if path.endswith(".zst") else "gzip -dc"


def backup_unit(host: str) -> dict:
    """Start the backup unit on HOST and wait for it; its status file, the run's seconds and the
    size of the uncompressed dump (raw_bytes)."""
    start = time.monotonic()
    podman(host, "systemctl", "start", "wandb-mysql-backup.service")
    took = time.monotonic() - start
    status = json.loads(podman(host, "cat", "/var/backups/mysql/status.json"))
    raw = int(podman(host, "sh", "-c", f"{decompressor(status['file'])} {status['file']} | wc -c"))
    return {"seconds": took, "status": status, "raw_bytes": raw}
