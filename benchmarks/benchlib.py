# SPDX-License-Identifier: GPL-3.0-or-later
"""What every benchmark script shares: timing a Molecule step of a scenario."""

from __future__ import annotations

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
