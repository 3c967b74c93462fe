# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible_collections.onprem.wandb.plugins.plugin_utils import artifacts

ROOT = Path(artifacts.__file__).resolve().parents[2]
DIGEST = "sha256:" + "ab" * 32


@pytest.fixture
def man():
    return artifacts.manifest()


def test_shipped_manifest_is_valid(man):
    assert artifacts.validate(man) == []
    assert man["schema"] == 1


def test_every_go_built_file_carries_a_real_checksum(man):
    # A Go build with the pinned toolchain is reproducible: its digest is pinned, never empty.
    for name, entry in man["files"].items():
        if entry.get("go"):
            assert artifacts.SHA256.match(entry["sha256"]["amd64"]), name


def test_mc_is_pinned_once():
    # The minio role and the MySQL backups both install mc: both read the manifest.
    for role in ("minio", "mysql"):
        text = (ROOT / "roles" / role / "defaults" / "main.yml").read_text()
        assert "DEVELOPMENT.2025" not in text, role
        assert "'files/mc'" in text, role


def test_roles_install_only_packages_the_bundle_carries(man):
    carried = {
        p.split("=")[0]
        for group in man["apt"]["packages"]
        for p in artifacts.resolve(man, f"apt/{group}", distribution="debian", release="12")["packages"]
    }
    for role, keys in {
        "common": ["common_packages"],
        "redis": ["redis_packages"],
        "mysql": ["mysql_packages", "mysql_support_packages", "mysql_vip_keepalived_package"],
    }.items():
        defaults = yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text())
        for key in keys:
            value = defaults[key]
            names = [value] if isinstance(value, str) else value
            for name in names:
                if "{{" in name:
                    continue
                assert name in carried, f"{role}: {key} installs {name}, which meta/artifacts.yml does not carry"


def test_merge_overrides_recursively_and_replaces_lists():
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    out = artifacts.merge(base, {"a": {"c": [3]}, "e": 2})
    assert out == {"a": {"b": 1, "c": [3]}, "d": 1, "e": 2}
    assert base["a"]["c"] == [1, 2]
    assert artifacts.merge(base, {"a": {"b": None}, "d": None}) == {"a": {"c": [1, 2]}}


def test_site_override_changes_one_field(man):
    site = artifacts.manifest(
        {"files": {"minio": {"version": "RELEASE.2025-09-07T16-13-09Z", "sha256": {"amd64": "0" * 64}}}}
    )
    minio = artifacts.resolve(site, "files/minio")
    assert minio["version"] == "RELEASE.2025-09-07T16-13-09Z"
    assert minio["sha256"] == "0" * 64
    assert minio["upstream_url"].endswith("/linux-amd64/archive/minio.RELEASE.2025-09-07T16-13-09Z")
    assert site["files"]["mc"] == man["files"]["mc"]


def test_overrides_must_be_a_dictionary():
    with pytest.raises(ValueError, match="wandb_artifacts must be a dictionary"):
        artifacts.manifest(["files"])


def test_file_from_the_mirror_or_the_publisher(man):
    mc = artifacts.resolve(man, "files/mc", mirror_url="https://mirror.example/")
    assert mc["path"] == "files/mc/DEVELOPMENT.2025-03-13T08-02-18Z/linux-amd64/mc"
    assert mc["url"] == "https://mirror.example/" + mc["path"]
    upstream = artifacts.resolve(man, "files/mc")
    assert (
        upstream["url"] == "https://dl.min.io/client/mc/release/linux-amd64/archive/mc.DEVELOPMENT.2025-03-13T08-02-18Z"
    )


def test_version_given_by_a_role_variable_wins(man):
    mc = artifacts.resolve(man, "files/mc", version="RELEASE.1", mirror_url="http://m")
    assert mc["url"] == "http://m/files/mc/RELEASE.1/linux-amd64/mc"


def test_an_image_given_another_tag_has_no_digest():
    man = artifacts.manifest({"images": {"wandb-local": {"digest": DIGEST}}})
    same = artifacts.resolve(man, "images/wandb-local", tag="0.82.2")
    assert (same["tag"], same["digest"]) == ("0.82.2", DIGEST)
    other = artifacts.resolve(man, "images/wandb-local", tag="0.90.0")
    assert (other["tag"], other["digest"]) == ("0.90.0", "")
    assert other["source"] == "docker://docker.io/wandb/local:0.90.0"
    assert artifacts.resolve(man, "images/wandb-local", tag="")["digest"] == DIGEST


