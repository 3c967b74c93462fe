# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Pure helpers to normalise and check CPU architecture names."""

from __future__ import annotations

# Canonical name -> spellings reported by uname, dpkg, rpm, Go, Docker, etc.
_CANONICAL = {
    "x86_64": ("x86_64", "amd64", "x86-64", "x64", "em64t", "intel64"),
    "aarch64": ("aarch64", "arm64", "armv8", "armv8-a", "arm64v8"),
    "i386": ("i386", "i486", "i586", "i686", "x86", "ia32", "386"),
    "armhf": (
        "armhf",
        "armv7l",
        "armv7",
        "armv7hl",
        "arm",
        "armel",
        "armv6l",
        "armv6",
        "armv8l",
    ),
    "ppc64le": ("ppc64le", "ppc64el", "powerpc64le"),
    "ppc64": ("ppc64", "powerpc64"),
    "s390x": ("s390x",),
    "riscv64": ("riscv64",),
    "loongarch64": ("loongarch64", "loong64"),
    "mips64el": ("mips64el", "mips64le"),
}

ALIASES = {alias: canonical for canonical, aliases in _CANONICAL.items() for alias in aliases}

POLICY_VARIABLE = "preflight_allowed_architectures"


def normalize_arch(value):
    """Return the canonical name of an architecture string.

    Unknown names are returned lower-cased and stripped so that they can still
    be compared with an ``allowed`` list written in the same spelling.
    """
    if value is None:
        return ""
    key = str(value).strip().lower().replace(" ", "")
    return ALIASES.get(key, key)


def normalize_allowed(allowed):
    """Normalise a list of allowed architectures, keeping order and dropping duplicates/empties."""
    result = []
    for item in allowed or []:
        name = normalize_arch(item)
        if name and name not in result:
            result.append(name)
    return result


def check_arch(raw, allowed):
    """Check an architecture against a policy.

    Returns a dict with ``ok`` (bool), ``architecture`` (normalised), ``raw``,
    ``allowed`` (normalised list) and ``msg``.
    """
    raw = "" if raw is None else str(raw).strip()
    arch = normalize_arch(raw)
    allowed_norm = normalize_allowed(allowed)
    shown = arch if not raw or raw.lower() == arch else f"{arch} (reported as '{raw}')"
    allowed_text = ", ".join(allowed_norm) if allowed_norm else "(none)"

    if not arch:
        msg = (
            f"Could not determine the CPU architecture of this host; allowed: {allowed_text}. "
            "Pass the architecture option (for example from ansible_facts.architecture) "
            "or check the host."
        )
        ok = False
    elif arch in allowed_norm:
        msg = f"CPU architecture {shown} is allowed (allowed: {allowed_text})."
        ok = True
    else:
        msg = (
            f"CPU architecture {shown} is not allowed; allowed: {allowed_text}. "
            "W&B Server supports x86-64 (Intel/AMD) hosts only; run on an x86_64 host "
            f"or change {POLICY_VARIABLE}."
        )
        ok = False
    return {
        "ok": ok,
        "architecture": arch,
        "raw": raw,
        "allowed": allowed_norm,
        "msg": msg,
    }
