# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest
from ansible_collections.onprem.wandb.plugins.module_utils.versions import (
    COMPONENTS,
    VersionError,
    compare_versions,
    describe_policy,
    evaluate_policy,
    format_result,
    in_series,
    mask_secrets,
    meets_recommended,
    normalize_os_allowed,
    normalize_policy,
    os_version_from_release,
    parse_os_release,
    parse_policy_version,
    parse_version,
)

HINT = "Set mysql_version or preflight_version_policy.mysql."


def policy(component, **kwargs):
    return normalize_policy(component, **kwargs)


def check(component, raw, **kwargs):
    return evaluate_policy(parse_version(component, raw), policy(component, **kwargs))


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, flavor, numbers, normalized, series, build",
    [
        ("8.0.44", "mysql", (8, 0, 44), "8.0.44", "8.0", ""),
        (
            "8.0.44-0ubuntu0.24.04.1",
            "mysql",
            (8, 0, 44),
            "8.0.44",
            "8.0",
            "0ubuntu0.24.04.1",
        ),
        ("8.4.6", "mysql", (8, 4, 6), "8.4.6", "8.4", ""),
        ("9.7.4-2", "mysql", (9, 7, 4), "9.7.4", "9.7", "2"),
        ("5.7.44-log", "mysql", (5, 7, 44), "5.7.44", "5.7", "log"),
        ("8.0.36-28", "mysql", (8, 0, 36), "8.0.36", "8.0", "28"),
        ("8.0.44-debug", "mysql", (8, 0, 44), "8.0.44", "8.0", "debug"),
        (
            "8.0.mysql_aurora.3.05.2",
            "aurora",
            (8, 0),
            "8.0.mysql_aurora.3.05.2",
            "8.0",
            "",
        ),
        (
            "10.11.19-MariaDB-0+deb12u1",
            "mariadb",
            (10, 11, 19),
            "10.11.19",
            "10.11",
            "MariaDB-0+deb12u1",
        ),
        (
            "5.5.5-10.11.6-MariaDB",
            "mariadb",
            (10, 11, 6),
            "10.11.6",
            "10.11",
            "MariaDB",
        ),
        (
            "11.4.2-MariaDB-ubu2404",
            "mariadb",
            (11, 4, 2),
            "11.4.2",
            "11.4",
            "MariaDB-ubu2404",
        ),
        ("8.0.11-TiDB-v7.5.0", "tidb", (8, 0, 11), "8.0.11", "8.0", ""),
    ],
)
def test_parse_mysql(raw, flavor, numbers, normalized, series, build):
    parsed = parse_version("mysql", raw)
    assert parsed.component == "mysql"
    assert parsed.raw == raw
    assert parsed.flavor == flavor
    assert parsed.numbers == numbers
    assert parsed.normalized == normalized
    assert parsed.series == series
    assert parsed.build == build
    assert parsed.prerelease == ""


def test_parse_aurora_keeps_aurora_version():
    parsed = parse_version("mysql", "8.0.mysql_aurora.3.05.2")
    assert parsed.extra == {"aurora_version": "3.05.2"}
    assert parse_version("mysql", "5.7.mysql_aurora.2.11.2").series == "5.7"


@pytest.mark.parametrize(
    "raw, numbers, prerelease",
    [
        ("7.0.15", (7, 0, 15), ""),
        ("7.2.4", (7, 2, 4), ""),
        ("6.2.14", (6, 2, 14), ""),
        ("8.2.1", (8, 2, 1), ""),
        ("255.255.255", (255, 255, 255), "unstable"),
    ],
)
def test_parse_redis(raw, numbers, prerelease):
    parsed = parse_version("redis", raw)
    assert parsed.numbers == numbers
    assert parsed.normalized == raw
    assert parsed.series == "{}.{}".format(*numbers[:2])
    assert parsed.prerelease == prerelease
    assert parsed.flavor == "redis"


