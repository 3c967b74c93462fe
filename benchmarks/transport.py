# SPDX-License-Identifier: GPL-3.0-or-later
"""How Ansible reaches the lab hosts, measured: podman exec as root (the containers.podman
connection) against SSH as a non-root user with sudo (the lab's way, like a site's), on the
same hosts of a scenario, alternating the two so both see the same machine load.

  .venv/bin/python benchmarks/transport.py [--scenario redis] [--rounds 3] [--keep]

Prints, per transport, the median wall time of a 50-task playbook (commands, stats and
copies on every host of the scenario) and of the scenario's converge re-run (idempotent),
plus the first converge over SSH for scale.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

import yaml
from benchlib import ROOT, changed, molecule, project_env, timed

FIFTY = (
    [
        {"name": f"Run a command ({i})", "ansible.builtin.command": {"argv": ["true"]}, "changed_when": False}
        for i in range(20)
    ]
    + [{"name": f"Read a file's state ({i})", "ansible.builtin.stat": {"path": "/etc/hostname"}} for i in range(15)]
    + [
        {
            "name": f"Copy a file ({i})",
            "ansible.builtin.copy": {
                "content": f"transport benchmark {i}\n",
                "dest": f"/tmp/transport-{i}",
                "mode": "0644",
            },
        }
        for i in range(15)
    ]
)


def podman_inventory(ephemeral: Path, scenario: str, out: Path) -> Path:
    """The scenario's inventory with every host reached by podman exec as root instead."""
    source = ephemeral / "inventory"
    inventory = yaml.safe_load((source / "ansible_inventory.yml").read_text())
    for group in inventory.values():
        for name, hostvars in (group.get("hosts") or {}).items():
            group["hosts"][name] = {
                **{k: v for k, v in (hostvars or {}).items() if not k.startswith(("ansible_ssh", "ansible_private"))},
                "ansible_connection": "containers.podman.podman",
                "ansible_host": f"wbm-{scenario}-{name}",
                "ansible_user": "root",
                "ansible_become": False,
            }
    out.mkdir(parents=True, exist_ok=True)
    (out / "ansible_inventory.yml").write_text(yaml.safe_dump(inventory))
    for link in ("group_vars", "host_vars"):
        if (source / link).exists():
            (out / link).symlink_to((source / link).resolve())
    return out


def timed_playbook(inventory: Path, playbook: Path, ephemeral: Path) -> tuple[float, int]:
    env = project_env(
        ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"),
        ANSIBLE_ROLES_PATH=str(ROOT / "roles"),
        MOLECULE_EPHEMERAL_DIRECTORY=str(ephemeral),
    )
    took, res = timed([str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", str(inventory), str(playbook)], env)
    if res.returncode != 0:
        sys.exit(f"{playbook} over {inventory} failed:\n{res.stdout[-3000:]}\n{res.stderr[-2000:]}")
    return took, changed(res.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="redis")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the scenario's hosts")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        ephemeral = Path(tmp) / "molecule"
        os.environ["MOLECULE_EPHEMERAL_DIRECTORY"] = str(ephemeral)
        molecule(args.scenario, "destroy")
        molecule(args.scenario, "create")
        took, out = molecule(args.scenario, "converge")
        print(f"first converge over SSH:        {took:7.1f} s  changed={changed(out)}")
        ssh = ephemeral / "inventory"
        podman = podman_inventory(ephemeral, args.scenario, Path(tmp) / "podman-inventory")
        fifty = Path(tmp) / "fifty.yml"
        fifty.write_text(
            yaml.safe_dump([{"name": "Fifty tasks", "hosts": "all", "gather_facts": False, "tasks": FIFTY}])
        )
        converge = ROOT / "molecule" / args.scenario / "converge.yml"
        times: dict[tuple[str, str], list[float]] = {}
        for _round in range(args.rounds):
            for what, playbook in (("50 tasks", fifty), ("converge re-run", converge)):
                for transport, inventory in (("podman exec", podman), ("SSH + sudo", ssh)):
                    took, n = timed_playbook(inventory, playbook, ephemeral)
                    if what == "converge re-run" and n:
                        sys.exit(f"the converge re-run over {transport} changed {n} tasks")
                    times.setdefault((what, transport), []).append(took)
        hosts = len(yaml.safe_load((ssh / "ansible_inventory.yml").read_text())["all"]["hosts"])
        print(f"{hosts} hosts, {args.rounds} rounds, median (min-max) wall time:")
        for (what, transport), values in times.items():
            print(
                f"  {what:16} {transport:12} {statistics.median(values):7.1f} s  ({min(values):.1f}-{max(values):.1f})"
            )
        if not args.keep:
            molecule(args.scenario, "destroy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
