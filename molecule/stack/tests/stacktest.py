# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers for the whole-stack tests: the API read with kubectl on the control
plane node, curl from k8sadmin (outside the cluster), the lab registry, the
in-cluster probe and certificates made for the refusal tests."""

from __future__ import annotations

import datetime
import json
import os
import shlex
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from labtest import CACHE, PREFIX, PROJECT, Inventory, host

NAMESPACE = "wandb"
CR = "wandb"
FQDN = "wandb.wandb-lab.internal"
REGISTRY = "mirror.wandb-lab.internal:5000"
CA = "/etc/onprem-wandb/tls/wandb-ca.crt"  # the bundle the certificates role gives clients
ADMIN = "k8sadmin"  # the wandb_kubernetes host, outside the cluster
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


def bundled_digest(repository: str, tag: str) -> str:
    """The digest of REPOSITORY:TAG the lab's bundle recorded (its manifest.json), which the
    mirror loaded into the lab registry."""
    images = json.loads((CACHE / "bundle" / "manifest.json").read_text())["images"]
    return next(i["digest"] for i in images if (i["repository"], i["tag"]) == (repository, tag))


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


def curl(url: str, *args: str) -> tuple[int, str]:
    """curl URL on k8sadmin; returns (exit code, output)."""
    res = host(ADMIN).run(shlex.join(["curl", "-sS", "--max-time", "60", *args, url]))
    return res.rc, (res.stdout + res.stderr).strip()


def ingress_ip() -> str:
    return host(ADMIN).check_output(f"getent ahostsv4 {FQDN}").split()[0]


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem(obj) -> str:
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM).decode()
    return obj.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def provided_vars(defect: str | None) -> str:
    """A vars file (root-only, in the scenario's directory) for certificates_source=provided:
    a good certificate for FQDN, or one with DEFECT (wrong_name, expired, key_mismatch)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("onprem.wandb test CA"))
        .issuer_name(_name("onprem.wandb test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    name = "other.wandb-lab.internal" if defect == "wrong_name" else FQDN
    end = now - datetime.timedelta(days=1) if defect == "expired" else now + datetime.timedelta(days=20)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=2))
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    if defect == "key_mismatch":
        key = ec.generate_private_key(ec.SECP256R1())
    data = {
        "certificates_source": "provided",
        "certificates_cert": _pem(leaf),
        "certificates_key": _pem(key),
        "certificates_chain": "",
        "certificates_ca": _pem(ca),
    }
    return vars_file(data)


def vars_file(data: dict) -> str:
    """DATA as a root-only vars file in the scenario's directory, for `-e @file`: a secret
    never goes on a command line."""
    directory = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY") or tempfile.gettempdir())
    fd, path = tempfile.mkstemp(prefix="vars-", suffix=".json", dir=directory)
    with os.fdopen(fd, "w") as fh:  # mkstemp makes it 0600
        json.dump(data, fh)
    return path