@pytest.mark.parametrize(
    "raw, flavor, numbers, normalized, prerelease, build",
    [
        ("v1.34.1", "kubernetes", (1, 34, 1), "1.34.1", "", ""),
        ("1.34.1", "kubernetes", (1, 34, 1), "1.34.1", "", ""),
        ("v1.34.1+k3s1", "k3s", (1, 34, 1), "1.34.1", "", "k3s1"),
        ("v1.31.2+rke2r1", "rke2", (1, 31, 2), "1.31.2", "", "rke2r1"),
        ("v1.30.4-eks-a737599", "eks", (1, 30, 4), "1.30.4", "", "eks-a737599"),
        ("v1.30.5-gke.1014001", "gke", (1, 30, 5), "1.30.5", "", "gke.1014001"),
        ("v1.37.0-alpha.0", "kubernetes", (1, 37, 0), "1.37.0-alpha.0", "alpha.0", ""),
        (
            "v1.37.0-alpha.0.882+4c1a6f0e3b5d2a",
            "kubernetes",
            (1, 37, 0),
            "1.37.0-alpha.0.882",
            "alpha.0.882",
            "4c1a6f0e3b5d2a",
        ),
        ("v1.35.0-rc.1", "kubernetes", (1, 35, 0), "1.35.0-rc.1", "rc.1", ""),
    ],
)
def test_parse_kubernetes(raw, flavor, numbers, normalized, prerelease, build):
    parsed = parse_version("kubernetes", raw)
    assert parsed.flavor == flavor
    assert parsed.numbers == numbers
    assert parsed.normalized == normalized
    assert parsed.prerelease == prerelease
    assert parsed.build == build
    assert parsed.series == "{}.{}".format(*numbers[:2])


@pytest.mark.parametrize(
    "raw, numbers, normalized, prerelease, build",
    [
        ("v3.19.0+g3d8990f", (3, 19, 0), "3.19.0", "", "g3d8990f"),
        ("v3.22.0", (3, 22, 0), "3.22.0", "", ""),
        ("v4.3.1", (4, 3, 1), "4.3.1", "", ""),
        ("3.14.4", (3, 14, 4), "3.14.4", "", ""),
        ("v4.0.0-rc.1+g1234567", (4, 0, 0), "4.0.0-rc.1", "rc.1", "g1234567"),
    ],
)
def test_parse_helm(raw, numbers, normalized, prerelease, build):
    parsed = parse_version("helm", raw)
    assert (
        parsed.flavor,
        parsed.numbers,
        parsed.normalized,
        parsed.prerelease,
        parsed.build,
    ) == ("helm", numbers, normalized, prerelease, build)


@pytest.mark.parametrize(
    "raw, numbers, normalized, development, build",
    [
        (
            "RELEASE.2025-09-07T16-13-09Z",
            (2025, 9, 7, 16, 13, 9),
            "RELEASE.2025-09-07T16-13-09Z",
            False,
            "",
        ),
        (
            "RELEASE.2025-04-22T22-12-26Z.fips",
            (2025, 4, 22, 22, 12, 26),
            "RELEASE.2025-04-22T22-12-26Z",
            False,
            "fips",
        ),
        (
            "RELEASE.2025-04-22T22-12-26Z.hotfix.7c8e57b0",
            (2025, 4, 22, 22, 12, 26),
            "RELEASE.2025-04-22T22-12-26Z",
            False,
            "hotfix.7c8e57b0",
        ),
        (
            "minio version RELEASE.2025-09-07T16-13-09Z (commit-id=07c3a429bfed433e49018cb0f78a52145d4bedeb)",
            (2025, 9, 7, 16, 13, 9),
            "RELEASE.2025-09-07T16-13-09Z",
            False,
            "",
        ),
        (
            "DEVELOPMENT.2026-02-12T20-18-48Z",
            (2026, 2, 12, 20, 18, 48),
            "DEVELOPMENT.2026-02-12T20-18-48Z",
            True,
            "",
        ),
        (
            "minio version DEVELOPMENT.2026-02-12T20-18-48Z (commit-id=abc)",
            (2026, 2, 12, 20, 18, 48),
            "DEVELOPMENT.2026-02-12T20-18-48Z",
            True,
            "",
        ),
        ("DEVELOPMENT.GOGET", (), "DEVELOPMENT.GOGET", True, ""),
    ],
)
def test_parse_minio(raw, numbers, normalized, development, build):
    parsed = parse_version("minio", raw)
    assert parsed.numbers == numbers
    assert parsed.normalized == normalized
    assert parsed.development is development
    assert parsed.build == build


