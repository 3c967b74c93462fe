# SPDX-License-Identifier: GPL-3.0-or-later
"""bundle.yml -> mirror.yml -> site.yml: what arrived came from the mirror, and the
failure modes stop early, named, and change nothing."""

import json
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from labtest import host, playbook, recap  # noqa: E402

CACHE = Path(os.environ.get("WANDB_LAB_CACHE", "/var/cache/onprem-wandb"))
BUNDLE = CACHE / "airgap-bundle"  # prepare.yml's
MIRROR = "mirror.wandb-lab.internal"
LOG = "/var/log/nginx/wandb-mirror.access.log"
CA = "/usr/local/share/ca-certificates/onprem-wandb-mirror.crt"


def manifest():
    return json.loads((BUNDLE / "manifest.json").read_text())


def test_the_host_installs_from_the_mirror_over_https():
    h = host("redis1")
    source = h.file("/etc/apt/sources.list.d/onprem-wandb-mirror.sources").content_string
    assert f"URIs: https://{MIRROR}/apt/bookworm" in source
    assert f"https://{MIRROR}/apt/bookworm ./" in h.check_output("apt-cache policy redis-server")
    assert h.package("redis-server").is_installed


def test_the_hosts_are_air_gapped():
    for name in ("redis1", "mirror"):
        assert host(name).run("curl -sS -m 5 -o /dev/null http://deb.debian.org/debian/").rc != 0, name


def test_the_access_log_accounts_for_every_package_installed():
    # apt's history on the W&B host lists every package it installed; each must have been
    # fetched from the mirror (HTTP 200) by that host.
    h = host("redis1")
    history = h.check_output("cat /var/log/apt/history.log")
    installed = re.findall(
        r"([a-z0-9][a-z0-9+.-]*):amd64 \(([^,)]+)", " ".join(re.findall(r"^Install: (.*)$", history, re.M))
    )
    installed += re.findall(
        r"([a-z0-9][a-z0-9+.-]*):all \(([^,)]+)", " ".join(re.findall(r"^Install: (.*)$", history, re.M))
    )
    assert len(installed) > 5, history
    ip = h.interface("eth0").addresses[0]
    log = host("mirror").check_output(f"cat {LOG}")
    fetched = set(
        re.findall(rf"^{re.escape(ip)} \S+ \"GET /apt/bookworm/pool/([^ ]+\.deb) HTTP/[0-9.]+\" 200", log, re.M)
    )
    names = {f.split("_")[0] for f in fetched}
    missing = sorted(f"{n}={v}" for n, v in installed if n not in names)
    assert not missing, f"installed but never fetched from the mirror: {missing}"


def test_the_registry_serves_the_image_the_chart_renders_by_its_digest():
    images = {i["repository"]: i for i in manifest()["images"]}
    probe = images["airgap-probe"]
    out = host("redis1").check_output(
        f"curl -sS -I --cacert {CA} -H 'Accept: application/vnd.oci.image.manifest.v1+json' "
        f"https://{MIRROR}:5000/v2/airgap-probe/manifests/1"
    )
    assert probe["digest"] in out, out


def test_the_chart_repository_lists_the_bundled_chart():
    index = host("redis1").check_output(f"curl -sS --cacert {CA} https://{MIRROR}/charts/index.yaml")
    assert "traefik-41.3.0.tgz" in index, index


def test_a_damaged_bundle_is_refused_naming_the_file_and_nothing_changes():
    m = host("mirror")
    m.check_output(
        "rm -rf /tmp/bad && mkdir -p /tmp/bad/files/x && cp /var/lib/onprem-wandb/bundle/manifest.json /tmp/bad/ "
        "&& echo good > /tmp/bad/files/x/tool && cd /tmp/bad && sha256sum manifest.json files/x/tool > SHA256SUMS "
        "&& echo evil > files/x/tool"
    )
    res = playbook("-e", "mirror_bundle_dir=/tmp/bad", playbook_path="playbooks/mirror.yml")
    out = res.stdout + res.stderr
    assert res.returncode != 0, out
    assert "does not match its SHA256SUMS" in out and "files/x/tool" in out, out
    assert recap(out).get("mirror", 0) == 0, out


