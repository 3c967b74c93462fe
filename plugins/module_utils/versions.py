# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Pure parsing and policy evaluation for component versions.

Nothing in this file performs I/O: the probes live in ``probes.py``.
"""

from __future__ import annotations

import re

COMPONENTS = ("mysql", "redis", "kubernetes", "helm", "minio", "os")

DEFAULT_AURORA_MINIMUM = "3.05.2"

# Servers that answer the MySQL protocol but are not MySQL: always rejected.
REJECTED_MYSQL_FLAVORS = ("mariadb", "tidb")


class VersionError(ValueError):
    """Raised when a version string or a policy value cannot be understood."""


class ParsedVersion:
    """A parsed version.

    ``numbers`` is the tuple used for comparisons (for MinIO, the release
    timestamp ``(Y, M, D, h, m, s)``). ``prerelease`` is a pre-release tag such
    as ``alpha.0.12`` (empty for releases) and ``build`` the vendor/build suffix
    that does not affect ordering.
    """

    def __init__(
        self,
        component,
        raw,
        flavor,
        numbers,
        normalized,
        series="",
        prerelease="",
        build="",
        development=False,
        extra=None,
    ):
        self.component = component
        self.raw = raw
        self.flavor = flavor
        self.numbers = tuple(numbers)
        self.normalized = normalized
        self.series = series
        self.prerelease = prerelease
        self.build = build
        self.development = development
        self.extra = dict(extra or {})

    def as_dict(self):
        return {
            "component": self.component,
            "raw": self.raw,
            "flavor": self.flavor,
            "numbers": list(self.numbers),
            "version": self.normalized,
            "series": self.series,
            "prerelease": self.prerelease,
            "build": self.build,
            "development_build": self.development,
            "extra": dict(self.extra),
        }

    def __repr__(self):
        return f"ParsedVersion({self.as_dict()!r})"

    def __eq__(self, other):
        return isinstance(other, ParsedVersion) and self.as_dict() == other.as_dict()

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = None


# ---------------------------------------------------------------------------
# Generic helpers
# ---------------------------------------------------------------------------

_DOTTED_RE = re.compile(r"^v?(\d+(?:\.\d+)*)$", re.IGNORECASE)
_SEMVER_RE = re.compile(
    r"^v?(?P<nums>\d+(?:\.\d+){0,3})"
    r"(?:-(?P<pre>[0-9A-Za-z][0-9A-Za-z.-]*))?"
    r"(?:\+(?P<build>[0-9A-Za-z][0-9A-Za-z.+-]*))?$",
    re.IGNORECASE,
)
_PRERELEASE_RE = re.compile(r"^(alpha|beta|rc|pre|dev)(?:[.-]?\d.*)?$", re.IGNORECASE)


def _clean(raw):
    if raw is None:
        raise VersionError("no version string")
    text = str(raw).strip()
    if not text:
        raise VersionError("empty version string")
    return text


def _to_numbers(dotted):
    return tuple(int(part) for part in dotted.split("."))


def _dotted(numbers):
    return ".".join(str(n) for n in numbers)


def _series(numbers, length=2):
    return _dotted(numbers[:length])


def _prerelease_key(prerelease):
    """Ordering key: a pre-release sorts before the release with the same numbers (SemVer)."""
    if not prerelease:
        return (1,)
    parts = []
    for part in re.split(r"[.-]", prerelease):
        if part.isdigit():
            parts.append((0, int(part), ""))
        else:
            parts.append((1, 0, part.lower()))
    return (0, tuple(parts))


def version_key(numbers, prerelease=""):
    """Comparison key of a version; numbers are zero padded so that 8.0 == 8.0.0."""
    padded = tuple(numbers) + (0,) * (8 - len(numbers))
    return (padded, _prerelease_key(prerelease))


def compare_versions(a_numbers, b_numbers, a_prerelease="", b_prerelease=""):
    """Return -1, 0 or 1 like the classic cmp()."""
    ka = version_key(a_numbers, a_prerelease)
    kb = version_key(b_numbers, b_prerelease)
    return (ka > kb) - (ka < kb)


def in_series(numbers, series):
    """True when ``numbers`` starts with the numeric parts of ``series`` ('8.0' matches 8.0.44, not 8.4.6)."""
    wanted = series_numbers(series)
    return tuple(numbers[: len(wanted)]) == wanted


def series_numbers(series):
    text = _clean(series)
    match = _DOTTED_RE.match(text)
    if not match:
        raise VersionError(f"invalid series '{text}': expected digits separated by dots, for example '8.0'")
    return _to_numbers(match.group(1))


# ---------------------------------------------------------------------------
# Parsers
# ---------------------------------------------------------------------------

_MYSQL_RE = re.compile(r"^(?P<nums>\d+\.\d+(?:\.\d+)?)(?:[-_+~](?P<build>.*))?$")
_AURORA_RE = re.compile(
    r"^(?P<nums>\d+\.\d+)(?:\.\d+)?[.-]mysql_aurora\.(?P<aurora>\d+(?:\.\d+){1,3})$",
    re.IGNORECASE,
)
_MARIADB_RE = re.compile(r"^(?:5\.5\.5-)?(?P<nums>\d+\.\d+(?:\.\d+)?)(?P<rest>.*)$")
_TIDB_RE = re.compile(r"^(?P<nums>\d+\.\d+(?:\.\d+)?)-TiDB-v?(?P<tidb>\d+(?:\.\d+)*)", re.IGNORECASE)


def parse_mysql(raw):
    """Parse the result of ``SELECT VERSION()`` (or an Aurora engine version).

    Flavors: ``mysql`` (Oracle MySQL, distribution builds, Percona Server),
    ``aurora`` (``8.0.mysql_aurora.3.05.2``), ``mariadb`` and ``tidb``.
    """
    text = _clean(raw)
    lower = text.lower()

    match = _AURORA_RE.match(text)
    if match:
        numbers = _to_numbers(match.group("nums"))
        aurora = match.group("aurora")
        return ParsedVersion(
            "mysql",
            text,
            "aurora",
            numbers,
            f"{_dotted(numbers)}.mysql_aurora.{aurora}",
            series=_series(numbers),
            extra={"aurora_version": aurora},
        )

    if "mariadb" in lower:
        match = _MARIADB_RE.match(text)
        if not match:
            raise VersionError(f"cannot parse MariaDB version '{text}'")
        numbers = _to_numbers(match.group("nums"))
        return ParsedVersion(
            "mysql",
            text,
            "mariadb",
            numbers,
            _dotted(numbers),
            series=_series(numbers),
            build=match.group("rest").lstrip("-"),
        )

    match = _TIDB_RE.match(text)
    if match:
        numbers = _to_numbers(match.group("nums"))
        return ParsedVersion(
            "mysql",
            text,
            "tidb",
            numbers,
            _dotted(numbers),
            series=_series(numbers),
            extra={"tidb_version": match.group("tidb")},
        )

    match = _MYSQL_RE.match(text)
    if not match:
        raise VersionError(f"cannot parse MySQL version '{text}'")
    numbers = _to_numbers(match.group("nums"))
    return ParsedVersion(
        "mysql",
        text,
        "mysql",
        numbers,
        _dotted(numbers),
        series=_series(numbers),
        build=match.group("build") or "",
    )


_REDIS_RE = re.compile(r"^v?(?P<nums>\d+\.\d+(?:\.\d+)?)(?:[-+](?P<build>.*))?$")


def parse_redis(raw, flavor="redis"):
    """Parse ``redis_version`` from ``INFO server``.

    Redis' unstable branch reports 255.255.255; it is flagged as a pre-release.
    """
    text = _clean(raw)
    match = _REDIS_RE.match(text)
    if not match:
        raise VersionError(f"cannot parse Redis version '{text}'")
    numbers = _to_numbers(match.group("nums"))
    prerelease = "unstable" if numbers == (255, 255, 255) else ""
    return ParsedVersion(
        "redis",
        text,
        flavor or "redis",
        numbers,
        _dotted(numbers),
        series=_series(numbers),
        prerelease=prerelease,
        build=match.group("build") or "",
    )


_K8S_DISTRIBUTIONS = ("k3s", "rke2", "k0s", "eks", "gke", "aks", "microk8s")


def _kubernetes_flavor(pre, build):
    for tag in (build or "", pre or ""):
        lower = tag.lower()
        for name in _K8S_DISTRIBUTIONS:
            if lower.startswith(name):
                return name
    return "kubernetes"


def _semver(component, raw):
    text = _clean(raw)
    match = _SEMVER_RE.match(text)
    if not match:
        raise VersionError(f"cannot parse {component} version '{text}'")
    numbers = _to_numbers(match.group("nums"))
    if len(numbers) < 2:
        raise VersionError(f"cannot parse {component} version '{text}': expected at least major.minor")
    pre = match.group("pre") or ""
    build = match.group("build") or ""
    return text, numbers, pre, build


def parse_kubernetes(raw):
    """Parse a Kubernetes ``gitVersion`` such as ``v1.34.1+k3s1`` or ``v1.30.4-eks-a737599``.

    A ``-suffix`` is a pre-release only when it starts with alpha/beta/rc;
    otherwise it is a vendor tag (EKS, GKE, ...) and does not affect ordering.
    """
    text, numbers, pre, build = _semver("Kubernetes", raw)
    flavor = _kubernetes_flavor(pre, build)
    prerelease = pre if pre and _PRERELEASE_RE.match(pre) else ""
    if pre and not prerelease:
        build = pre + ("+" + build if build else "")
    normalized = _dotted(numbers) + ("-" + prerelease if prerelease else "")
    return ParsedVersion(
        "kubernetes",
        text,
        flavor,
        numbers,
        normalized,
        series=_series(numbers),
        prerelease=prerelease,
        build=build,
    )


def parse_helm(raw):
    """Parse Helm's ``{{.Version}}`` or ``--short`` output (``v3.19.0+g3d8990f``)."""
    text, numbers, pre, build = _semver("Helm", raw)
    normalized = _dotted(numbers) + ("-" + pre if pre else "")
    return ParsedVersion(
        "helm",
        text,
        "helm",
        numbers,
        normalized,
        series=_series(numbers),
        prerelease=pre,
        build=build,
    )