@pytest.mark.parametrize(
    "raw, os_id, normalized, numbers, unversioned, codename",
    [
        ("debian:12", "debian", "12", (12,), False, ""),
        ("debian:13", "debian", "13", (13,), False, ""),
        ("ubuntu:22.04", "ubuntu", "22.04", (22, 4), False, ""),
        ("Ubuntu:24.04", "ubuntu", "24.04", (24, 4), False, ""),
        ("debian:forky/sid", "debian", "forky", (), True, "forky"),
        ("debian:trixie", "debian", "trixie", (), True, "trixie"),
        ("debian", "debian", "unknown", (), True, ""),
        ("debian:n/a", "debian", "unknown", (), True, ""),
    ],
)
def test_parse_os(raw, os_id, normalized, numbers, unversioned, codename):
    parsed = parse_version("os", raw)
    assert parsed.flavor == os_id
    assert parsed.extra["os_id"] == os_id
    assert parsed.normalized == normalized
    assert parsed.numbers == numbers
    assert parsed.extra["unversioned"] is unversioned
    assert parsed.extra["os_codename"] == codename


DEBIAN_12 = """PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
"""

DEBIAN_SID = """PRETTY_NAME="Debian GNU/Linux forky/sid"
NAME="Debian GNU/Linux"
VERSION_CODENAME=forky
ID=debian
HOME_URL="https://www.debian.org/"
"""

UBUNTU_2404 = """# comment
NAME='Ubuntu'
VERSION_ID="24.04"
VERSION_CODENAME=noble
ID=ubuntu
ID_LIKE=debian
PRETTY_NAME="Ubuntu 24.04.3 LTS"
"""


def test_parse_os_release_and_version():
    release = parse_os_release(DEBIAN_12)
    assert release["ID"] == "debian"
    assert release["VERSION"] == "12 (bookworm)"
    parsed = os_version_from_release(release)
    assert (parsed.flavor, parsed.normalized, parsed.numbers, parsed.series) == (
        "debian",
        "12",
        (12,),
        "12",
    )
    assert parsed.extra == {
        "os_id": "debian",
        "os_codename": "bookworm",
        "os_pretty_name": "Debian GNU/Linux 12 (bookworm)",
        "unversioned": False,
    }
    assert parsed.raw == "debian:12"


def test_os_release_of_sid_is_named_by_codename():
    parsed = os_version_from_release(parse_os_release(DEBIAN_SID))
    assert parsed.normalized == "forky"
    assert parsed.numbers == ()
    assert parsed.extra["unversioned"] is True
    assert parsed.extra["os_pretty_name"] == "Debian GNU/Linux forky/sid"


def test_os_release_codename_from_pretty_name_when_missing():
    parsed = os_version_from_release({"ID": "debian", "PRETTY_NAME": "Debian GNU/Linux trixie/sid"})
    assert parsed.extra["os_codename"] == "trixie"


def test_os_release_single_quotes_and_comments():
    release = parse_os_release(UBUNTU_2404)
    assert release["NAME"] == "Ubuntu"
    assert os_version_from_release(release).normalized == "24.04"


def test_os_release_without_id_is_an_error():
    with pytest.raises(VersionError):
        os_version_from_release({"VERSION_ID": "12"})


