# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest
from ansible_collections.onprem.wandb.plugins.module_utils.arch import (
    POLICY_VARIABLE,
    check_arch,
    normalize_allowed,
    normalize_arch,
)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("x86_64", "x86_64"),
        ("amd64", "x86_64"),
        ("AMD64", "x86_64"),
        ("x86-64", "x86_64"),
        ("x64", "x86_64"),
        (" x86_64\n", "x86_64"),
        ("aarch64", "aarch64"),
        ("arm64", "aarch64"),
        ("ARM64", "aarch64"),
        ("i386", "i386"),
        ("i686", "i386"),
        ("i586", "i386"),
        ("x86", "i386"),
        ("armv7l", "armhf"),
        ("armv6l", "armhf"),
        ("ppc64le", "ppc64le"),
        ("ppc64el", "ppc64le"),
        ("s390x", "s390x"),
        ("riscv64", "riscv64"),
        ("sparc64", "sparc64"),
        ("", ""),
        (None, ""),
    ],
)
def test_normalize_arch(raw, expected):
    assert normalize_arch(raw) == expected


def test_normalize_allowed_dedupes_aliases_and_keeps_order():
    assert normalize_allowed(["amd64", "x86_64", "arm64", "", "aarch64"]) == [
        "x86_64",
        "aarch64",
    ]
    assert normalize_allowed(None) == []


@pytest.mark.parametrize("raw", ["x86_64", "amd64", "x86-64", "x64"])
@pytest.mark.parametrize("allowed", [["x86_64"], ["amd64"], ["x64", "aarch64"]])
def test_x86_64_spellings_are_allowed(raw, allowed):
    verdict = check_arch(raw, allowed)
    assert verdict["ok"] is True
    assert verdict["architecture"] == "x86_64"
    assert verdict["raw"] == raw
    assert "x86_64" in verdict["allowed"]
    assert "is allowed" in verdict["msg"]


@pytest.mark.parametrize(
    "raw, normalized",
    [
        ("aarch64", "aarch64"),
        ("arm64", "aarch64"),
        ("i686", "i386"),
        ("armv7l", "armhf"),
    ],
)
def test_other_architectures_fail_with_actionable_message(raw, normalized):
    verdict = check_arch(raw, ["x86_64"])
    assert verdict["ok"] is False
    assert verdict["architecture"] == normalized
    msg = verdict["msg"]
    assert normalized in msg
    assert "allowed: x86_64" in msg
    assert "W&B Server supports x86-64 (Intel/AMD) hosts only" in msg
    assert f"run on an x86_64 host or change {POLICY_VARIABLE}" in msg
    assert POLICY_VARIABLE == "preflight_allowed_architectures"


def test_message_shows_reported_spelling_when_it_differs():
    assert "aarch64 (reported as 'arm64')" in check_arch("arm64", ["x86_64"])["msg"]
    assert "reported as" not in check_arch("aarch64", ["x86_64"])["msg"]


def test_arm_can_be_allowed_by_policy():
    verdict = check_arch("arm64", ["x86_64", "aarch64"])
    assert verdict["ok"] is True
    assert verdict["allowed"] == ["x86_64", "aarch64"]


@pytest.mark.parametrize("raw", ["", None, "   "])
def test_unknown_architecture_fails(raw):
    verdict = check_arch(raw, ["x86_64"])
    assert verdict["ok"] is False
    assert "Could not determine" in verdict["msg"]


def test_empty_allowed_list_rejects_everything():
    verdict = check_arch("x86_64", [])
    assert verdict["ok"] is False
    assert "allowed: (none)" in verdict["msg"]