_MINIO_RE = re.compile(
    r"(?P<kind>RELEASE|DEVELOPMENT)\."
    r"(?P<ts>(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})T(?P<h>\d{2})[-:](?P<mi>\d{2})[-:](?P<s>\d{2})Z)"
    r"(?P<suffix>[.-][0-9A-Za-z][0-9A-Za-z.-]*)?",
)
_MINIO_DEV_UNDATED_RE = re.compile(r"DEVELOPMENT\.(?P<tag>[A-Za-z]+)\b")


def parse_minio(raw):
    """Parse a MinIO release tag, or the first line of ``minio --version``.

    ``RELEASE.2025-09-07T16-13-09Z`` is compared by its timestamp. Source builds
    report ``DEVELOPMENT.<timestamp>``; they are treated as a release of that date
    with ``development`` set. ``DEVELOPMENT.GOGET`` (a plain ``go install``
    without build flags) carries no date: ``numbers`` is empty.
    """
    text = _clean(raw)
    match = _MINIO_RE.search(text)
    if match:
        numbers = tuple(int(match.group(k)) for k in ("y", "mo", "d", "h", "mi", "s"))
        kind = match.group("kind")
        timestamp = "{:04d}-{:02d}-{:02d}T{:02d}-{:02d}-{:02d}Z".format(*numbers)
        return ParsedVersion(
            "minio",
            text,
            "minio",
            numbers,
            f"{kind}.{timestamp}",
            series=f"{numbers[0]:04d}",
            build=(match.group("suffix") or "").lstrip(".-"),
            development=(kind == "DEVELOPMENT"),
        )
    match = _MINIO_DEV_UNDATED_RE.search(text)
    if match:
        return ParsedVersion(
            "minio",
            text,
            "minio",
            (),
            "DEVELOPMENT.{}".format(match.group("tag")),
            development=True,
        )
    raise VersionError(f"cannot parse MinIO version '{text}': expected RELEASE.YYYY-MM-DDThh-mm-ssZ")