@pytest.mark.parametrize(
    "component, raw",
    [
        ("mysql", "not a version"),
        ("mysql", ""),
        ("mysql", None),
        ("redis", "seven"),
        ("kubernetes", "v1"),
        ("helm", "version.BuildInfo{}"),
        ("minio", "minio version unknown"),
        ("os", "   "),
        ("postgres", "16.1"),
    ],
)
def test_unparseable_versions_raise(component, raw):
    with pytest.raises(VersionError):
        parse_version(component, raw)


def test_components_list():
    assert COMPONENTS == ("mysql", "redis", "kubernetes", "helm", "minio", "os")


def test_as_dict_roundtrip():
    data = parse_version("kubernetes", "v1.34.1+k3s1").as_dict()
    assert data["version"] == "1.34.1"
    assert data["numbers"] == [1, 34, 1]
    assert data["flavor"] == "k3s"
    assert parse_version("helm", "v3.22.0") == parse_version("helm", "v3.22.0")
    assert parse_version("helm", "v3.22.0") != parse_version("helm", "v3.22.1")
    assert "ParsedVersion" in repr(parse_version("helm", "v3.22.0"))


# ---------------------------------------------------------------------------
# Comparison helpers
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ((8, 0), (8, 0, 0), 0),
        ((8, 0, 44), (8, 0, 32), 1),
        ((8, 0, 9), (8, 0, 10), -1),
        ((8, 4, 6), (8, 0, 44), 1),
        ((1, 37, 0), (1, 37, 0), 0),
    ],
)
def test_compare_versions(a, b, expected):
    assert compare_versions(a, b) == expected


def test_prerelease_sorts_before_release():
    assert compare_versions((1, 37, 0), (1, 37, 0), "alpha.0", "") == -1
    assert compare_versions((1, 37, 0), (1, 37, 0), "alpha.2", "alpha.10") == -1
    assert compare_versions((1, 37, 0), (1, 37, 0), "beta.0", "alpha.5") == 1
    assert compare_versions((1, 37, 0), (1, 36, 9), "alpha.0", "") == 1


@pytest.mark.parametrize(
    "numbers, series, expected",
    [
        ((8, 0, 44), "8.0", True),
        ((8, 4, 6), "8.0", False),
        ((8, 4, 6), "8.4", True),
        ((8, 0, 44), "8", True),
        ((3, 19, 0), "3", True),
        ((4, 3, 1), "3", False),
        ((24, 4), "24.04", True),
        ((8, 0), "8.0.44", False),
    ],
)
def test_in_series(numbers, series, expected):
    assert in_series(numbers, series) is expected


@pytest.mark.parametrize(
    "component, value, expected",
    [
        ("mysql", "8.0.32", ((8, 0, 32), "")),
        ("kubernetes", "v1.30", ((1, 30), "")),
        ("kubernetes", "v1.37.0-alpha.1", ((1, 37, 0), "alpha.1")),
        ("kubernetes", "v1.30.4-eks-a737599", ((1, 30, 4), "")),
        ("helm", "3.14.0", ((3, 14, 0), "")),
        ("minio", "RELEASE.2025-04-22T22-12-26Z", ((2025, 4, 22, 22, 12, 26), "")),
        ("minio", "2025-04-22T22-12-26Z", ((2025, 4, 22, 22, 12, 26), "")),
        ("minio", "2025-04-22", ((2025, 4, 22, 0, 0, 0), "")),
        ("os", "12", ((12,), "")),
    ],
)
def test_parse_policy_version(component, value, expected):
    assert parse_policy_version(component, value) == expected


@pytest.mark.parametrize(
    "component, value",
    [("mysql", "eight"), ("minio", "8.0.1"), ("minio", "RELEASE.latest")],
)
def test_parse_policy_version_rejects(component, value):
    with pytest.raises(VersionError):
        parse_policy_version(component, value)


# ---------------------------------------------------------------------------
# Policy
# ---------------------------------------------------------------------------

