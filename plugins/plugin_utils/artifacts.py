# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The collection's artifact manifest (meta/artifacts.yml): loading, site overrides, resolution.

Pure functions with no Ansible import, so the lookup plugin onprem.wandb.artifact,
playbooks/bundle.yml's filters and the lab's Python code share one reading of it.
"""

from __future__ import annotations

import copy
import re
import string
from pathlib import Path

import yaml

MANIFEST = Path(__file__).resolve().parents[2] / "meta" / "artifacts.yml"
KINDS = ("toolchains", "apt", "files", "charts", "images")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")

_cache: dict[tuple[str, float], dict] = {}


def load(path: str | Path | None = None) -> dict:
    """The manifest file as shipped (cached by path and modification time); a copy."""
    path = Path(path or MANIFEST)
    key = (str(path), path.stat().st_mtime)
    if key not in _cache:
        with open(path, encoding="utf-8") as fh:
            _cache[key] = yaml.safe_load(fh) or {}
    return copy.deepcopy(_cache[key])


def merge(base: dict, override: dict | None) -> dict:
    """OVERRIDE over BASE: dictionaries merged recursively, anything else replaced; a key
    whose override is None (YAML null) is removed (a site that installs no cert-manager)."""
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def manifest(overrides: dict | None = None, path: str | Path | None = None) -> dict:
    """The shipped manifest with a site's overrides (wandb_artifacts) merged over it."""
    if overrides is not None and not isinstance(overrides, dict):
        raise ValueError(f"wandb_artifacts must be a dictionary, got {type(overrides).__name__}")
    return merge(load(path), overrides)


def fill(template, fields: dict, what: str = "") -> str:
    """TEMPLATE with every {field} replaced; an unknown field is an error naming it."""
    if not isinstance(template, str):
        return template
    names = [part[1] for part in string.Formatter().parse(template) if part[1]]
    missing = sorted({n for n in names if n not in fields})
    if missing:
        raise ValueError(f"{what or template!r}: unknown field(s) {', '.join(missing)} in {template!r}")
    return template.format_map(fields)


def _entry(man: dict, kind: str, name: str) -> dict:
    entries = man.get(kind) or {}
    if kind == "apt":
        entries = entries.get("packages") or {}
    if name not in entries:
        known = ", ".join(sorted(entries)) or "none"
        raise ValueError(f"no artifact {kind}/{name} in the manifest (known: {known})")
    entry = entries[name]
    if kind == "apt" and isinstance(entry, list):
        entry = {"packages": entry}
    return copy.deepcopy(entry)


def split_ref(ref: str) -> tuple[str, str]:
    """'files/minio' -> ('files', 'minio')."""
    kind, sep, name = str(ref).partition("/")
    if not sep or kind not in KINDS or not name:
        raise ValueError(f"artifact reference {ref!r} is not KIND/NAME with KIND one of {', '.join(KINDS)}")
    return kind, name


def file_path(name: str, entry: dict, arch: str = "amd64") -> str:
    """Where a binary sits on the mirror: files/<name>/<version>/linux-<arch>/<binary>."""
    return f"files/{name}/{entry['version']}/linux-{arch}/{entry.get('binary') or name}"


def chart_path(name: str, entry: dict) -> str:
    return f"charts/{name}-{entry['version']}.tgz"


def resolve(man: dict, ref: str, arch: str = "amd64", mirror_url: str = "", **given) -> dict:
    """The entry REF (kind/name) ready to use: templates filled, the sha256 of ARCH, and the
    URL to fetch it from (the mirror's when MIRROR_URL is set, the publisher's otherwise).
    GIVEN overrides entry fields (version=..., tag=...) and adds template fields (distribution=...);
    an image given another tag than its pin's has no digest."""
    kind, name = split_ref(ref)
    entry = _entry(man, kind, name)
    given = {k: v for k, v in given.items() if v not in (None, "")}
    if kind == "images" and "tag" in given and str(given["tag"]) != str(entry.get("tag", "")):
        # The pinned digest is that of the pinned tag: another tag comes without one.
        entry["digest"] = ""
    entry.update(given)
    mirror = str(mirror_url or "").rstrip("/")
    fields = {"name": name, "arch": arch, **{k: v for k, v in entry.items() if not isinstance(v, dict | list)}}
    out = {"kind": kind, "name": name, **entry}
    if kind in ("files", "toolchains"):
        sums = entry.get("sha256") or {}
        out["sha256"] = sums.get(arch, "") if isinstance(sums, dict) else str(sums)
        out["upstream_url"] = fill(entry.get("url", ""), fields, ref)
        if kind == "files":
            out["path"] = file_path(name, entry, arch)
            out["url"] = f"{mirror}/{out['path']}" if mirror else out["upstream_url"]
        else:
            out["url"] = out["upstream_url"]
    elif kind == "charts":
        out["path"] = chart_path(name, entry)
        out["sha256"] = entry.get("sha256") or ""
        out["repo_url"] = f"{mirror}/charts" if mirror else entry.get("repo", "")
        out["url"] = f"{mirror}/{out['path']}" if mirror else ""
    elif kind == "images":
        out["source"] = fill(entry.get("source", ""), fields, ref)
        out["digest"] = entry.get("digest") or ""
    elif kind == "apt" and ("package_version" not in entry or {"distribution", "release"} <= fields.keys()):
        # A pinned group's package version depends on the host's distribution: filled
        # only when it is given (reading the group's version needs neither).
        if "package_version" in entry:
            out["package_version"] = fill(entry["package_version"], fields, ref)
            fields["package_version"] = out["package_version"]
        out["packages"] = [fill(p, fields, ref) for p in entry.get("packages", [])]
    return out


