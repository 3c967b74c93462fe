# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Pure helpers for a bundle's flat apt repositories: a private apt configuration that
resolves a suite's packages from scratch, and the Release file that indexes them."""

from __future__ import annotations

import hashlib
import re

# apt-get --print-uris: 'URL' FILENAME SIZE HASH
_URI_LINE = re.compile(r"^'(?P<url>[^']+)' (?P<file>\S+) (?P<size>\d+) ?(?P<hash>\S*)$")


def deb822_sources(sources: list[dict]) -> str:
    """The deb822 text of SOURCES (dicts with uris, suites, components, signed_by and an
    optional check_valid_until)."""
    blocks = []
    for source in sources:
        lines = [
            "Types: deb",
            "URIs: " + " ".join(source["uris"]),
            "Suites: " + " ".join(source["suites"]),
            "Components: " + " ".join(source["components"]),
        ]
        if source.get("signed_by"):
            lines.append("Signed-By: " + source["signed_by"])
        if source.get("check_valid_until") is False:
            lines.append("Check-Valid-Until: no")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def apt_options(root: str, archives: str, arch: str = "amd64") -> list[str]:
    """apt-get options that use ROOT as the whole apt state (nothing of the machine's own
    sources, keys, status or cache) and ARCHIVES as the download directory. The dpkg status
    is empty: the suite's packages are resolved with their complete dependency closure."""
    opts = {
        "Dir": root,
        "Dir::State": f"{root}/state",
        "Dir::State::status": f"{root}/status",
        "Dir::Cache": f"{root}/cache",
        "Dir::Cache::archives": archives,
        "Dir::Etc": f"{root}/etc",
        "Dir::Etc::main": "/dev/null",
        "Dir::Etc::parts": f"{root}/etc/apt.conf.d",
        "Dir::Etc::sourcelist": "/dev/null",
        "Dir::Etc::sourceparts": f"{root}/etc/sources.list.d",
        "Dir::Etc::preferences": "/dev/null",
        "Dir::Etc::preferencesparts": f"{root}/etc/preferences.d",
        "Dir::Etc::trusted": "/dev/null",
        "Dir::Etc::trustedparts": "/dev/null",
        "APT::Architecture": arch,
        "APT::Architectures": arch,
        "APT::Install-Recommends": "false",
        "APT::Install-Suggests": "false",
        "Acquire::Languages": "none",
        "Debug::NoLocking": "true",
    }
    return [arg for key, value in opts.items() for arg in ("-o", f"{key}={value}")]


def parse_print_uris(text: str) -> list[dict]:
    """The packages of `apt-get --print-uris install`: [{url, file, size}], in apt's order."""
    found = []
    for line in text.splitlines():
        match = _URI_LINE.match(line.strip())
        if match:
            found.append({"url": match["url"], "file": match["file"], "size": int(match["size"])})
    return found


def release_file(suite: str, origin: str, indexes: dict[str, bytes], date: str, arch: str = "amd64") -> str:
    """The Release text of a flat repository for SUITE whose INDEXES ({name: content}) it lists."""
    lines = [
        f"Origin: {origin}",
        f"Label: {origin} {suite}",
        f"Suite: {suite}",
        f"Codename: {suite}",
        f"Architectures: {arch} all",
        f"Date: {date}",
        "SHA256:",
    ]
    for name in sorted(indexes):
        data = indexes[name]
        lines.append(f" {hashlib.sha256(data).hexdigest()} {len(data)} {name}")
    return "\n".join(lines) + "\n"


def human_size(size: int) -> str:
    """1536 -> '1.5 KiB'."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