MYSQL_POLICY = {"series": ["8.0"], "minimum": "8.0.32", "recommended": "8.0.44"}


@pytest.mark.parametrize(
    "raw, ok, warns",
    [
        ("8.0.44", True, False),
        ("8.0.45", True, False),
        ("8.0.44-0ubuntu0.24.04.1", True, False),
        ("8.0.36-28", True, True),
        ("8.0.32", True, True),
        ("8.0.31", False, False),
        ("8.4.6", False, False),
        ("9.7.4-2", False, False),
        ("5.7.44-log", False, False),
        ("8.0.mysql_aurora.3.05.2", True, False),
        ("8.0.mysql_aurora.3.08.0", True, False),
        ("8.0.mysql_aurora.3.04.1", False, False),
        ("5.7.mysql_aurora.2.11.2", False, False),
        ("10.11.19-MariaDB-0+deb12u1", False, False),
        ("8.0.11-TiDB-v7.5.0", False, False),
    ],
)
def test_mysql_policy(raw, ok, warns):
    result_ok, errors, warnings = check("mysql", raw, **MYSQL_POLICY)
    assert result_ok is ok
    assert bool(errors) is (not ok)
    assert bool(warnings) is warns


def test_mysql_84_series_allowed_when_listed():
    ok, errors, warnings = check("mysql", "8.4.6", series=["8.0", "8.4"], minimum="8.0.32")
    assert ok and not errors and not warnings


def test_mariadb_is_rejected_by_name_even_without_policy():
    ok, errors, _warnings = check("mysql", "10.11.19-MariaDB-0+deb12u1")
    assert not ok
    assert errors[0].startswith("MariaDB is not MySQL; W&B requires MySQL 8.0/8.4")
    ok, errors, _warnings = check("mysql", "10.11.19-MariaDB-0+deb12u1", series=["8.0"])
    assert "W&B requires MySQL 8.0 " in errors[0]
    assert len(errors) == 1


def test_aurora_uses_aurora_minimum_not_mysql_minimum():
    # 8.0.mysql_aurora.* carries no MySQL patch level: minimum/recommended do not apply.
    parsed = parse_version("mysql", "8.0.mysql_aurora.3.05.2")
    pol = policy(
        "mysql",
        series=["8.0"],
        minimum="8.0.40",
        recommended="8.0.44",
        aurora_minimum="3.05.2",
    )
    assert evaluate_policy(parsed, pol) == (True, [], [])
    assert meets_recommended(parsed, pol) is True
    pol = policy("mysql", aurora_minimum="3.06.0")
    ok, errors, _dummy = evaluate_policy(parsed, pol)
    assert not ok
    assert errors == ["Aurora MySQL 3.05.2 is older than 3.06.0"]


def test_maximum_exclusive():
    assert check("redis", "7.2.4", maximum_exclusive="8.0")[0] is True
    ok, errors, _dummy = check("redis", "8.0.0", maximum_exclusive="8.0")
    assert not ok and "maximum (exclusive) 8.0" in errors[0]


@pytest.mark.parametrize(
    "raw, ok",
    [("7.0.15", True), ("7.2.4", True), ("6.2.14", False), ("255.255.255", False)],
)
def test_redis_policy(raw, ok):
    assert check("redis", raw, minimum="7.0", maximum_exclusive="8.0")[0] is ok


@pytest.mark.parametrize(
    "raw, ok",
    [
        ("v1.34.1", True),
        ("v1.34.1+k3s1", True),
        ("v1.30.4-eks-a737599", True),
        ("v1.29.9", False),
        ("v1.37.0-alpha.0", True),
    ],
)
def test_kubernetes_minimum(raw, ok):
    assert check("kubernetes", raw, minimum="1.30")[0] is ok