def suite_packages(man: dict, suite: str) -> list[str]:
    """Every package (name or name=version) a bundle carries for SUITE, sorted: those of the
    suite's `groups`, or of every group of apt.packages; groups marked `separate` aside
    (suite_package_sets)."""
    return sorted({p for group in _suite_groups(man, suite, separate=False) for p in group})


def suite_package_sets(man: dict, suite: str) -> list[list[str]]:
    """The packages of SUITE's groups marked `separate: true`, one sorted list per group: each
    resolved on its own, so that a group may pin another version of a package the suite's other
    groups carry (Redis 7 from Debian 12 beside Debian 13's own Redis 8)."""
    return [sorted(set(group)) for group in _suite_groups(man, suite, separate=True)]


def _suite_groups(man: dict, suite: str, separate: bool) -> list[list[str]]:
    spec = suite_spec(man, suite)
    fields = {"distribution": spec["distribution"], "release": spec["release"]}
    groups = (man.get("apt") or {}).get("packages") or {}
    out = []
    for group in spec.get("groups") or groups:
        if group not in groups:
            raise ValueError(f"apt suite {suite!r} lists group {group!r}, which apt.packages does not define")
        entry = groups[group] if isinstance(groups[group], dict) else {}
        if bool(entry.get("separate")) == separate:
            out.append(resolve(man, f"apt/{group}", **fields)["packages"])
    return out


def suite_spec(man: dict, suite: str) -> dict:
    suites = (man.get("apt") or {}).get("suites") or {}
    if suite not in suites:
        raise ValueError(f"apt suite {suite!r} is not in the manifest (known: {', '.join(sorted(suites))})")
    spec = dict(suites[suite])
    spec.setdefault("distribution", "debian")
    spec["release"] = str(spec.get("release", ""))
    return spec


def suite_sources(man: dict, suite: str) -> list[dict]:
    """The package sources a bundle resolves SUITE from, templates filled (deb822 fields)."""
    spec = suite_spec(man, suite)
    apt = man.get("apt") or {}
    mysql = _entry(man, "apt", "mysql") if "mysql" in (apt.get("packages") or {}) else {}
    version = str(mysql.get("version", ""))
    fields = {
        "suite": suite,
        "distribution": spec["distribution"],
        "release": spec["release"],
        "mysql_series": "8.4-lts" if version.startswith("8.4") else ".".join(version.split(".")[:2]),
    }
    out = []
    for name in spec.get("sources") or []:
        source = (apt.get("sources") or {}).get(name)
        if source is None:
            raise ValueError(f"apt suite {suite!r} uses source {name!r}, which apt.sources does not define")
        what = f"apt source {name} of {suite}"
        out.append(
            {
                "name": name,
                "uris": [fill(u, fields, what) for u in source.get("uris", [])],
                "suites": [fill(s, fields, what) for s in source.get("suites", [])],
                "components": [fill(c, fields, what) for c in source.get("components", [])],
                "signed_by": source.get("signed_by", ""),
                # A frozen archive (a snapshot) is past its Release file's Valid-Until.
                "check_valid_until": source.get("check_valid_until", True),
            }
        )
    return out