def parse_os_release(text):
    """Parse the contents of /etc/os-release into a dict (shell-style KEY=value lines)."""
    result = {}
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        key = key.strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in ('"', "'"):
            value = value[1:-1]
            if line.split("=", 1)[1].strip().startswith('"'):
                value = re.sub(r'\\(["$`\\])', r"\1", value)
        result[key] = value
    return result


def os_version_from_release(release, raw=None):
    """Build a ParsedVersion from an os-release mapping.

    Releases without ``VERSION_ID`` (Debian testing/sid) are reported by
    codename with ``extra['unversioned']`` set and empty ``numbers``.
    """
    os_id = (release.get("ID") or "").strip().lower()
    if not os_id:
        raise VersionError("os-release has no ID field")
    version_id = (release.get("VERSION_ID") or "").strip()
    codename = (release.get("VERSION_CODENAME") or "").strip().lower()
    pretty = (release.get("PRETTY_NAME") or "").strip()
    if not codename and not version_id:
        # Debian testing/sid: PRETTY_NAME is "Debian GNU/Linux forky/sid".
        match = re.search(r"\b([a-z]+)/sid\b", pretty)
        if match:
            codename = match.group(1)
    if raw is None:
        raw = f"{os_id}:{version_id or codename}"
    extra = {
        "os_id": os_id,
        "os_codename": codename,
        "os_pretty_name": pretty,
        "unversioned": not version_id,
    }
    if version_id:
        match = _DOTTED_RE.match(version_id)
        if not match:
            raise VersionError(f"cannot parse VERSION_ID '{version_id}'")
        numbers = _to_numbers(match.group(1))
        return ParsedVersion("os", raw, os_id, numbers, version_id, series=version_id, extra=extra)
    return ParsedVersion("os", raw, os_id, (), codename or "unknown", series="", extra=extra)


