# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime

import pytest
from ansible_collections.onprem.wandb.plugins.plugin_utils.verify import (
    backup_age,
    certificate_expiry,
    pod_ready,
    pod_waits_for_image,
    verify_table,
)

NOW = datetime.datetime(2026, 11, 30, 12, 0, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    "not_after, status, text",
    [
        ("20271130120000Z", "ok", "expires 2027-11-30 (365 days)"),
        ("20261215120000Z", "warn", "(15 days)"),
        ("20261129120000Z", "fail", "expired 2026-11-29"),
    ],
)
def test_certificate_expiry(not_after, status, text):
    record = certificate_expiry(
        {"not_after": not_after, "subject_alt_name": ["DNS:a.example", "IP:10.0.0.1"]}, "c", 30, "renew", NOW
    )
    assert record["status"] == status
    assert text in record["result"]
    assert record["action"] == ("" if status == "ok" else "renew")
    if status != "fail":
        assert record["result"].endswith("a.example, 10.0.0.1")


def test_certificate_expiry_unreadable_fails():
    record = certificate_expiry({"msg": "No such file"}, "c", 30, "renew", NOW)
    assert record["status"] == "fail" and "No such file" in record["result"]
    assert certificate_expiry(None, "c", 30, "renew", NOW)["status"] == "fail"


@pytest.mark.parametrize(
    "status, expected, text",
    [
        ({"last_success": "2026-11-30T02:30:05Z", "status": "success", "host": "db2"}, "ok", "9.5 h ago) on db2"),
        ({"last_success": "2026-11-29T02:30:05+00:00", "status": "success"}, "fail", "33.5 h ago"),
        ({"last_success": "2026-11-30T02:30:05Z", "status": "failed", "error": "disk full"}, "ok", "disk full"),
        ({"last_attempt": "2026-11-30T02:30:05Z", "status": "failed"}, "fail", "no successful backup"),
        (None, "fail", "(none)"),
    ],
)
def test_backup_age(status, expected, text):
    record = backup_age(status, "b", 26, "run it", now=NOW)
    assert record["status"] == expected
    assert text in record["result"]


@pytest.mark.parametrize(
    "hours_ago, status, expected",
    [
        (2, None, "warn"),
        (30, None, "fail"),
        (2, {"last_attempt": "2026-11-30T10:00:00Z", "status": "failed", "error": "x"}, "fail"),
    ],
)
def test_backup_age_before_the_first_backup(hours_ago, status, expected):
    record = backup_age(status, "b", 26, "run it", set_up=NOW.timestamp() - hours_ago * 3600, now=NOW)
    assert record["status"] == expected


def test_verify_table_orders_and_counts():
    lines = verify_table(
        [
            {"check": "a", "status": "ok", "result": "fine", "action": "nothing to do"},
            {"check": "bb", "status": "fail", "result": "broken", "action": "fix it"},
            {"check": "c", "status": "warn", "result": "soon", "action": "renew"},
            {"check": "d", "status": "weird", "result": "?", "action": ""},
        ]
    )
    assert lines[0].startswith("check")
    assert lines[1].startswith("bb  ") and "FAIL" in lines[1] and lines[1].endswith("-> fix it")
    assert "FAIL" in lines[2] and lines[2].startswith("d ")
    assert "WARN" in lines[3]
    assert lines[4].startswith("a ") and "->" not in lines[4]
    assert lines[-1] == "1 ok, 1 warn, 2 fail, 0 skip"


def _status(phase="Pending", init=(), main=(), scheduled="True"):
    def cs(name, state, ready=False):
        return {"name": name, "ready": ready, "state": state}

    return {
        "status": {
            "phase": phase,
            "conditions": [{"type": "PodScheduled", "status": scheduled}],
            "initContainerStatuses": [cs(n, s, r) for n, s, r in init],
            "containerStatuses": [cs(n, s, r) for n, s, r in main],
        }
    }


WAIT_PULL = {"waiting": {"reason": "ImagePullBackOff"}}
ERR_PULL = {"waiting": {"reason": "ErrImagePull"}}
INIT = {"waiting": {"reason": "PodInitializing"}}
RUNNING = {"running": {}}
DONE = {"terminated": {"exitCode": 0, "reason": "Completed"}}


@pytest.mark.parametrize(
    "pod, waits",
    [
        (_status(main=[("app", WAIT_PULL, False)]), True),
        (_status(init=[("init-db", ERR_PULL, False)], main=[("app", INIT, False)]), True),
        (_status(init=[("init-db", DONE, False)], main=[("app", ERR_PULL, False)]), True),
        (_status(phase="Running", main=[("a", RUNNING, True), ("b", WAIT_PULL, False)]), True),
        (_status(main=[("app", INIT, False)]), False),
        (_status(main=[("app", {"waiting": {"reason": "ContainerCreating"}}, False)]), False),
        (_status(main=[("app", {"waiting": {"reason": "CrashLoopBackOff"}}, False)]), False),
        (_status(init=[("init-db", {"running": {}}, False)], main=[("app", INIT, False)]), False),
        (_status(main=[("app", WAIT_PULL, False)], scheduled="False"), False),
        (_status(phase="Failed", main=[("app", WAIT_PULL, False)]), False),
        (_status(phase="Running", main=[("a", RUNNING, True)]), False),
    ],
)
def test_pod_waits_for_image(pod, waits):
    assert pod_waits_for_image(pod) is waits


@pytest.mark.parametrize(
    "pod, ready",
    [
        (_status(phase="Running", main=[("a", RUNNING, True), ("b", RUNNING, True)]), True),
        (_status(phase="Running", main=[("a", RUNNING, True), ("b", WAIT_PULL, False)]), False),
        (_status(phase="Succeeded", main=[("a", DONE, False)]), True),
        (_status(main=[("a", WAIT_PULL, False)]), False),
        ({"status": {"phase": "Running"}}, False),
    ],
)
def test_pod_ready(pod, ready):
    assert pod_ready(pod) is ready
