# SPDX-License-Identifier: GPL-3.0-or-later
"""Smoke test of the lab's Kubernetes cluster (lab/k8s.py), against a running lab:

    python3 lab/lab.py up && .venv/bin/pytest tests/lab

WANDB_LAB_INVENTORY selects another lab (a Molecule scenario's lab-hosts.yml).
Everything runs through the cluster itself: kubectl in the control-plane node,
curl on the wandb_kubernetes host, the registry's log on the mirror host.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "lab"))
import k8s  # noqa: E402

import lab  # noqa: E402

NAMESPACE = "lab-smoke"


def podman_exec(name: str, script: str) -> str:
    res = subprocess.run(["podman", "exec", name, "sh", "-c", script], capture_output=True, text=True, check=False)
    assert res.returncode == 0, f"{name}: {script}\n{res.stdout}{res.stderr}"
    return res.stdout


@pytest.fixture(scope="module")
def cluster():
    """The lab's cluster, and a namespace for the test's objects (removed afterwards)."""
    hosts = lab.load_inventory(os.environ.get("WANDB_LAB_INVENTORY", str(ROOT / "inventories" / "lab")))
    nodes = k8s.nodes_of(hosts)
    assert nodes, "the lab inventory declares no Kubernetes node (lab_k8s)"
    cp_host, cp_vars = list(nodes.items())[0]
    workers = [(h, hv) for h, hv in nodes.items() if hv["lab_k8s"] == "worker"]
    assert workers, "the lab inventory declares no worker"
    admins = [(h, hv) for h, hv in hosts.items() if hv.get("lab_kubeconfig")]
    mirrors = [(h, hv) for h, hv in hosts.items() if hv.get("lab_serves_mirror")]
    assert mirrors, "the lab inventory declares no mirror host (lab_serves_mirror)"
    spec = k8s.cluster_spec()
    registry = k8s.Registry(hosts)
    c = SimpleNamespace(
        hosts=hosts,
        nodes=nodes,
        cp=k8s.container(cp_host, cp_vars),
        cp_node=k8s.node_name(cp_host, cp_vars),
        worker=k8s.node_name(*workers[0]),
        worker_ip=workers[0][1]["lab_ip"],
        admins=admins,
        mirror=k8s.container(*mirrors[0]),
        spec=spec,
        registry=registry,
        image={name: k8s.image_ref(spec, name, registry.name) for name in spec["images"]},
    )
    c.kubectl = kubectl_of(c.cp)
    c.kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true", "--timeout=60s")
    c.kubectl("create", "namespace", NAMESPACE)
    yield c
    c.kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=false")


def kubectl_of(cp: str):
    def kubectl(*args: str, stdin: str | None = None) -> str:
        res = k8s.kubectl(cp, *args, check=False, stdin=stdin)
        assert res.returncode == 0, f"kubectl {' '.join(args)}:\n{res.stdout}{res.stderr}"
        return res.stdout

    return kubectl


@pytest.fixture(scope="module")
def backend(cluster):
    """The stand-in backend on the worker, pulled from the lab registry, behind a Service;
    and a client pod on the control-plane node."""
    web = cluster.image["web"]
    manifest = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "web", "namespace": NAMESPACE},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {
                        "metadata": {"labels": {"app": "web"}},
                        "spec": {
                            "nodeSelector": {"kubernetes.io/hostname": cluster.worker},
                            "containers": [
                                {
                                    "name": "web",
                                    "image": web,
                                    # Always: every start asks the registry, so its log proves the source.
                                    "imagePullPolicy": "Always",
                                    "ports": [{"containerPort": 8080}],
                                    "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1},
                                }
                            ],
                        },
                    },
                },
            },
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web", "namespace": NAMESPACE},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
            },
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "client", "namespace": NAMESPACE},
                "spec": {
                    "nodeSelector": {"kubernetes.io/hostname": cluster.cp_node},
                    "containers": [{"name": "client", "image": web}],
                },
            },
        ],
    }
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(manifest))
    cluster.kubectl("-n", NAMESPACE, "rollout", "status", "deploy/web", "--timeout=120s")
    cluster.kubectl("-n", NAMESPACE, "wait", "pod/client", "--for=condition=Ready", "--timeout=120s")
    pods = json.loads(cluster.kubectl("-n", NAMESPACE, "get", "pods", "-l", "app=web", "-o", "json"))["items"]
    return pods[0]


def test_api_server_answers_the_admin_host_with_the_pinned_version(cluster):
    assert cluster.admins, "no host receives the admin kubeconfig (lab_kubeconfig)"
    for host, hv in cluster.admins:
        name = k8s.container(host, hv)
        path = hv["lab_kubeconfig"]
        assert podman_exec(name, f"stat -c '%a %U' {path}").split() == ["600", "root"]
        # The kubeconfig's own server and CA, from the host itself: reachable and verified.
        version = json.loads(
            podman_exec(
                name,
                f"sed -n 's/^ *certificate-authority-data: //p' {path} | base64 -d > /tmp/lab-ca.crt && "
                f"curl -sS --fail --cacert /tmp/lab-ca.crt \"$(sed -n 's/^ *server: //p' {path})/version\"",
            )
        )
        assert version["gitVersion"] == cluster.spec["kubernetes"], version


def test_every_node_is_ready_amd64_and_runs_the_pinned_kubelet(cluster):
    nodes = json.loads(cluster.kubectl("get", "nodes", "-o", "json"))["items"]
    assert sorted(n["metadata"]["name"] for n in nodes) == sorted(
        k8s.node_name(h, hv) for h, hv in cluster.nodes.items()
    )
    for n in nodes:
        ready = next(c for c in n["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True", f"{n['metadata']['name']}: {ready}"
        info = n["status"]["nodeInfo"]
        assert info["architecture"] == "amd64", info
        assert info["kubeletVersion"] == cluster.spec["kubernetes"], info


def test_backend_runs_on_the_worker_from_the_mirror_registry(cluster, backend):
    assert backend["spec"]["nodeName"] == cluster.worker
    status = backend["status"]["containerStatuses"][0]
    repository = cluster.spec["images"]["web"]["repository"]
    assert status["imageID"].startswith(f"{cluster.registry.name}/{repository}@sha256:"), status
    # The registry itself saw the worker ask for the image.
    assert registry_asked(cluster, f"/v2/{repository}/manifests/", cluster.worker_ip)


def registry_asked(cluster, path: str, client: str) -> bool:
    """Whether the lab registry's access log has a request for PATH from address CLIENT."""
    log = podman_exec(cluster.mirror, "journalctl -u docker-registry --no-pager -o cat")
    return any(line.startswith(f"{client} ") and f" {path}" in line for line in log.splitlines())