def test_an_image_the_manifest_does_not_pin_stops_the_bundle(tmp_path):
    values = {
        "traefik": {"image": {"registry": "", "repository": "airgap-probe", "tag": "2"}, "versionOverride": "v3.6.12"}
    }
    extra = tmp_path / "vars.json"
    extra.write_text(
        json.dumps({"bundle_dir": str(BUNDLE), "bundle_charts": ["traefik"], "bundle_chart_values": values})
    )
    res = playbook("--tags", "bundle_charts", "-e", f"@{extra}", playbook_path="playbooks/bundle.yml")
    out = res.stdout + res.stderr
    assert res.returncode != 0, out
    assert "airgap-probe:2" in out and "does not pin" in out, out
    assert recap(out).get("localhost", 0) == 0, out


def test_an_unreachable_mirror_stops_the_run_naming_it_and_nothing_changes():
    res = playbook("--limit", "redis1", "--tags", "common", "-e", "wandb_mirror_url=https://10.89.51.99")
    out = res.stdout + res.stderr
    assert res.returncode != 0, out
    assert "The site mirror https://10.89.51.99 does not answer" in out, out
    assert recap(out).get("redis1", 0) == 0, out


DIGEST = "sha256:" + "ab" * 32


def _bundle_wandb_charts(tmp_path, overrides: dict):
    """bundle.yml's chart step for W&B's two charts, with a wandb_kubernetes host whose role
    (wandb_operator's chart_values) gives their values; in a bundle directory of its own."""
    helm = next(BUNDLE.glob("files/helm/*/linux-amd64/helm"))
    bundle = tmp_path / "bundle"
    (bundle / helm.relative_to(BUNDLE)).parent.mkdir(parents=True)
    (bundle / helm.relative_to(BUNDLE)).symlink_to(helm)
    (bundle / "charts").mkdir()
    inventory = tmp_path / "kubernetes.yml"
    inventory.write_text("wandb_kubernetes:\n  hosts:\n    k8sadmin:\n")
    extra = tmp_path / "vars.json"
    extra.write_text(
        json.dumps(
            {
                "bundle_dir": str(bundle),
                "bundle_work_dir": str(tmp_path / "work"),
                "bundle_charts": ["operator", "operator-wandb"],
                "wandb_operator_image": {"digest": DIGEST},
                "wandb_operator_values_overrides": overrides,
            }
        )
    )
    res = playbook(
        "-i", str(inventory), "--tags", "bundle_charts", "-e", f"@{extra}", playbook_path="playbooks/bundle.yml"
    )
    return res, res.stdout + res.stderr


def test_the_bundle_renders_wandbs_charts_with_the_values_site_yml_gives_them(tmp_path):
    res, out = _bundle_wandb_charts(tmp_path, {"weave": {"install": False}})
    assert res.returncode == 0, out
    images = out[out.index("Report the images the charts pull") :]
    # The controller with its digest, W&B's images at the manifest's release, from the site registry.
    assert re.search(rf"{MIRROR}:5000/wandb/controller:[0-9.]+@{DIGEST}", images), images
    assert re.search(rf"{MIRROR}:5000/wandb/local:[0-9.]+$", images, re.M), images
    # The site's overrides reach the rendering: no weave, so no weave image.
    assert "wandb/weave-python" not in images, images


def test_a_platform_value_that_pulls_an_unpinned_image_stops_the_bundle(tmp_path):
    res, out = _bundle_wandb_charts(tmp_path, {"redis": {"install": True}})
    assert res.returncode != 0, out
    assert "redis" in out and "does not pin" in out, out
