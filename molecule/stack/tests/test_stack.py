# SPDX-License-Identifier: GPL-3.0-or-later
"""The whole stack converged by site.yml: the W&B operator on the lab's cluster,
its custom resource made from the data layer's contract, W&B's view of MySQL,
Redis and MinIO from inside the cluster, W&B's ingress from a client outside it.

Read from the API and the hosts, never from files the roles wrote. Each test
reads the converged state (or changes something and puts it back), so they run
in any order and can join other scenarios' suites. W&B's application images
cannot be had in this lab: the platform's pods wait for them, and
test_the_application_pods_wait_only_for_their_images asserts exactly that.
"""

from __future__ import annotations

import base64
import gzip
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from labtest import Inventory, host, playbook, put_file, recap  # noqa: E402
from stacktest import (  # noqa: E402
    CR,
    FQDN,
    NAMESPACE,
    REGISTRY,
    bundled_digest,
    get,
    kubectl,
    registry_has,
    root_file,
    run_probe,
    vars_file,
    wait_for,
)

MB = 1024 * 1024
MIRROR_CHARTS = "http://mirror.wandb-lab.internal/charts"


# ---------------------------------------------------------------- the operator
def test_the_operator_runs_the_pinned_controller_from_the_site_registry():
    deployment = get("deployment", selector="control-plane=controller-manager")["items"][0]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    digest = bundled_digest("wandb/controller", "1.22.0")
    assert container["image"] == f"{REGISTRY}/wandb/controller:1.22.0@{digest}"
    assert {"name": "AIRGAPPED", "value": "true"} in container["env"]
    assert deployment["status"]["availableReplicas"] == 1
    pod = get("pod", selector="control-plane=controller-manager")["items"][0]
    status = pod["status"]["containerStatuses"][0]
    # The node pulled exactly that image, as upstream's image runs: uid 65532.
    assert status["imageID"].endswith(digest), status
    assert kubectl("exec", "-n", NAMESPACE, pod["metadata"]["name"], "--", "id", "-u").stdout.strip() == "65532"


def test_the_crd_is_the_charts_and_is_applied_on_every_run():
    crd = json.loads(
        kubectl("get", "crd", "weightsandbiases.apps.wandb.com", "-o", "json", "--show-managed-fields").stdout
    )
    managers = {m["manager"] for m in crd["metadata"]["managedFields"]}
    assert "onprem-wandb" in managers, managers
    # An upgrade brings a changed CRD: changed here by hand, the next run puts it back.
    kubectl("patch", "crd", "weightsandbiases.apps.wandb.com", "--type=json",
            "-p", '[{"op": "replace", "path": "/spec/names/shortNames", "value": ["wandbx"]}]')  # fmt: skip
    result = playbook("--tags", "wandb_operator")
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert get("crd", "weightsandbiases.apps.wandb.com", namespace="")["spec"]["names"]["shortNames"] == ["wandb"]
    assert recap(out)["k8sadmin"] == 1, out


def test_a_chart_package_that_differs_from_its_pin_stops_the_run_before_any_change():
    # The role downloads both W&B charts and checks each against its sha256 before
    # anything changes in the cluster: here the pin of the platform chart is wrong.
    generation = get("weightsandbiases", CR)["metadata"]["generation"]
    wrong = "0" * 64
    res = playbook("--tags", "wandb_operator", "-e", f"wandb_operator_platform_chart_checksum={wrong}")
    out = res.stdout + res.stderr
    assert res.returncode != 0, out
    assert f"(item=operator-wandb 0.43.8 from {MIRROR_CHARTS}/operator-wandb-0.43.8.tgz)" in out, out
    assert f"did not match {wrong}" in out, out
    assert recap(out)["k8sadmin"] == 0, out
    assert get("weightsandbiases", CR)["metadata"]["generation"] == generation
    # Another version without its checksum: the role asks for it, naming the variable.
    res = playbook("--tags", "wandb_operator", "-e", "wandb_operator_platform_chart_version=0.43.9")
    out = res.stdout + res.stderr
    assert res.returncode != 0, out
    assert "wandb_operator_platform_chart_checksum is '': pin the sha256" in out, out
    assert recap(out)["k8sadmin"] == 0, out