def test_kubernetes_prerelease_warns_and_orders_before_release():
    ok, _errors, warnings = check("kubernetes", "v1.37.0-alpha.0", minimum="1.30")
    assert ok and warnings == ["kubernetes 1.37.0-alpha.0 is a pre-release build (alpha.0)"]
    ok, _errors, _dummy = check("kubernetes", "v1.37.0-alpha.0", minimum="1.37.0")
    assert not ok


@pytest.mark.parametrize(
    "raw, ok",
    [
        ("v3.19.0+g3d8990f", True),
        ("v3.22.0", True),
        ("v4.3.1", False),
        ("v3.13.3", False),
    ],
)
def test_helm_series_and_minimum(raw, ok):
    assert check("helm", raw, series=["3"], minimum="3.14.0")[0] is ok


def test_helm_4_accepted_when_series_allows():
    assert check("helm", "v4.3.1", series=["3", "4"], minimum="3.14.0")[0] is True


@pytest.mark.parametrize(
    "raw, ok",
    [
        ("RELEASE.2025-09-07T16-13-09Z", True),
        ("RELEASE.2025-04-22T22-12-26Z.fips", True),
        ("RELEASE.2025-04-22T22-12-25Z", False),
        ("RELEASE.2024-12-18T13-15-44Z", False),
        ("DEVELOPMENT.2026-02-12T20-18-48Z", True),
    ],
)
def test_minio_minimum_by_timestamp(raw, ok):
    assert check("minio", raw, minimum="RELEASE.2025-04-22T22-12-26Z")[0] is ok


def test_minio_development_builds():
    assert check("minio", "DEVELOPMENT.2026-02-12T20-18-48Z", allow_development=True)[0] is True
    ok, errors, _dummy = check("minio", "DEVELOPMENT.2026-02-12T20-18-48Z", allow_development=False)
    assert not ok and "development (source) build" in errors[0]
    # Undated builds cannot be compared with a bound...
    ok, errors, _dummy = check("minio", "DEVELOPMENT.GOGET", minimum="2025-04-22")
    assert not ok and "carries no build date" in errors[0]
    # ...but pass when there is no bound to compare with.
    assert check("minio", "DEVELOPMENT.GOGET")[0] is True


def test_minio_recommended_warning():
    ok, _errors, warnings = check(
        "minio",
        "RELEASE.2025-04-22T22-12-26Z",
        recommended="RELEASE.2025-09-07T16-13-09Z",
    )
    assert ok and len(warnings) == 1


OS_ALLOWED = ["debian:12", "debian:13", "ubuntu:22.04", "ubuntu:24.04"]


@pytest.mark.parametrize(
    "raw, unversioned_ok, ok",
    [
        ("debian:12", False, True),
        ("debian:13", False, True),
        ("ubuntu:22.04", False, True),
        ("ubuntu:24.04", False, True),
        ("debian:11", False, False),
        ("ubuntu:20.04", False, False),
        ("rocky:9.4", False, False),
        ("debian:forky/sid", False, False),
        ("debian:forky/sid", True, True),
        ("rocky:9.4", True, False),
        ("fedora:rawhide", True, False),
    ],
)
def test_os_policy(raw, unversioned_ok, ok):
    assert check("os", raw, os_allowed=OS_ALLOWED, os_allow_unversioned=unversioned_ok)[0] is ok


def test_os_policy_messages():
    _ok, errors, _dummy = check("os", "debian:forky/sid", os_allowed=OS_ALLOWED)
    assert "without VERSION_ID" in errors[0] and "os_allow_unversioned" in errors[0]
    _ok, errors, _dummy = check("os", "rocky:9.4", os_allowed=OS_ALLOWED)
    assert errors == [
        "rocky is not an allowed operating system (allowed: debian:12, debian:13, ubuntu:22.04, ubuntu:24.04)"
    ]
    _ok, errors, _dummy = check("os", "debian:11", os_allowed=OS_ALLOWED)
    assert errors == ["debian 11 is not an allowed release (allowed: debian:12, debian:13, ubuntu:22.04, ubuntu:24.04)"]


