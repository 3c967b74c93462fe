# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Pure helpers for playbooks/verify.yml: check records and their table.

A check record is ``{check, status, result, action}`` with status one of
ok, warn, fail, skip.
"""

from __future__ import annotations

import datetime

STATUSES = ("ok", "warn", "fail", "skip")


def _parse_not_after(value: str) -> datetime.datetime:
    # community.crypto writes ASN.1 time: 20270101000000Z
    return datetime.datetime.strptime(value, "%Y%m%d%H%M%SZ").replace(tzinfo=datetime.UTC)


def certificate_expiry(
    info: dict, check: str, warn_days: int, action: str, now: datetime.datetime | None = None
) -> dict:
    """A check record from community.crypto.x509_certificate_info's result.

    Expired (or unreadable) fails; fewer than WARN_DAYS days left warns.
    """
    now = now or datetime.datetime.now(datetime.UTC)
    not_after = (info or {}).get("not_after")
    if not not_after:
        reason = (info or {}).get("msg") or "no certificate"
        return {"check": check, "status": "fail", "result": f"cannot read it: {reason}", "action": action}
    expires = _parse_not_after(not_after)
    days = (expires - now).total_seconds() / 86400
    names = ", ".join(n.split(":", 1)[-1] for n in (info.get("subject_alt_name") or []))
    when = f"expires {expires:%Y-%m-%d}"
    if days < 0:
        return {"check": check, "status": "fail", "result": f"expired {expires:%Y-%m-%d}", "action": action}
    status = "warn" if days < int(warn_days) else "ok"
    result = f"{when} ({int(days)} days)" + (f"; {names}" if names else "")
    return {"check": check, "status": status, "result": result, "action": action if status != "ok" else ""}


def backup_age(
    status: dict | None,
    check: str,
    max_hours: float,
    action: str,
    set_up: float | None = None,
    now: datetime.datetime | None = None,
) -> dict:
    """A check record from the MySQL backup's status.json (last_success, ISO 8601 UTC).

    SET_UP (epoch seconds) is when the backup was set up: without any backup
    attempt yet, that is a warning while it is younger than MAX_HOURS (the
    first one has not been due), and a failure after.
    """
    now = now or datetime.datetime.now(datetime.UTC)
    status = status or {}
    last = status.get("last_success")
    if not last:
        if set_up is not None and not status.get("last_attempt"):
            age = (now.timestamp() - float(set_up)) / 3600
            if age < float(max_hours):
                result = f"no backup yet: set up {age:.1f} h ago, the first is due within {float(max_hours):.0f} h"
                return {"check": check, "status": "warn", "result": result, "action": action}
        seen = (
            f"last attempt {status['last_attempt']} {status.get('status', '')}".strip()
            if status.get("last_attempt")
            else "none"
        )
        return {"check": check, "status": "fail", "result": f"no successful backup ({seen})", "action": action}
    when = datetime.datetime.fromisoformat(last.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    hours = (now - when).total_seconds() / 3600
    ok = hours < float(max_hours)
    result = f"{last} ({hours:.1f} h ago)" + (f" on {status['host']}" if status.get("host") else "")
    if status.get("status") == "failed":
        result += f"; the last attempt failed: {status.get('error', '?')}"
    return {"check": check, "status": "ok" if ok else "fail", "result": result, "action": "" if ok else action}


def verify_table(records: list[dict]) -> list[str]:
    """The records as aligned lines (check | result | what to do when not ok), worst first, then a summary."""
    order = {"fail": 0, "warn": 1, "skip": 2, "ok": 3}
    rows = sorted(records or [], key=lambda r: (order.get(r.get("status"), 0), r.get("check", "")))
    width = max([len(r.get("check", "")) for r in rows] + [5])
    lines = [f"{'check'.ljust(width)}  status  result / what to do"]
    for r in rows:
        status = r.get("status", "fail")
        if status not in STATUSES:
            status = "fail"
        line = f"{r.get('check', '?').ljust(width)}  {status.upper().ljust(6)}  {r.get('result', '')}"
        if r.get("action") and status != "ok":
            line += f"  -> {r['action']}"
        lines.append(line)
    counts = {s: sum(1 for r in rows if r.get("status", "fail") == s) for s in STATUSES}
    bad = sum(1 for r in rows if r.get("status") not in STATUSES)
    counts["fail"] += bad
    lines.append(", ".join(f"{counts[s]} {s}" for s in STATUSES))
    return lines


_IMAGE_PULL = ("ErrImagePull", "ImagePullBackOff")


def _waiting_reason(status: dict) -> str | None:
    waiting = (status.get("state") or {}).get("waiting")
    return (waiting or {}).get("reason") if waiting is not None else None


def pod_ready(pod: dict) -> bool:
    """Running with every container ready, or Succeeded (a finished job)."""
    status = pod.get("status") or {}
    if status.get("phase") == "Succeeded":
        return True
    containers = status.get("containerStatuses") or []
    return status.get("phase") == "Running" and bool(containers) and all(c.get("ready") for c in containers)


def pod_waits_for_image(pod: dict) -> bool:
    """True when the pod is scheduled and what keeps it from running is only pulling images.

    Every container that is not ready (or, for init containers, not done) waits with
    ErrImagePull or ImagePullBackOff; containers behind an init container that waits
    for its image wait with PodInitializing. Anything else (unscheduled, crashing,
    still being created) is not an image wait.
    """
    status = pod.get("status") or {}
    if status.get("phase") not in ("Pending", "Running"):
        return False
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") != "True":
            return False
    pulls = 0
    init_blocked = False
    for c in status.get("initContainerStatuses") or []:
        if c.get("ready") or ((c.get("state") or {}).get("terminated") or {}).get("exitCode") == 0:
            continue
        if _waiting_reason(c) in _IMAGE_PULL:
            pulls += 1
            init_blocked = True
            continue
        return False
    for c in status.get("containerStatuses") or []:
        if c.get("ready"):
            continue
        reason = _waiting_reason(c)
        if reason in _IMAGE_PULL:
            pulls += 1
        elif not (reason == "PodInitializing" and init_blocked):
            return False
    return pulls > 0
