# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers for the whole-stack tests: the API read with kubectl on the control
plane node, the scenario's inventory, the lab registry and the in-cluster probe."""

from __future__ import annotations

import json
import shlex
import ssl
import subprocess
import time
import urllib.error
import urllib.request

from labtest import CACHE, PREFIX, PROJECT, Inventory, host

NAMESPACE = "wandb"
CR = "wandb"
FQDN = "wandb.wandb-lab.internal"
REGISTRY = "mirror.wandb-lab.internal:5000"
PROBE_SCRIPT = PROJECT / "roles" / "wandb_operator" / "files" / "wandb_probe.py"


def kubectl(*args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """kubectl with the admin kubeconfig on the control plane node (the API, not files)."""
    cmd = [
        "podman",
        "exec",
        "-i",
        f"{PREFIX}-k8s-cp",
        "kubectl",
        "--kubeconfig",
        "/etc/kubernetes/admin.conf",
        *args,
    ]
    res = subprocess.run(cmd, input=stdin, text=True, capture_output=True, check=False, timeout=300)
    if check:
        assert res.returncode == 0, f"kubectl {' '.join(args)}: {res.stderr}"
    return res


def get(kind: str, name: str = "", namespace: str = NAMESPACE, selector: str = "") -> dict:
    """An object (or a list of them, with SELECTOR or without NAME) as JSON from the API."""
    args = ["get", kind, *([name] if name else []), "-o", "json"]
    args += ["-n", namespace] if namespace else ["-A"]
    args += ["-l", selector] if selector else []
    return json.loads(kubectl(*args).stdout)


def pushed_digest(repository: str, tag: str) -> str:
    """The digest the lab registry recorded when lab.py pushed REPOSITORY:TAG."""
    return (CACHE / "registry" / PREFIX / "pushed" / repository / tag).read_text().split()[1]


def registry_has(repository: str, tag: str) -> bool:
    """Whether the lab registry (on the mirror host, HTTPS with the lab CA) serves REPOSITORY:TAG."""
    url = f"https://{Inventory().address('mirror')}:5000/v2/{repository}/manifests/{tag}"
    req = urllib.request.Request(url, method="HEAD")
    req.add_header(
        "Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"
    )
    context = ssl.create_default_context(cafile=str(CACHE / "registry" / "ca" / "ca.crt"))
    try:
        with urllib.request.urlopen(req, context=context, timeout=10):
            return True
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return False
        raise


def root_file(name: str, path: str) -> str:
    """A root-only file on lab host NAME (a secret the data layer keeps)."""
    return host(name).check_output(f"cat {shlex.quote(path)}").strip()


def wait_for(predicate, timeout: float = 240, step: float = 5):
    """Call PREDICATE until it returns something true; return that (or the last value)."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(step)
        value = predicate()
    return value


def probe_pod(cr: dict, name: str) -> dict:
    """A pod that gets what W&B's pods get: the settings of the custom resource CR and the
    very Secrets it references (by the names in CR), the CA bundle and the probe script."""
    g = cr["spec"]["values"]["global"]
    secret_env = {
        "MYSQL_PASSWORD": (g["mysql"]["passwordSecret"]["name"], g["mysql"]["passwordSecret"]["passwordKey"]),
        "REDIS_PASSWORD": (g["redis"]["secret"]["secretName"], g["redis"]["secret"]["secretKey"]),
        "ACCESS_KEY": (g["bucket"]["secret"]["secretName"], g["bucket"]["secret"]["accessKeyName"]),
        "SECRET_KEY": (g["bucket"]["secret"]["secretName"], g["bucket"]["secret"]["secretKeyName"]),
    }
    plain_env = {
        "MYSQL_HOST": g["mysql"]["host"],
        "MYSQL_PORT": str(g["mysql"]["port"]),
        "MYSQL_DATABASE": g["mysql"]["database"],
        "MYSQL_USER": g["mysql"]["user"],
        "REDIS_HOST": g["redis"]["host"],
        "REDIS_PORT": str(g["redis"]["port"]),
        "BUCKET_NAME": g["bucket"]["name"],
        "BUCKET_PATH": g["bucket"]["path"],
        "BUCKET_REGION": g["bucket"]["region"],
        "WANDB_ORIGIN": g["host"],
    }
    env = [{"name": k, "value": v} for k, v in plain_env.items()]
    env += [{"name": k, "valueFrom": {"secretKeyRef": {"name": s, "key": key}}} for k, (s, key) in secret_env.items()]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app.kubernetes.io/name": name}},
        "spec": {
            "restartPolicy": "Never",
            "securityContext": {"runAsNonRoot": True, "runAsUser": 65532},
            "containers": [
                {
                    "name": "probe",
                    "image": f"{REGISTRY}/lab/wandb-probe:1",
                    "command": ["sleep", "600"],
                    "env": env,
                    "volumeMounts": [
                        {"name": "ca", "mountPath": "/etc/wandb-ca", "readOnly": True},
                        {"name": "script", "mountPath": "/opt/wandb-probe", "readOnly": True},
                    ],
                }
            ],
            "volumes": [
                {"name": "ca", "secret": {"secretName": "wandb-ca-bundle"}},
                {"name": "script", "configMap": {"name": name}},
            ],
        },
    }


def run_probe(name: str, *checks: str) -> tuple[int, list[dict]]:
    """Start the probe pod NAME, run the probe with CHECKS in it, remove it; (exit, records)."""
    cr = get("weightsandbiases", CR)
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "data": {"wandb_probe.py": PROBE_SCRIPT.read_text()},
    }
    manifest = json.dumps({"apiVersion": "v1", "kind": "List", "items": [configmap, probe_pod(cr, name)]})
    try:
        kubectl("apply", "-f", "-", stdin=manifest)
        kubectl("wait", "-n", NAMESPACE, "--for=condition=Ready", f"pod/{name}", "--timeout=180s")
        res = kubectl(
            "exec", "-n", NAMESPACE, name, "--", "python3", "/opt/wandb-probe/wandb_probe.py", *checks, check=False
        )
        return res.returncode, json.loads(res.stdout or "[]")
    finally:
        kubectl(
            "delete", "-n", NAMESPACE, "pod", name, "configmap", name, "--wait=false", "--ignore-not-found", check=False
        )