@pytest.mark.parametrize(
    "entries, raw, ok",
    [
        (["debian"], "debian:11", True),
        (["debian"], "debian:forky/sid", False),
        (["debian:sid"], "debian:forky/sid", True),
        (["debian:forky"], "debian:forky/sid", True),
        (["debian:bookworm"], "debian:bookworm", True),
        ([{"id": "debian", "versions": ["12", "13"]}], "debian:13", True),
        ([{"id": "debian", "version": 12}], "debian:12", True),
        ([{"id": "ubuntu", "version": "24.04"}], "debian:12", False),
        ([], "rocky:9.4", True),
        ([], "debian:forky/sid", False),
    ],
)
def test_os_allowed_forms(entries, raw, ok):
    assert check("os", raw, os_allowed=entries)[0] is ok


def test_os_versioned_release_matches_codename_entry():
    parsed = os_version_from_release(parse_os_release(DEBIAN_12))
    assert evaluate_policy(parsed, policy("os", os_allowed=["debian:bookworm"]))[0] is True


def test_os_minimum_applies_to_version_id():
    assert check("os", "debian:12", minimum="12")[0] is True
    assert check("os", "debian:11", minimum="12")[0] is False
    # Unversioned releases skip numeric bounds when explicitly accepted.
    assert check("os", "debian:forky/sid", minimum="12", os_allow_unversioned=True)[0] is True


def test_normalize_os_allowed():
    assert normalize_os_allowed(
        [
            "Debian:12",
            "debian:12",
            {"id": "ubuntu", "versions": ["22.04", "24.04"]},
            "debian",
        ]
    ) == [("debian", "12"), ("ubuntu", "22.04"), ("ubuntu", "24.04"), ("debian", None)]
    with pytest.raises(VersionError):
        normalize_os_allowed([{"version": "12"}])
    with pytest.raises(VersionError):
        normalize_os_allowed([":12"])


@pytest.mark.parametrize(
    "component, kwargs",
    [
        ("mysql", {"minimum": "latest"}),
        ("mysql", {"series": ["8.x"]}),
        ("mysql", {"aurora_minimum": "three"}),
        ("minio", {"minimum": "8.0"}),
        ("os", {"os_allowed": [{"name": "debian"}]}),
    ],
)
def test_invalid_policy_values(component, kwargs):
    with pytest.raises(VersionError):
        normalize_policy(component, **kwargs)


def test_normalize_policy_echo():
    pol = normalize_policy("mysql", minimum=" 8.0.32 ", series=["8.0", ""], recommended="8.0.44")
    assert pol == {
        "minimum": "8.0.32",
        "recommended": "8.0.44",
        "maximum_exclusive": None,
        "series": ["8.0"],
        "aurora_minimum": "3.05.2",
        "allow_development": True,
        "os_allowed": [],
        "os_allow_unversioned": False,
    }


def test_meets_recommended():
    pol = policy("mysql", recommended="8.0.44")
    assert meets_recommended(parse_version("mysql", "8.0.44"), pol) is True
    assert meets_recommended(parse_version("mysql", "8.0.40"), pol) is False
    assert meets_recommended(parse_version("mysql", "8.0.40"), policy("mysql")) is True


# ---------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------


def test_failure_message_shape():
    parsed = parse_version("mysql", "9.7.4")
    pol = policy("mysql", **MYSQL_POLICY)
    _ok, errors, _dummy = evaluate_policy(parsed, pol)
    msg = format_result(parsed, "found on 10.0.0.5:3306", pol, errors, HINT)
    assert msg == (
        "mysql 9.7.4 found on 10.0.0.5:3306; required: series 8.0, minimum 8.0.32 (recommended 8.0.44). "
        "9.7.4 is not in series 8.0. Set mysql_version or preflight_version_policy.mysql."
    )