def parse_image(ref: str) -> dict:
    """An image reference split into registry, repository, tag and digest (Docker's rules:
    the first component is a registry only when it has a dot or a colon, or is localhost)."""
    ref = str(ref).strip()
    if not ref or any(c.isspace() for c in ref):
        raise ValueError(f"{ref!r} is not an image reference")
    rest, _at, digest = ref.partition("@")
    registry = ""
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, rest = first, remainder
    tag = ""
    if ":" in rest.rsplit("/", 1)[-1]:
        rest, tag = rest.rsplit(":", 1)
    if registry in ("index.docker.io", "registry-1.docker.io"):
        registry = "docker.io"
    if registry in ("docker.io", "") and rest.startswith("library/"):
        rest = rest[len("library/") :]
    if digest and not DIGEST.match(digest):
        raise ValueError(f"image {ref!r}: the digest is not sha256:<64 hex>")
    return {"registry": registry, "repository": rest, "tag": tag, "digest": digest}


def image_pins(images: list[str], man: dict, registry: str = "") -> dict:
    """Match every image a chart renders to its pin in the manifest.

    IMAGES are references as rendered (with the site registry in front, or the
    publishers'). An image matches a pin when its repository ends with the pin's
    repository (the site registry may add a project in front) and the tags agree.
    Returns {"pinned": [entry...], "unpinned": [reference...]}, each entry the
    resolved pin plus the reference it was found as; both sorted, no repeats.
    """
    prefix = registry.rstrip("/")
    pins = man.get("images") or {}
    pinned: dict[str, dict] = {}
    unpinned = set()
    for ref in sorted(set(images)):
        if prefix and ref.startswith(prefix + "/"):
            parsed = parse_image(ref[len(prefix) + 1 :])
        else:
            parsed = parse_image(ref)
        match = None
        for name, pin in sorted(pins.items()):
            repo = str(pin.get("repository", ""))
            same_repo = parsed["repository"] == repo or parsed["repository"].endswith("/" + repo)
            if same_repo and str(pin.get("tag", "")) == parsed["tag"]:
                if parsed["digest"] and pin.get("digest") and parsed["digest"] != pin["digest"]:
                    continue
                match = name
                break
        if match is None:
            unpinned.add(ref)
            continue
        entry = resolve(man, f"images/{match}")
        entry["rendered"] = sorted({*pinned.get(match, {}).get("rendered", []), ref})
        pinned[match] = entry
    return {"pinned": [pinned[k] for k in sorted(pinned)], "unpinned": sorted(unpinned)}


def unpinned(man: dict) -> list[str]:
    """The artifacts without a checksum or digest to verify them by: KIND/NAME, sorted."""
    found = []
    for kind in ("toolchains", "files"):
        for name, entry in (man.get(kind) or {}).items():
            if not (entry.get("sha256") or {}).get("amd64"):
                found.append(f"{kind}/{name}")
    for name, entry in (man.get("charts") or {}).items():
        if not entry.get("sha256"):
            found.append(f"charts/{name}")
    for name, entry in (man.get("images") or {}).items():
        if not entry.get("digest"):
            found.append(f"images/{name}")
    return sorted(found)


def validate(man: dict) -> list[str]:
    """What is wrong with the manifest (empty when nothing): unknown kinds, entries without a
    version, checksums that are not sha256, digests that are not sha256:<hex>."""
    errors = []
    for kind in man:
        if kind not in (*KINDS, "schema"):
            errors.append(f"unknown section {kind!r} (known: {', '.join(KINDS)})")
    for kind in ("toolchains", "files", "charts"):
        for name, entry in (man.get(kind) or {}).items():
            if not str(entry.get("version", "")):
                errors.append(f"{kind}/{name}: no version")
            sums = entry.get("sha256")
            values = sums.values() if isinstance(sums, dict) else [sums]
            for value in values:
                if value and not SHA256.match(str(value)):
                    errors.append(f"{kind}/{name}: sha256 {value!r} is not 64 lowercase hex characters")
    for name, entry in (man.get("images") or {}).items():
        if not entry.get("repository") or not str(entry.get("tag", "")):
            errors.append(f"images/{name}: needs a repository and a tag")
        if str(entry.get("tag", "")) == "latest":
            errors.append(f"images/{name}: 'latest' is no pin")
        if entry.get("digest") and not DIGEST.match(str(entry["digest"])):
            errors.append(f"images/{name}: digest {entry['digest']!r} is not sha256:<64 hex>")
    for suite in (man.get("apt") or {}).get("suites") or {}:
        try:
            suite_sources(man, suite)
        except ValueError as exc:
            errors.append(str(exc))
    return errors