def test_preflight_asks_the_site_registry_for_the_controller_by_its_digest():
    # The operator's chart_values lists the images of both W&B charts; preflight asks
    # the lab registry for each (W&B's application images excepted, LAB ONLY).
    res = playbook("--tags", "preflight", "--limit", "k8sadmin")
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    wrong = "sha256:" + "0" * 64
    res = playbook(
        "--tags", "preflight", "--limit", "k8sadmin", "-e", json.dumps({"wandb_operator_image": {"digest": wrong}})
    )
    out = res.stdout + res.stderr
    assert res.returncode != 0, out
    assert f"{REGISTRY}/wandb/controller:1.22.0@{wrong}" in out, out


# ---------------------------------------------------------------- the custom resource
def test_the_custom_resource_is_reconciled_from_the_mirror_chart():
    cr = get("weightsandbiases", CR)
    assert cr["status"]["phase"] == "Completed"
    assert cr["spec"]["chart"] == {"url": MIRROR_CHARTS, "name": "operator-wandb", "version": "0.43.8"}
    # The operator installed the platform release, from that chart.
    releases = get("secret", selector=f"owner=helm,name={CR},status=deployed")["items"]
    assert len(releases) == 1
    release = json.loads(gzip.decompress(base64.b64decode(base64.b64decode(releases[0]["data"]["release"]))))
    assert (release["chart"]["metadata"]["name"], release["chart"]["metadata"]["version"]) == (
        "operator-wandb",
        "0.43.8",
    )
    # ... which it fetched from the site mirror (its access log), nowhere else.
    log = host("mirror").check_output("cat /var/log/nginx/wandb-mirror.access.log")
    assert "GET /charts/operator-wandb-0.43.8.tgz" in log


def _env(container: dict) -> dict:
    return {e["name"]: e for e in container.get("env", [])}


def test_the_rendered_objects_carry_the_data_layers_contract():
    inventory = Inventory()
    writer = inventory.var("mysql1", "mysql_vip_address")
    redis = inventory.address("redis1")
    app = get("deployment", f"{CR}-app-bc")["spec"]["template"]["spec"]
    env = _env(app["containers"][0])
    # MySQL through the writer address (the floating one), over TLS with its CA.
    assert env["MYSQL_HOST"]["value"] == writer
    assert env["MYSQL_PORT"]["value"] == "3306"
    assert env["MYSQL_DATABASE"]["value"] == "wandb_local" and env["MYSQL_USER"]["value"] == "wandb"
    assert env["MYSQL_CA_CERT_PATH"]["value"] == "/etc/ssl/certs/mysql_ca.pem"
    # Redis: the host, the TLS port and W&B's parameters with the CA.
    redis_cm = get("configmap", f"{CR}-redis-configmap")["data"]
    assert (redis_cm["REDIS_HOST"], redis_cm["REDIS_PORT"]) == (redis, "6380")
    assert (
        "tls=true" in redis_cm["REDIS_PARAMS"] and "caCertPath=/etc/ssl/certs/redis_ca.pem" in redis_cm["REDIS_PARAMS"]
    )
    assert "ttlInSeconds=604800" in redis_cm["REDIS_PARAMS"]
    # The bucket as W&B reads MinIO: endpoint host:port as the name, bucket?tls=true as the path.
    bucket = get("configmap", f"{CR}-bucket-configmap")["data"]
    assert bucket["BUCKET_NAME"] == "s3.wandb-lab.internal:9000"
    assert bucket["BUCKET_PATH"] == "wandb?tls=true"
    assert bucket["AWS_REGION"] == "us-east-1" and bucket["AWS_S3_KMS_ID"] == ""