def test_service_answers_by_name_from_a_pod_on_another_node(cluster, backend):
    for url in (f"http://web.{NAMESPACE}.svc.cluster.local/dns", "http://web/short-name"):
        answer = json.loads(cluster.kubectl("-n", NAMESPACE, "exec", "client", "--", "/web", "get", url))
        assert answer["backend"] == backend["metadata"]["name"], answer


def test_traefik_image_is_pulled_and_runs(cluster):
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "traefik-version", "namespace": NAMESPACE},
        "spec": {
            "restartPolicy": "Never",
            "nodeSelector": {"kubernetes.io/hostname": cluster.worker},
            "containers": [{"name": "traefik", "image": cluster.image["traefik"], "args": ["version"]}],
        },
    }
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(pod))
    cluster.kubectl(
        "-n", NAMESPACE, "wait", "pod/traefik-version", "--for=jsonpath={.status.phase}=Succeeded", "--timeout=120s"
    )
    out = cluster.kubectl("-n", NAMESPACE, "logs", "traefik-version")
    assert cluster.spec["images"]["traefik"]["version"] in out, out


def test_images_of_public_registries_are_looked_up_in_the_mirror_only(cluster):
    """A public image name is looked up in the lab registry (which lacks it), never
    resolved on the internet."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "public-image", "namespace": NAMESPACE},
        "spec": {
            "nodeSelector": {"kubernetes.io/hostname": cluster.worker},
            "containers": [{"name": "busybox", "image": "docker.io/library/busybox:1.36"}],
        },
    }
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(pod))
    deadline = time.monotonic() + 60
    message = ""
    while time.monotonic() < deadline and not message:
        events = json.loads(
            cluster.kubectl(
                "-n", NAMESPACE, "get", "events", "--field-selector", "involvedObject.name=public-image", "-o", "json"
            )
        )["items"]
        message = next((e["message"] for e in events if e["reason"] == "Failed" and "pull" in e["message"]), "")
        time.sleep(1)
    assert message, "no pull failure reported for docker.io/library/busybox:1.36 in 60s"
    assert "not found" in message and "registry-1.docker.io" not in message, message
    assert registry_asked(cluster, "/v2/library/busybox/manifests/1.36", cluster.worker_ip)