def test_the_wandb_operator_pins_come_from_the_manifest(man):
    # Charts, controller and platform images: read from the manifest, never typed again.
    text = (ROOT / "roles" / "wandb_operator" / "defaults" / "main.yml").read_text()
    for chart in ("operator", "operator-wandb"):
        assert f"'charts/{chart}'" in text, chart
        assert man["charts"][chart]["version"] not in text, chart
    for name in (
        "wandb-controller",
        "wandb-local",
        "wandb-console",
        "wandb-megabinary",
        "wandb-weave-python",
        "otel-collector",
        "alpine-k8s",
    ):
        assert f"'images/{name}'" in text, name
        assert f": {man['images'][name]['tag']}" not in text, name


def test_chart_urls(man):
    chart = artifacts.resolve(man, "charts/traefik", mirror_url="http://m")
    assert chart["repo_url"] == "http://m/charts"
    assert chart["url"] == "http://m/charts/traefik-41.3.0.tgz"
    assert artifacts.resolve(man, "charts/traefik")["repo_url"] == "https://traefik.github.io/charts"


@pytest.mark.parametrize(
    "distribution, release, expected",
    [("debian", "12", "8.0.44-1debian12"), ("ubuntu", "24.04", "8.0.44-1ubuntu24.04")],
)
def test_mysql_package_version_per_distribution(man, distribution, release, expected):
    mysql = artifacts.resolve(man, "apt/mysql", distribution=distribution, release=release)
    assert mysql["package_version"] == expected
    assert f"mysql-server={expected}" in mysql["packages"]


def test_a_pinned_groups_version_needs_no_distribution(man):
    mysql = artifacts.resolve(man, "apt/mysql")
    assert mysql["version"] == "8.0.44"
    assert mysql["package_version"] == "{version}-1{distribution}{release}"


def test_a_template_field_nobody_gives_is_named(man):
    site = artifacts.manifest({"files": {"mc": {"url": "https://x/{flavour}/mc"}}})
    with pytest.raises(ValueError, match="files/mc.*unknown field.*flavour"):
        artifacts.resolve(site, "files/mc")


@pytest.mark.parametrize("ref", ["files", "files/", "blobs/x", "minio"])
def test_bad_references_are_refused(man, ref):
    with pytest.raises(ValueError, match="KIND/NAME"):
        artifacts.resolve(man, ref)


def test_unknown_artifact_lists_the_known_ones(man):
    with pytest.raises(ValueError, match=r"no artifact files/kubectl.*helm, mc, minio"):
        artifacts.resolve(man, "files/kubectl")


def test_suite_sources_and_packages(man):
    sources = artifacts.suite_sources(man, "bookworm")
    assert [s["name"] for s in sources] == ["debian", "debian-security", "mysql"]
    assert sources[0]["suites"] == ["bookworm", "bookworm-updates"]
    assert sources[2]["uris"] == ["http://repo.mysql.com/apt/debian"]
    assert sources[2]["components"] == ["mysql-8.0"]
    packages = artifacts.suite_packages(man, "noble")
    assert "mysql-server=8.0.44-1ubuntu24.04" in packages and "redis-server" in packages
    assert packages == sorted(set(packages))


def test_mysql_84_uses_oracles_lts_component(man):
    site = artifacts.manifest({"apt": {"packages": {"mysql": {"version": "8.4.7"}}}})
    assert artifacts.suite_sources(site, "bookworm")[2]["components"] == ["mysql-8.4-lts"]


def test_unknown_suite_is_named(man):
    with pytest.raises(ValueError, match="apt suite 'buster' is not in the manifest"):
        artifacts.suite_packages(man, "buster")


@pytest.mark.parametrize(
    "ref, expected",
    [
        ("traefik:v3.7.11", ("", "traefik", "v3.7.11", "")),
        ("docker.io/library/traefik:v3.7.11", ("docker.io", "traefik", "v3.7.11", "")),
        ("docker.io/traefik:v3.7.11", ("docker.io", "traefik", "v3.7.11", "")),
        (
            "quay.io/jetstack/cert-manager-controller:v1.21.1",
            ("quay.io", "jetstack/cert-manager-controller", "v1.21.1", ""),
        ),
        ("mirror:5000/wandb/controller:1.22.0@" + DIGEST, ("mirror:5000", "wandb/controller", "1.22.0", DIGEST)),
        ("localhost/lab/pause", ("localhost", "lab/pause", "", "")),
        ("wandb/local@" + DIGEST, ("", "wandb/local", "", DIGEST)),
    ],
)
def test_parse_image(ref, expected):
    got = artifacts.parse_image(ref)
    assert (got["registry"], got["repository"], got["tag"], got["digest"]) == expected