def parse_os(raw):
    """Parse an OS given as ``ID:VERSION`` (``debian:12``, ``ubuntu:24.04``, ``debian:forky/sid``, ``debian``)."""
    text = _clean(raw)
    os_id, _sep, version = text.partition(":")
    os_id = os_id.strip().lower()
    version = version.strip()
    release = {"ID": os_id}
    if _DOTTED_RE.match(version or "x"):
        release["VERSION_ID"] = version
    elif version:
        name = version.lower()
        release["VERSION_CODENAME"] = name.split("/")[0] if name not in ("n/a", "unknown") else ""
        release["PRETTY_NAME"] = text
    return os_version_from_release(release, raw=text)


_PARSERS = {
    "mysql": parse_mysql,
    "redis": parse_redis,
    "kubernetes": parse_kubernetes,
    "helm": parse_helm,
    "minio": parse_minio,
    "os": parse_os,
}


def parse_version(component, raw):
    """Parse ``raw`` with the parser of ``component``."""
    try:
        parser = _PARSERS[component]
    except KeyError:
        raise VersionError(f"unknown component '{component}'") from None
    return parser(raw)


def parse_policy_version(component, value):
    """Parse a policy bound (minimum, recommended, ...) into ``(numbers, prerelease)``.

    Bounds use the component's own notation: ``8.0.32``, ``v1.30``, ``3.19.0``,
    ``RELEASE.2025-04-22T22-12-26Z`` (or just ``2025-04-22``) for MinIO.
    """
    text = _clean(value)
    if component == "minio":
        match = re.match(
            r"^(?:(?:RELEASE|DEVELOPMENT)\.)?(\d{4})-(\d{2})-(\d{2})(?:T(\d{2})[-:](\d{2})[-:](\d{2})Z)?$",
            text,
        )
        if not match:
            raise VersionError(
                f"invalid MinIO policy version '{text}': expected RELEASE.YYYY-MM-DDThh-mm-ssZ or YYYY-MM-DD"
            )
        return tuple(int(g or 0) for g in match.groups()), ""
    match = _SEMVER_RE.match(text)
    if not match:
        raise VersionError(f"invalid {component} policy version '{text}'")
    pre = match.group("pre") or ""
    if component == "kubernetes" and pre and not _PRERELEASE_RE.match(pre):
        pre = ""
    return _to_numbers(match.group("nums")), pre