def test_credentials_are_secret_references_and_nothing_else():
    app = get("deployment", f"{CR}-app-bc")["spec"]["template"]["spec"]["containers"][0]
    env = _env(app)
    refs = {
        name: {k: v for k, v in env[name]["valueFrom"]["secretKeyRef"].items() if k in ("name", "key")}
        for name in ("MYSQL_PASSWORD", "LICENSE", "REDIS_PASSWORD")
    }
    assert refs["MYSQL_PASSWORD"] == {"name": "wandb-mysql", "key": "MYSQL_PASSWORD"}
    assert refs["LICENSE"] == {"name": "wandb-license", "key": "license"}
    assert refs["REDIS_PASSWORD"] == {"name": "wandb-redis", "key": "REDIS_PASSWORD"}
    bucket_env = {k: v for k, v in env.items() if k.startswith("BUCKET_") and "valueFrom" in v}
    assert {v["valueFrom"]["secretKeyRef"]["name"] for v in bucket_env.values()} == {"wandb-bucket"}, bucket_env
    # Each Secret holds what the data layer really uses ...
    secrets = {
        "wandb-mysql": ("MYSQL_PASSWORD", root_file("mysql1", "/etc/mysql/onprem-wandb/wandb_password")),
        "wandb-redis": ("REDIS_PASSWORD", root_file("redis1", "/etc/onprem-wandb/redis/password")),
        "wandb-bucket": ("SECRET_KEY", root_file("minio1", "/etc/minio/wandb-secret-key")),
    }
    for name, (key, value) in secrets.items():
        data = get("secret", name)["data"]
        assert base64.b64decode(data[key]).decode() == value, name
    # ... and none of it is in the custom resource, the operator's release or its values.
    cr = json.dumps(get("weightsandbiases", CR))
    operator_values = kubectl(
        "get", "secret", "-n", NAMESPACE, "-l", "owner=helm,name=wandb-operator", "-o", "json"
    ).stdout
    for _key, value in secrets.values():
        assert value not in cr
        assert base64.b64encode(value.encode()).decode() not in operator_values


def test_the_ingress_uses_the_kubernetes_layers_class_and_certificate():
    ingress = get("ingress", CR)["spec"]
    assert ingress["ingressClassName"] == "traefik"
    assert ingress["rules"][0]["host"] == FQDN
    assert ingress["tls"] == [{"hosts": [FQDN], "secretName": "wandb-tls"}]
    assert get("secret", "wandb-tls")["type"] == "kubernetes.io/tls"