@pytest.mark.parametrize("ref", ["", "a b:1", "x:1@sha256:12"])
def test_parse_image_refuses_garbage(ref):
    with pytest.raises(ValueError):
        artifacts.parse_image(ref)


def test_image_pins_from_rendered_references():
    man = {
        "images": {
            "controller": {"repository": "wandb/controller", "tag": "1.22.0", "digest": DIGEST},
            "cm": {"repository": "jetstack/cert-manager-controller", "tag": "v1.21.1", "digest": ""},
            "traefik": {
                "repository": "traefik",
                "tag": "v3.7.11",
                "source": "docker://docker.io/library/traefik:{tag}",
            },
        }
    }
    rendered = [
        "registry.site:5000/wandb/controller:1.22.0@" + DIGEST,
        "registry.site:5000/traefik:v3.7.11",
        "registry.site:5000/traefik:v3.7.11",
        "registry.site:5000/jetstack/cert-manager-controller:v1.21.1",
        "registry.site:5000/traefik:v3.6.0",
        "quay.io/jetstack/cert-manager-webhook:v1.21.1",
    ]
    out = artifacts.image_pins(rendered, man, "registry.site:5000")
    assert [p["name"] for p in out["pinned"]] == ["cm", "controller", "traefik"]
    assert out["pinned"][2]["rendered"] == ["registry.site:5000/traefik:v3.7.11"]
    assert out["pinned"][2]["source"] == "docker://docker.io/library/traefik:v3.7.11"
    assert out["unpinned"] == ["quay.io/jetstack/cert-manager-webhook:v1.21.1", "registry.site:5000/traefik:v3.6.0"]


def test_image_with_another_digest_than_the_pin_is_unpinned():
    man = artifacts.manifest({"images": {"c": {"repository": "wandb/controller", "tag": "1", "digest": DIGEST}}})
    other = "sha256:" + "cd" * 32
    assert artifacts.image_pins([f"wandb/controller:1@{other}"], man)["unpinned"] == [f"wandb/controller:1@{other}"]


def test_registry_project_in_front_of_the_repository():
    out = artifacts.image_pins(["harbor.site/mirror/traefik:v3.7.11"], artifacts.manifest(), "harbor.site")
    assert [p["name"] for p in out["pinned"]] == ["traefik"]


@pytest.mark.parametrize(
    "override, message",
    [
        ({"files": {"mc": {"sha256": {"amd64": "ABC"}}}}, "files/mc: sha256 'ABC'"),
        ({"files": {"mc": {"version": ""}}}, "files/mc: no version"),
        ({"images": {"x": {"repository": "x", "tag": "latest"}}}, "'latest' is no pin"),
        ({"images": {"x": {"repository": "x", "tag": "1", "digest": "abc"}}}, "is not sha256:<64 hex>"),
        ({"apt": {"suites": {"x": {"sources": ["nope"]}}}}, "uses source 'nope'"),
        ({"blobs": {}}, "unknown section 'blobs'"),
    ],
)
def test_validate_names_what_is_wrong(override, message):
    errors = artifacts.validate(artifacts.manifest(override))
    assert any(message in e for e in errors), errors


def test_a_suite_may_carry_only_some_groups():
    site = artifacts.manifest({"apt": {"suites": {"bookworm": {"groups": ["redis"]}}}})
    assert artifacts.suite_packages(site, "bookworm") == ["redis-server"]
    wrong = artifacts.manifest({"apt": {"suites": {"bookworm": {"groups": ["nope"]}}}})
    with pytest.raises(ValueError, match="lists group 'nope'"):
        artifacts.suite_packages(wrong, "bookworm")


def test_a_separate_group_is_resolved_on_its_own():
    site = artifacts.manifest(
        {
            "apt": {
                "suites": {"trixie": {"groups": ["redis", "redis7"]}, "bookworm": {"groups": ["redis"]}},
                "packages": {"redis7": {"separate": True, "packages": ["redis-tools=7", "redis-server=7"]}},
            }
        }
    )
    assert artifacts.suite_packages(site, "trixie") == ["redis-server"]
    assert artifacts.suite_package_sets(site, "trixie") == [["redis-server=7", "redis-tools=7"]]
    assert artifacts.suite_package_sets(site, "bookworm") == []


def test_unpinned_lists_what_has_no_checksum(man):
    assert "files/mc" not in artifacts.unpinned(man)
    assert "charts/traefik" in artifacts.unpinned(man)
    assert "images/traefik" in artifacts.unpinned(man)
    site = artifacts.manifest({"files": {"mc": {"sha256": {"amd64": ""}}}})
    assert "files/mc" in artifacts.unpinned(site)