# ---------------------------------------------------------------------------
# Policy
# ---------------------------------------------------------------------------


def normalize_os_allowed(entries):
    """Normalise ``os_allowed`` entries to a list of ``(id, version_or_None)``.

    Accepts strings (``debian:12``, ``ubuntu:24.04``, ``debian``) and dicts
    (``{id: debian, version: '12'}`` or ``{id: debian, versions: ['12', '13']}``).
    """
    result = []
    for entry in entries or []:
        if isinstance(entry, dict):
            os_id = str(entry.get("id") or entry.get("distribution") or "").strip().lower()
            versions = entry.get("versions")
            if versions is None:
                versions = [entry.get("version")]
            elif not isinstance(versions, (list, tuple)):
                versions = [versions]
        else:
            os_id, _sep, version = str(entry).partition(":")
            os_id = os_id.strip().lower()
            versions = [version]
        if not os_id:
            raise VersionError(f"invalid os_allowed entry {entry!r}: an OS id such as debian or ubuntu is required")
        for version in versions:
            version = "" if version is None else str(version).strip().lower()
            item = (os_id, version or None)
            if item not in result:
                result.append(item)
    return result


def format_os_allowed(entries):
    return [f"{os_id}:{version}" if version else os_id for os_id, version in entries]


def normalize_policy(
    component,
    minimum=None,
    recommended=None,
    maximum_exclusive=None,
    series=None,
    aurora_minimum=DEFAULT_AURORA_MINIMUM,
    allow_development=True,
    os_allowed=None,
    os_allow_unversioned=False,
):
    """Validate the policy values and return the policy dict used by evaluate_policy().

    Raises VersionError for values that cannot be parsed.
    """
    policy = {
        "minimum": minimum or None,
        "recommended": recommended or None,
        "maximum_exclusive": maximum_exclusive or None,
        "series": [str(s).strip() for s in (series or []) if str(s).strip()],
        "aurora_minimum": aurora_minimum or None,
        "allow_development": bool(allow_development),
        "os_allowed": format_os_allowed(normalize_os_allowed(os_allowed)),
        "os_allow_unversioned": bool(os_allow_unversioned),
    }
    for key in ("minimum", "recommended", "maximum_exclusive"):
        if policy[key] is not None:
            policy[key] = str(policy[key]).strip()
            parse_policy_version(component, policy[key])
    for item in policy["series"]:
        series_numbers(item.lstrip("vV"))
    if policy["aurora_minimum"] is not None:
        policy["aurora_minimum"] = str(policy["aurora_minimum"]).strip()
        series_numbers(policy["aurora_minimum"])
    return policy


def _below(parsed, bound):
    numbers, pre = parse_policy_version(parsed.component, bound)
    return compare_versions(parsed.numbers, numbers, parsed.prerelease, pre) < 0


def _human_series(policy):
    return "/".join(s.lstrip("vV") for s in policy.get("series") or [])


def _numeric_checks_apply(parsed):
    """Aurora (no MySQL patch level), undated development builds and unversioned OS releases skip numeric bounds."""
    return not (parsed.flavor == "aurora" or not parsed.numbers)


