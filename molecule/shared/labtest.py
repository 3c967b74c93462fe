# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers for the scenarios' testinfra tests: reach lab hosts through podman
(fast, no inventory parsing) and run the project's playbooks against the
scenario's own inventory."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import time
import urllib.parse
from pathlib import Path

import testinfra
import yaml

PROJECT = Path(__file__).resolve().parents[2]
SCENARIO = os.environ.get("MOLECULE_SCENARIO_NAME", "default")
PREFIX = f"wbm-{SCENARIO}"
# The lab cache: generated lab secrets (secrets/), the bundle the mirror serves (bundle/).
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


# Where the roles keep secrets on their hosts: password files, private keys, and
# files that hold credentials (those repeat the values found elsewhere).
HOST_SECRET_DIRS = [
    "/etc/onprem-wandb",
    "/etc/mysql/onprem-wandb",
    "/etc/mysql/onprem-wandb-tls",
    "/etc/minio",
    "/etc/redis/tls",
]


def known_secrets(names) -> dict[str, bytes]:
    """{where: secret} for every secret the scenario knows: the lab cache's generated secrets,
    the scenario's own generated passwords, and on the hosts NAMES the one-word files (passwords)
    and private keys of the roles' secret directories."""
    found: dict[str, bytes] = {}
    ephemeral = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent"))
    for path in sorted([*(CACHE / "secrets").glob("*"), *ephemeral.glob("*password*")]):
        found[str(path)] = path.read_bytes()
    script = (
        f"find {' '.join(HOST_SECRET_DIRS)} -type f -size -64k 2>/dev/null"
        ' | while read -r f; do printf "%s " "$f"; base64 -w0 "$f"; echo; done'
    )
    for name in names:
        for line in host(name).check_output(script).splitlines():
            path, data = line.split(" ", 1)
            content = base64.b64decode(data)
            if len(content.split()) == 1 and len(content.strip()) >= 8 or b"PRIVATE KEY-----" in content:
                found[f"{name}:{path}"] = content
    return found


def secret_forms(content: bytes) -> set[str]:
    """How a secret kept as CONTENT can show in output: itself (a password file holds one word),
    URL-encoded, base64 (slurp), or a PEM private key's first line (of the EC keys the roles
    make, it carries the private scalar; the later lines hold the public key, which
    certificates and signing requests show)."""
    text = content.decode()
    forms = {base64.b64encode(content).decode()}
    if "PRIVATE KEY-----" in text:
        return forms | {[line for line in text.splitlines() if line and not line.startswith("-----")][0]}
    word = text.strip()
    return forms | {word, urllib.parse.quote(word, safe=""), base64.b64encode(word.encode()).decode()}


def leaked_secrets(output: str, secrets: dict[str, bytes]) -> list[str]:
    """Where each secret of SECRETS that OUTPUT shows is kept, with the output lines that show it
    (the secret itself masked)."""
    leaks = []
    for where, content in secrets.items():
        forms = secret_forms(content)
        lines = [line for line in output.splitlines() if any(f in line for f in forms)]
        if lines:
            masked = [
                re.sub("|".join(map(re.escape, sorted(forms, key=len, reverse=True))), "<SECRET>", line)
                for line in lines
            ]
            leaks.append(f"{where}: {len(lines)} line(s), e.g. {masked[0][:300]}")
    return leaks


def assert_verbose_rerun_shows_no_secret(names, kept_on_hosts: int) -> None:
    """Re-run site.yml with -vvv, which prints every command Ansible runs on a host (with a
    task's environment) and every result without no_log: it must change nothing and show none
    of the secrets the scenario knows, KEPT_ON_HOSTS of them found on the hosts NAMES."""
    secrets = known_secrets(names)
    kept = [where for where in secrets if ":" in where]
    assert len(kept) >= kept_on_hosts and len(secrets) > len(kept), sorted(secrets)
    res = playbook("-vvv")
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    assert re.search(r"^<[\w.-]+> (SSH: EXEC|RUN \[b'/usr/bin/podman', b'exec')", out, re.M), "no command shown"
    assert set(recap(out).values()) == {0}, recap(out)
    assert leaked_secrets(out, secrets) == []
