# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers for the scenarios' testinfra tests: reach lab hosts through podman
(fast, no inventory parsing) and run the project's playbooks against the
scenario's own inventory."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import testinfra

PROJECT = Path(__file__).resolve().parents[2]
SCENARIO = os.environ.get("MOLECULE_SCENARIO_NAME", "default")
PREFIX = f"wbm-{SCENARIO}"


def host(name: str):
    """A testinfra host for the scenario's platform NAME."""
    return testinfra.get_host(f"podman://{PREFIX}-{name}")


def playbook(*args: str, playbook_path: str = "playbooks/site.yml") -> subprocess.CompletedProcess:
    """Run ansible-playbook from the project's venv against the scenario inventory."""
    env = dict(os.environ)
    env["ANSIBLE_COLLECTIONS_PATH"] = str(PROJECT / ".collections")
    env["ANSIBLE_ROLES_PATH"] = str(PROJECT / "roles")
    env["ANSIBLE_NOCOLOR"] = "1"
    env.pop("ANSIBLE_CONFIG", None)
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    cmd = [str(PROJECT / ".venv" / "bin" / "ansible-playbook"), "-i", inventory, str(PROJECT / playbook_path), *args]
    return subprocess.run(cmd, env=env, cwd=PROJECT, text=True, capture_output=True, timeout=600, check=False)


def recap(out: str) -> dict[str, int]:
    """Changed tasks per host from the play recap(s) in OUT."""
    return {m[0]: int(m[1]) for m in re.findall(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)", out, re.M)}
