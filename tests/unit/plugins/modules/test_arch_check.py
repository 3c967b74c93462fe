# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.onprem.wandb.plugins.modules import arch_check


def run_module(capsys, args):
    with patch_module_args(args), pytest.raises(SystemExit) as exc_info:
        arch_check.main()
    return exc_info.value.code, json.loads(capsys.readouterr().out)


@pytest.fixture
def machine(monkeypatch):
    def set_machine(value):
        monkeypatch.setattr(arch_check.platform, "machine", lambda: value)

    return set_machine


@pytest.mark.parametrize("detected", ["x86_64", "amd64"])
def test_detected_x86_64_passes(capsys, machine, detected):
    machine(detected)
    rc, out = run_module(capsys, {})
    assert rc == 0
    assert out["changed"] is False
    assert out["architecture"] == "x86_64"
    assert out["raw"] == detected
    assert out["allowed"] == ["x86_64"]
    assert "failed" not in out


@pytest.mark.parametrize("detected, normalized", [("aarch64", "aarch64"), ("arm64", "aarch64")])
def test_detected_arm_fails(capsys, machine, detected, normalized):
    machine(detected)
    rc, out = run_module(capsys, {})
    assert rc == 1
    assert out["failed"] is True
    assert out["changed"] is False
    assert out["architecture"] == normalized
    assert out["raw"] == detected
    assert "W&B Server supports x86-64 (Intel/AMD) hosts only" in out["msg"]
    assert "preflight_allowed_architectures" in out["msg"]
    assert "allowed: x86_64" in out["msg"]


@pytest.mark.parametrize(
    "architecture, allowed, rc",
    [
        ("x86_64", ["x86_64"], 0),
        ("amd64", ["x86_64"], 0),
        ("x86_64", ["amd64"], 0),
        ("aarch64", ["x86_64"], 1),
        ("arm64", ["x86_64", "aarch64"], 0),
        ("i686", ["x86_64"], 1),
    ],
)
def test_architecture_override(capsys, machine, architecture, allowed, rc):
    machine("should-not-be-used")
    code, out = run_module(capsys, {"architecture": architecture, "allowed": allowed})
    assert code == rc
    assert out["raw"] == architecture


def test_check_mode_is_supported(capsys, machine):
    machine("x86_64")
    rc, out = run_module(capsys, {"_ansible_check_mode": True})
    assert rc == 0
    assert out["changed"] is False
    assert "skipped" not in out


def test_undetectable_architecture_fails(capsys, machine):
    machine("")
    rc, out = run_module(capsys, {})
    assert rc == 1
    assert "Could not determine" in out["msg"]
