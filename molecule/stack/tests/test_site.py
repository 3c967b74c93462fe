# SPDX-License-Identifier: GPL-3.0-or-later
import json
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from labtest import assert_verbose_rerun_shows_no_secret, host, playbook  # noqa: E402
from stacktest import REGISTRY  # noqa: E402

# Every W&B host and the Debian suite it installs from (the mirror's apt/<suite>).
SUITES = {"mysql1": "sid", "mysql2": "sid", "redis1": "bookworm", "minio1": "bookworm", "k8sadmin": "trixie"}
HOSTS = list(SUITES)


@pytest.mark.parametrize("name", HOSTS)
def test_mirror_is_the_signed_apt_source(name):
    h = host(name)
    source = h.file("/etc/apt/sources.list.d/onprem-wandb-mirror.sources")
    assert source.exists
    assert f"URIs: http://mirror.wandb-lab.internal/apt/{SUITES[name]}" in source.content_string
    assert "Signed-By: /etc/apt/keyrings/onprem-wandb-mirror.asc" in source.content_string
    assert h.file("/etc/apt/keyrings/onprem-wandb-mirror.asc").content_string.startswith(
        "-----BEGIN PGP PUBLIC KEY BLOCK-----"
    )


@pytest.mark.parametrize("name", HOSTS)
def test_base_packages_came_from_the_mirror(name):
    h = host(name)
    for pkg in ("python3-cryptography", "rsync"):
        assert h.package(pkg).is_installed
    policy = h.check_output("apt-cache policy rsync")
    assert f"http://mirror.wandb-lab.internal/apt/{SUITES[name]} ./" in policy


@pytest.mark.parametrize("name", [*HOSTS, "client", "k8s-cp", "k8s-worker"])
def test_hosts_are_air_gapped(name):
    # The lab network has no route out: the mirror was the only possible source.
    res = host(name).run("curl -sS -m 5 -o /dev/null http://deb.debian.org/debian/")
    assert res.rc != 0


@pytest.mark.parametrize("name", ["k8s-cp", "k8s-worker"])
def test_the_nodes_runtime_holds_only_images_of_the_site_registry(name):
    # Everything the cluster runs (its own images, Traefik, the operator, the probe) was
    # pulled from the mirror's registry, by that registry's name.
    refs = host(name).check_output("ctr --namespace k8s.io images list --quiet").split()
    named = [r for r in refs if not r.startswith("sha256:")]
    assert len(named) >= 4, refs
    assert [r for r in named if not r.startswith(REGISTRY + "/")] == [], named


def test_a_public_image_name_is_looked_up_in_the_site_registry_and_nowhere_else():
    # The runtime is configured per registry: a public name (docker.io/...) resolves to the
    # mirror's registry, which answers that it has no such image; nothing public is reached.
    probe = f"library/onprem-wandb-egress-probe-{uuid.uuid4().hex[:8]}"
    since = host("mirror").check_output("date '+%Y-%m-%d %H:%M:%S'").strip()
    res = host("k8s-worker").run(
        f"ctr --namespace k8s.io images pull --hosts-dir /etc/containerd/certs.d docker.io/{probe}:1"
    )
    assert res.rc != 0, res.stdout
    assert "not found" in res.stderr, res.stderr
    log = host("mirror").check_output(f"journalctl -u docker-registry --no-pager --since '{since}'")
    assert f"/v2/{probe}/manifests/1" in log, log[-3000:]


def test_wrong_architecture_policy_fails_clearly_and_changes_nothing():
    res = playbook(
        "--tags", "preflight", "--limit", "redis1", "-e", json.dumps({"preflight_allowed_architectures": ["aarch64"]})
    )
    out = res.stdout + res.stderr
    assert res.returncode != 0, out
    assert "x86_64" in out and "preflight_allowed_architectures" in out, out
    assert "changed=0" in out and "changed=1" not in out


def test_version_policy_rejects_the_lab_mysql_without_the_lab_override():
    # The lab pins MySQL 9.7.4 and widens the policy for it; without that
    # override the production policy (series 8.0/8.4) must refuse it by name.
    res = playbook(
        "--tags", "preflight", "--limit", "redis1", "-e", json.dumps({"preflight_version_policy_overrides": {}})
    )
    out = res.stdout + res.stderr
    assert res.returncode != 0, out
    assert "9.7.4" in out and "8.0" in out, out
    assert "preflight_version_policy_overrides.mysql" in out, out


def test_mariadb_is_refused_by_name():
    res = playbook(
        "--tags", "preflight", "--limit", "redis1", "-e", json.dumps({"mysql_version": "10.11.19-MariaDB-0+deb12u1"})
    )
    out = res.stdout + res.stderr
    assert res.returncode != 0, out
    assert "MariaDB" in out, out


def test_preflight_passes_with_the_lab_policy():
    res = playbook("--tags", "preflight", "--limit", "redis1")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "failed=0" in res.stdout


def test_a_verbose_rerun_changes_nothing_and_shows_no_secret():
    # The scenario's idempotence check (0 changed on every host) and its secret
    # check in one rerun of site.yml. On the hosts: the MySQL, Redis and W&B
    # passwords, the CA and node keys of MySQL, Redis and MinIO, the W&B key.
    assert_verbose_rerun_shows_no_secret(HOSTS, kept_on_hosts=10)