def test_every_platform_image_is_pinned_to_the_site_registry():
    pods = get("pod", selector=f"app.kubernetes.io/instance={CR}")["items"]
    jobs = get("cronjob", selector=f"app.kubernetes.io/instance={CR}")["items"]
    images = {
        c["image"]
        for p in pods
        for c in p["spec"].get("initContainers", []) + p["spec"]["containers"]
        if not p["metadata"]["name"].startswith("wandb-standin")
    } | {c["image"] for j in jobs for c in j["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]}
    assert images, "no W&B pods"
    assert all(i.startswith(f"{REGISTRY}/") and not i.endswith(":latest") for i in images), images


# ---------------------------------------------------------------- what is left waiting
def _not_running(pods: list[dict]) -> list[dict]:
    return [
        p
        for p in pods
        if p["status"].get("phase") != "Succeeded"
        and not (
            p["status"].get("phase") == "Running" and all(c["ready"] for c in p["status"].get("containerStatuses", []))
        )
    ]


def _waits_for_image(pod: dict) -> bool:
    pulls = ("ErrImagePull", "ImagePullBackOff")
    reasons = [
        (c.get("state", {}).get("waiting") or {}).get("reason")
        for c in pod["status"].get("initContainerStatuses", []) + pod["status"].get("containerStatuses", [])
        if not c["ready"] and "terminated" not in c.get("state", {})
    ]
    return bool(reasons) and any(r in pulls for r in reasons) and all(r in (*pulls, "PodInitializing") for r in reasons)


def test_the_application_pods_wait_only_for_their_images():
    """W&B's application images cannot be had in this lab. Everything else runs: the
    nodes' system pods, the ingress, the operator, the stand-in. What does not run is
    exactly the platform's pods, and each of them waits only to pull its image."""

    def settled():
        pods = get("pod", namespace="")["items"]
        waiting = _not_running(pods)
        return (pods, waiting) if all(_waits_for_image(p) for p in waiting) else None

    state = wait_for(settled, timeout=300)
    pods = get("pod", namespace="")["items"]
    waiting = _not_running(pods)
    assert state, [(p["metadata"]["name"], p["status"]) for p in waiting if not _waits_for_image(p)]
    assert waiting, "no platform pod at all"
    for pod in waiting:
        meta = pod["metadata"]
        assert meta["namespace"] == NAMESPACE and meta["labels"].get("app.kubernetes.io/instance") == CR, meta["name"]
        for c in pod["status"].get("initContainerStatuses", []) + pod["status"].get("containerStatuses", []):
            waiting_state = c.get("state", {}).get("waiting") or {}
            if waiting_state.get("reason") in ("ErrImagePull", "ImagePullBackOff"):
                # Asked from the site registry, which does not hold it (the only reason it waits).
                assert c["image"].startswith(f"{REGISTRY}/"), c["image"]
                repository, tag = c["image"][len(REGISTRY) + 1 :].rsplit(":", 1)
                assert not registry_has(repository, tag), c["image"]
    names = {p["metadata"]["name"].rsplit("-", 2)[0] for p in waiting}
    assert any(n.startswith(f"{CR}-app") for n in names), names


# ---------------------------------------------------------------- W&B's view, from inside the cluster
def test_wandb_logs_in_to_its_services_with_the_secrets_the_resource_references():
    rc, records = run_probe("stack-probe", "mysql", "redis", "s3", "--keep")
    assert rc == 0, records
    by_check = {r["check"]: r for r in records}
    mysql = by_check["W&B login to MySQL (in the cluster)"]["result"]
    assert "verified against the CA" in mysql and "TLS" in mysql
    assert "verified against the CA" in by_check["W&B login to Redis (in the cluster)"]["result"]
    assert "PUT 200, GET 200" in by_check["W&B presigned PUT and GET on the bucket (in the cluster)"]["result"]
    cors = by_check["W&B CORS preflight on the bucket (in the cluster)"]["result"]
    assert f"Access-Control-Allow-Origin 'https://{FQDN}'" in cors
    # The row is in W&B's database, written as W&B's user over TLS, and on the standby too.
    for name in ("mysql1", "mysql2"):
        rows = host(name).check_output("mysql -N -B -e 'SELECT COUNT(*) FROM wandb_local.wandb_probe'")
        assert int(rows) >= 1, name
    # The object is in W&B's bucket.
    listing = host("minio1").check_output(
        "/usr/local/bin/mc --config-dir /etc/minio/mc ls --recursive local/wandb/wandb-probe/"
    )
    assert listing.strip(), listing
    # Clean up what the test wrote.
    host("mysql1").run("mysql -e 'DROP TABLE IF EXISTS wandb_local.wandb_probe'")
    host("minio1").run("/usr/local/bin/mc --config-dir /etc/minio/mc rm --recursive --force local/wandb/wandb-probe/")


# ---------------------------------------------------------------- from outside the cluster
def _client_ca():
    """The CA bundle clients trust (the certificates role's), put on the client host."""
    ca = host("k8sadmin").check_output("cat /etc/onprem-wandb/tls/wandb-ca.crt")
    put_file("client", "/tmp/wandb-ca.crt", ca + "\n", mode="0644")
    return "/tmp/wandb-ca.crt"


def test_https_through_wandbs_ingress_reaches_the_stand_in_with_a_verified_certificate():
    ca = _client_ca()
    res = host("client").run(f"curl -sS --max-time 60 --cacert {ca} https://{FQDN}/hello")
    assert res.rc == 0, res.stderr
    answer = json.loads(res.stdout)
    # W&B's own Ingress and app Service route to the stand-in (a pod with the app's labels).
    assert answer["backend"].startswith("wandb-standin-") and answer["host"] == FQDN
    endpoints = get("endpoints", f"{CR}-app")
    ips = {a["ip"] for s in endpoints.get("subsets", []) for a in s.get("addresses", [])}
    standin_ips = {p["status"]["podIP"] for p in get("pod", selector="app=wandb-standin")["items"]}
    assert ips == standin_ips and ips
    assert not kubectl("get", "ingress", "-n", NAMESPACE, "wandb-standin", check=False).returncode == 0
    refused = host("client").run(f"curl -sS --max-time 30 https://{FQDN}/")
    assert refused.rc == 60, refused.stderr  # not trusted without the site's CA


def test_a_100_mb_body_passes_wandbs_ingress():
    ca = _client_ca()
    client = host("client")
    client.run_test(f"head -c {100 * MB} /dev/urandom > /tmp/body.bin")
    digest = client.check_output("sha256sum /tmp/body.bin").split()[0]
    res = client.run(f"curl -sS --max-time 300 --cacert {ca} --data-binary @/tmp/body.bin https://{FQDN}/files/upload")
    client.run("rm -f /tmp/body.bin")
    assert res.rc == 0, res.stderr
    answer = json.loads(res.stdout)
    assert answer["bytes"] == 100 * MB and answer["sha256"] == digest


# ---------------------------------------------------------------- reruns and changes
def test_a_rerun_limited_to_the_operator_finds_the_contract_and_changes_nothing():
    result = playbook("--tags", "wandb_operator")
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert set(recap(out).values()) == {0}, out


def test_check_diff_shows_a_changed_value_before_it_is_applied():
    before = get("weightsandbiases", CR)
    change = {"wandb_operator_values_overrides": {"app": {"resources": {"requests": {"cpu": "77m", "memory": "64Mi"}}}}}
    result = playbook("--tags", "wandb_operator", "--check", "--diff", "-e", json.dumps(change))
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "77m" in out and recap(out)["k8sadmin"] >= 1, out
    after = get("weightsandbiases", CR)
    assert after["metadata"]["generation"] == before["metadata"]["generation"]


@pytest.mark.parametrize("service", ["redis"])
def test_rotating_a_password_updates_the_secret_and_nothing_else(service):
    old = root_file("redis1", "/etc/onprem-wandb/redis/password")
    new = "Rotated" + old[7:]
    cr_before = get("weightsandbiases", CR)["metadata"]["generation"]
    try:
        result = playbook("--tags", "redis,wandb_operator", "--diff", "-e", "@" + vars_file({"redis_password": new}))
        out = result.stdout + result.stderr
        assert result.returncode == 0, out
        secret = get("secret", "wandb-redis")["data"]
        assert base64.b64decode(secret["REDIS_PASSWORD"]).decode() == new
        assert get("weightsandbiases", CR)["metadata"]["generation"] == cr_before
        # On the cluster side only the Secret changed.
        assert recap(out)["k8sadmin"] == 1, out
        # Not in the output, not even in the diff.
        assert new not in out and base64.b64encode(new.encode()).decode() not in out
    finally:
        playbook("--tags", "redis,wandb_operator", "-e", "@" + vars_file({"redis_password": old}))
    assert base64.b64decode(get("secret", "wandb-redis")["data"]["REDIS_PASSWORD"]).decode() == old


# ---------------------------------------------------------------- the verify table
def test_the_verify_table_is_green_and_names_what_cannot_run_here():
    # A backup, so that the pair's last backup is recent (the first one is due daily).
    backup_host = "mysql2"
    host(backup_host).run_test("systemctl start wandb-mysql-backup.service")
    result = playbook(playbook_path="playbooks/verify.yml")
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "FAIL " not in out
    for check in (
        "MySQL W&B settings (mysql1)",
        "MySQL W&B settings (mysql2)",
        "MySQL replication (mysql2, standby)",
        "MySQL last backup",
        "MinIO drives online",
        "W&B custom resource",
        "W&B login to MySQL (in the cluster)",
        f"HTTPS to {FQDN} (from client)",
        "100 MB request through the ingress",
    ):
        line = next((line for line in out.splitlines() if check in line), "")
        assert " OK " in line, (check, line)
    assert "waiting only for their images" in out
    assert "h ago) on mysql2" in out
    assert set(recap(out).values()) == {0}, out