def test_failure_message_default_hint_and_raw_suffix():
    parsed = parse_version("mysql", "8.0.30-0ubuntu0.20.04.2")
    pol = policy("mysql", minimum="8.0.32")
    _ok, errors, _dummy = evaluate_policy(parsed, pol)
    msg = format_result(parsed, "found on db:3306", pol, errors)
    assert msg.startswith("mysql 8.0.30 (8.0.30-0ubuntu0.20.04.2) found on db:3306; required: minimum 8.0.32.")
    assert msg.endswith("Install a version that satisfies the policy, or change the policy.")


def test_success_message():
    parsed = parse_version("redis", "7.2.4")
    pol = policy("redis", minimum="7.0")
    assert format_result(parsed, "found on 127.0.0.1:6379", pol, []) == (
        "redis 7.2.4 found on 127.0.0.1:6379; satisfies minimum 7.0."
    )


def test_mariadb_message():
    parsed = parse_version("mysql", "10.11.19-MariaDB-0+deb12u1")
    pol = policy("mysql", series=["8.0", "8.4"])
    _ok, errors, _dummy = evaluate_policy(parsed, pol)
    msg = format_result(parsed, "found on db:3306", pol, errors, HINT)
    assert "mysql MariaDB 10.11.19 (10.11.19-MariaDB-0+deb12u1) found on db:3306" in msg
    assert "MariaDB is not MySQL; W&B requires MySQL 8.0/8.4" in msg


def test_describe_policy():
    pol = policy(
        "mysql",
        series=["8.0", "8.4"],
        minimum="8.0.32",
        maximum_exclusive="9.0",
        recommended="8.0.44",
    )
    assert describe_policy("mysql", pol) == "series 8.0 or 8.4, minimum 8.0.32, below 9.0 (recommended 8.0.44)"
    assert describe_policy("mysql", pol, "aurora") == "series 8.0 or 8.4, Aurora MySQL 3.05.2 or later"
    assert describe_policy("redis", policy("redis")) == "no constraints"
    assert describe_policy("os", policy("os", os_allowed=["debian:12"], os_allow_unversioned=True)) == (
        "one of debian:12 (testing/unstable accepted)"
    )
    assert describe_policy("minio", policy("minio", allow_development=False)) == "no development builds"


def test_describe_version_labels():
    parsed = parse_version("mysql", "8.0.mysql_aurora.3.05.2")
    pol = policy("mysql")
    assert format_result(parsed, "found on a:3306", pol, []).startswith(
        "mysql Aurora MySQL 3.05.2 (MySQL 8.0) found on"
    )
    parsed = parse_version("os", "debian:forky/sid")
    assert "os debian forky (testing/unstable, no VERSION_ID)" in format_result(parsed, "found", pol, ["x"])
    parsed = parse_version("mysql", "8.0.11-TiDB-v7.5.0")
    assert "TiDB (MySQL 8.0.11)" in format_result(parsed, "found", pol, ["x"])


def test_mask_secrets():
    assert mask_secrets("auth s3cr3t failed for s3cr3t", ["s3cr3t", None, ""]) == "auth ******** failed for ********"
    assert mask_secrets(None, ["x"]) == ""


def test_mariadb_message_without_policy_or_hint():
    parsed = parse_version("mysql", "10.11.19-MariaDB-0+deb12u1")
    pol = policy("mysql")
    ok, errors, _warnings = evaluate_policy(parsed, pol)
    assert not ok
    msg = format_result(parsed, "found on db:3306", pol, errors)
    assert msg.startswith(
        "mysql MariaDB 10.11.19 (10.11.19-MariaDB-0+deb12u1) found on db:3306; "
        "required: MySQL. MariaDB is not MySQL; W&B requires MySQL 8.0/8.4"
    )
    assert msg.endswith("or Amazon Aurora MySQL 3).")
    assert "change the policy" not in msg
    pol = policy("mysql", series=["8.0"])
    assert "required: MySQL, series 8.0." in format_result(parsed, "x", pol, errors)
