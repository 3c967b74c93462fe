# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers for the scenarios' testinfra tests: reach lab hosts through podman
(fast, no inventory parsing) and run the project's playbooks against the
scenario's own inventory."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import testinfra
import yaml

PROJECT = Path(__file__).resolve().parents[2]
SCENARIO = os.environ.get("MOLECULE_SCENARIO_NAME", "default")
PREFIX = f"wbm-{SCENARIO}"
# The lab cache: generated lab secrets (secrets/), the mirror (mirror/).
CACHE = Path(os.environ.get("WANDB_LAB_CACHE", "/var/cache/onprem-wandb"))


def host(name: str):
    """A testinfra host for the scenario's platform NAME."""
    return testinfra.get_host(f"podman://{PREFIX}-{name}")


def put_file(name: str, path: str, content: str, mode: str = "0600") -> None:
    """Write CONTENT to PATH on host NAME through stdin (a secret never lands on a command line)."""
    subprocess.run(
        [
            "podman",
            "exec",
            "-i",
            f"{PREFIX}-{name}",
            "sh",
            "-c",
            f'umask 077 && cat > "$1" && chmod {mode} "$1"',
            "sh",
            path,
        ],
        input=content,
        text=True,
        check=True,
        capture_output=True,
    )


def playbook(
    *args: str, playbook_path: str = "playbooks/site.yml", env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run ansible-playbook from the project's venv against the scenario inventory (ENV: more variables)."""
    env = {**os.environ, **(env or {})}
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


class Run:
    """A playbook run with Ansible's JSON output (ansible.posix.json): rc, the parsed document, stderr
    (warnings, deprecations) and the wall time."""

    def __init__(self, rc: int, stdout: str, stderr: str, seconds: float):
        self.rc, self.stderr, self.seconds = rc, stderr, seconds
        start = stdout.find("{")
        try:
            self.doc = json.loads(stdout[start:]) if start >= 0 else {}
        except ValueError as exc:
            raise AssertionError(f"no JSON document in the output: {stdout[-2000:]} {stderr[-2000:]}") from exc

    def results(self):
        """(task name, host, result) of every task result, in order."""
        for play in self.doc.get("plays", []):
            for task in play["tasks"]:
                for name, result in task["hosts"].items():
                    yield task["task"]["name"], name, result

    def failures(self) -> list[tuple[str, str, dict]]:
        return [(t, h, r) for t, h, r in self.results() if r.get("failed") or r.get("unreachable")]

    def failed_msgs(self) -> list[str]:
        """The messages of the failed tasks, each on one line."""
        return [" ".join(str(r.get("msg", "")).split()) for _t, _h, r in self.failures() if not r.get("unreachable")]

    def msgs(self, task: str) -> list:
        """The msg of every result of the tasks whose name contains TASK."""
        return [r["msg"] for t, _h, r in self.results() if task in t and "msg" in r]

    def deprecations(self) -> list[str]:
        """The messages of the deprecation warnings the tasks returned."""
        return [d["msg"] for _t, _h, r in self.results() for d in r.get("deprecations", [])]

    def changed(self) -> dict[str, int]:
        return {h: s["changed"] for h, s in self.doc.get("stats", {}).items()}

    def __str__(self) -> str:
        return (
            json.dumps({"rc": self.rc, "failed": self.failed_msgs(), "stats": self.doc.get("stats")})
            + self.stderr[-3000:]
        )


def run_playbook(*args: str, playbook_path: str = "playbooks/site.yml") -> Run:
    """ansible-playbook against the scenario inventory, its result as a Run (JSON output)."""
    started = time.time()
    res = playbook(
        *args,
        playbook_path=playbook_path,
        env={"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json", "ANSIBLE_DEPRECATION_WARNINGS": "1"},
    )
    return Run(res.returncode, res.stdout, res.stderr, time.time() - started)


class Inventory:
    """The scenario's hosts as its inventories describe them: the Molecule inventory's variables
    (host_vars and group_vars, untemplated) and the lab inventory's addresses (lab_ip)."""

    def __init__(self):
        out = subprocess.run(
            [
                str(PROJECT / ".venv" / "bin" / "ansible-inventory"),
                "-i",
                os.environ["MOLECULE_INVENTORY_FILE"],
                "--list",
                "--export",
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=PROJECT,
        ).stdout
        self.data = json.loads(out)
        lab = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "lab-hosts.yml"
        self.lab = yaml.safe_load(lab.read_text())["all"]["hosts"]

    def hosts(self, group: str) -> list[str]:
        return list(self.data.get(group, {}).get("hosts", []))

    def var(self, name: str, var: str):
        return self.data["_meta"]["hostvars"].get(name, {})[var]

    def address(self, name: str) -> str:
        return self.lab[name]["lab_ip"]