def meets_recommended(parsed, policy):
    """False only when a recommended version is set, comparable, and not reached."""
    recommended = policy.get("recommended")
    if not recommended or not _numeric_checks_apply(parsed):
        return True
    if parsed.component == "mysql" and parsed.flavor != "mysql":
        return True
    return not _below(parsed, recommended)


_UNVERSIONED_NAMES = ("sid", "testing", "unstable")


def _check_os(parsed, policy, errors):
    allowed = normalize_os_allowed(policy.get("os_allowed"))
    extra = parsed.extra
    os_id = extra.get("os_id") or parsed.flavor
    unversioned = extra.get("unversioned")
    codename = extra.get("os_codename") or ""
    label = f"{os_id} {parsed.normalized}"
    allowed_text = ", ".join(format_os_allowed(allowed))

    same_id = [version for entry_id, version in allowed if entry_id == os_id]
    if allowed and not same_id:
        errors.append(f"{os_id} is not an allowed operating system (allowed: {allowed_text})")
        return False

    if unversioned:
        if (codename and codename in same_id) or any(v in _UNVERSIONED_NAMES for v in same_id if v):
            return True
        if not policy.get("os_allow_unversioned"):
            errors.append(
                "{} is a testing/unstable release without VERSION_ID; unversioned releases are not allowed "
                "(allowed: {}); set os_allow_unversioned to accept it".format(
                    label, allowed_text or "any versioned release"
                )
            )
            return False
        return True

    if allowed and None not in same_id:
        for version in same_id:
            if _DOTTED_RE.match(version):
                if in_series(parsed.numbers, version):
                    return True
            elif version == codename:
                return True
        errors.append(f"{label} is not an allowed release (allowed: {allowed_text})")
        return False
    return True


def evaluate_policy(parsed, policy):
    """Evaluate ``policy`` (from normalize_policy()) for ``parsed``.

    Returns ``(ok, errors, warnings)``. Pure: no I/O, no logging.
    """
    errors = []
    warnings = []
    component = parsed.component
    series = policy.get("series") or []

    if component == "mysql" and parsed.flavor in REJECTED_MYSQL_FLAVORS:
        name = "MariaDB" if parsed.flavor == "mariadb" else "TiDB"
        errors.append(
            "{name} is not MySQL; W&B requires MySQL {series} (found {name} {raw}). Use a MySQL server (or Percona "
            "Server for MySQL, or Amazon Aurora MySQL 3)".format(
                name=name, series=_human_series(policy) or "8.0/8.4", raw=parsed.raw
            )
        )
        return False, errors, warnings

    if component == "minio" and parsed.development:
        if not policy.get("allow_development", True):
            errors.append(f"{parsed.normalized} is a development (source) build and allow_development is false")
        if not parsed.numbers and any(policy.get(k) for k in ("minimum", "maximum_exclusive", "recommended")):
            errors.append(
                f"{parsed.normalized} carries no build date, so it cannot be compared with the policy; build MinIO with "
                "'make' (which stamps DEVELOPMENT.<timestamp>) or pass the version option"
            )

    if component == "os":
        _check_os(parsed, policy, errors)

    if series and parsed.numbers and not any(in_series(parsed.numbers, s.lstrip("vV")) for s in series):
        errors.append("{} is not in series {}".format(parsed.normalized, ", ".join(series)))

    if parsed.flavor == "aurora":
        aurora_minimum = policy.get("aurora_minimum")
        aurora = parsed.extra.get("aurora_version")
        if aurora_minimum and compare_versions(_to_numbers(aurora), series_numbers(aurora_minimum)) < 0:
            errors.append(f"Aurora MySQL {aurora} is older than {aurora_minimum}")

    if _numeric_checks_apply(parsed):
        minimum = policy.get("minimum")
        maximum = policy.get("maximum_exclusive")
        if minimum and _below(parsed, minimum):
            errors.append(f"{parsed.normalized} is older than the minimum {minimum}")
        if maximum and not _below(parsed, maximum):
            errors.append(f"{parsed.normalized} is not below the maximum (exclusive) {maximum}")
        if not errors and not meets_recommended(parsed, policy):
            warnings.append(
                "{} {} is older than the recommended {}; it is accepted, but upgrading is advised".format(
                    component, parsed.normalized, policy["recommended"]
                )
            )

    if parsed.prerelease and not errors:
        warnings.append(f"{component} {parsed.normalized} is a pre-release build ({parsed.prerelease})")

    return not errors, errors, warnings


