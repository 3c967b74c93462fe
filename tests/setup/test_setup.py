# SPDX-License-Identifier: GPL-3.0-or-later
"""scripts/test setup: this machine is set up by scripts/bootstrap alone. Every program the
project runs comes from a package bootstrap installs, whatever else the machine has."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import setupguard as guard  # noqa: E402

NEEDS = guard.project_needs()
LISTED = guard.read_packages()
GUARANTEED, LIST_PROBLEMS = guard.guaranteed_packages(guard.PACKAGES_FILE)
OWNED_BY = guard.owners(
    t for n in NEEDS.values() for step in guard.resolve(n) or [] for t in guard._usrmerge_twins(step)
)


def test_bootstrap_installs_the_list_and_nothing_else():
    text = (guard.ROOT / "scripts" / "bootstrap").read_text()
    assert guard.PACKAGES_FILE.name in text
    installs = re.findall(r"apt-get install[^\n]*", text)
    assert installs and all('"${missing[@]}"' in line for line in installs), installs
    assert LIST_PROBLEMS == []


def test_the_scan_sees_what_the_lab_is_known_to_run():
    # The guard is only as good as its reading of the sources: these are run for certain
    # (skopeo by the bundle role, which the airgap scenario runs on this machine).
    known = {"podman", "debootstrap", "gpg", "dpkg-scanpackages", "tar", "go", "git", "rsync", "sha256sum", "skopeo"}
    assert known <= set(NEEDS), known - set(NEEDS)
    assert any("lab/lab.py" in why for why in NEEDS["debootstrap"].why)


@pytest.mark.parametrize("name", sorted(NEEDS))
def test_program_comes_from_a_bootstrap_package(name):
    problem = guard.check_need(NEEDS[name], GUARANTEED, guard.PACKAGES_FILE, OWNED_BY)
    assert problem is None, problem


def test_go_builds_use_the_pinned_toolchain_and_the_lab_cache():
    lab = guard._lab_module()
    env = lab.go_env()
    assert env["GOTOOLCHAIN"] == "local" and env["PATH"].startswith(str(lab.go_root() / "bin"))
    assert env["GOCACHE"] == str(lab.CACHE / "go" / "buildcache")
    assert env["GOMODCACHE"] == str(lab.CACHE / "go" / "modcache")
    # Pinned once, in the collection's artifact manifest: no other file names the checksum.
    tracked = subprocess.run(["git", "ls-files"], cwd=guard.ROOT, capture_output=True, text=True, check=True)
    naming = [
        f
        for f in tracked.stdout.split()
        if (guard.ROOT / f).is_file() and lab.GO["sha256"] in (guard.ROOT / f).read_text(errors="replace")
    ]
    assert naming == ["meta/artifacts.yml"], naming
    assert lab.GO["url"].startswith("https://proxy.golang.org/golang.org/toolchain/@v/")


@pytest.mark.parametrize("package", LISTED)
def test_the_guard_fails_without_each_listed_package(package, tmp_path):
    """Every line of the list is needed: without it, a program the project runs is not covered,
    although this machine has it installed."""
    reduced = tmp_path / "bootstrap-packages.txt"
    lines = guard.PACKAGES_FILE.read_text().splitlines()
    reduced.write_text("\n".join(line for line in lines if line.split("#")[0].split() != [package]) + "\n")
    assert package not in guard.read_packages(reduced)
    assert guard.run_guard(reduced, NEEDS), f"the guard passes without {package}"


def test_the_guard_command_fails_without_iptables(tmp_path):
    # The regression that started it: netavark needs iptables, which no package pulls in.
    reduced = tmp_path / "bootstrap-packages.txt"
    reduced.write_text(re.sub(r"(?m)^iptables\b.*\n", "", guard.PACKAGES_FILE.read_text()))
    res = subprocess.run(
        [sys.executable, guard.__file__, "--packages", str(reduced)], capture_output=True, text=True, check=False
    )
    assert res.returncode == 1, res.stdout + res.stderr
    assert "iptables" in res.stderr and "netavark" in res.stderr and "xtables-nft-multi" in res.stderr, res.stderr