def describe_policy(component, policy, flavor=None):
    """Human readable summary of a policy, e.g. ``series 8.0, minimum 8.0.32 (recommended 8.0.44)``.

    With ``flavor='aurora'`` the Aurora minimum replaces the MySQL minimum/recommended versions.
    """
    aurora = component == "mysql" and flavor == "aurora"
    parts = []
    if component == "os" and policy.get("os_allowed"):
        text = "one of " + ", ".join(policy["os_allowed"])
        if policy.get("os_allow_unversioned"):
            text += " (testing/unstable accepted)"
        parts.append(text)
    if policy.get("series"):
        parts.append("series " + " or ".join(policy["series"]))
    if policy.get("minimum") and not aurora:
        parts.append("minimum " + policy["minimum"])
    if policy.get("maximum_exclusive") and not aurora:
        parts.append("below " + policy["maximum_exclusive"])
    if aurora and policy.get("aurora_minimum"):
        parts.append("Aurora MySQL {} or later".format(policy["aurora_minimum"]))
    if component == "minio" and not policy.get("allow_development", True):
        parts.append("no development builds")
    text = ", ".join(parts) if parts else "no constraints"
    if policy.get("recommended") and not aurora:
        text += " (recommended {})".format(policy["recommended"])
    return text


def describe_version(parsed):
    """Short label such as ``8.0.44 (8.0.44-0ubuntu0.24.04.1)`` or ``MariaDB 10.11.19``."""
    if parsed.component == "mysql" and parsed.flavor == "mariadb":
        label = f"MariaDB {parsed.normalized}"
    elif parsed.component == "mysql" and parsed.flavor == "tidb":
        label = f"TiDB (MySQL {parsed.normalized})"
    elif parsed.flavor == "aurora":
        label = "Aurora MySQL {} (MySQL {})".format(parsed.extra.get("aurora_version"), parsed.series)
    elif parsed.component == "os":
        label = parsed.flavor + " " + parsed.normalized
        if parsed.extra.get("unversioned"):
            label += " (testing/unstable, no VERSION_ID)"
    else:
        label = parsed.normalized
    if parsed.raw and parsed.raw != parsed.normalized and parsed.component not in ("os",) and parsed.flavor != "aurora":
        label += f" ({parsed.raw})"
    return label


def format_result(parsed, where, policy, errors, hint=None):
    """Build the final message; ``where`` reads like ``found on 10.0.0.5:3306``."""
    subject = f"{parsed.component} {describe_version(parsed)} {where}"
    required = describe_policy(parsed.component, policy, parsed.flavor)
    if not errors:
        return f"{subject}; satisfies {required}."
    if parsed.component == "mysql" and parsed.flavor in REJECTED_MYSQL_FLAVORS:
        # The product is wrong, not its version: the error already says what to do.
        required = "MySQL" + ("" if required == "no constraints" else ", " + required)
        default_hint = ""
    else:
        default_hint = "Install a version that satisfies the policy, or change the policy."
    text = "{}; required: {}. {}.".format(subject, required, "; ".join(e.rstrip(".") for e in errors))
    hint = (hint or "").strip() or default_hint
    return f"{text} {hint}".rstrip()


def mask_secrets(text, secrets):
    """Replace every non-empty secret in ``text`` by ``********``."""
    text = "" if text is None else str(text)
    for secret in secrets or []:
        if secret:
            text = text.replace(str(secret), "********")
    return text
