# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers for the Kubernetes layer's tests: curl and the API from k8sadmin (a lab
host outside the cluster), and certificates made for the refusal tests."""

from __future__ import annotations

import datetime
import json
import os
import shlex
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from labtest import host

FQDN = "wandb.wandb-lab.internal"
CA = "/etc/onprem-wandb/tls/wandb-ca.crt"
ADMIN = "k8sadmin"


def curl(url: str, *args: str) -> tuple[int, str]:
    """curl URL on k8sadmin; returns (exit code, output)."""
    res = host(ADMIN).run(shlex.join(["curl", "-sS", "--max-time", "60", *args, url]))
    return res.rc, (res.stdout + res.stderr).strip()


def ingress_ip() -> str:
    return host(ADMIN).check_output(f"getent ahostsv4 {FQDN}").split()[0]


_READ = """
import json, sys, kubernetes
kubernetes.config.load_kube_config()
client = kubernetes.dynamic.DynamicClient(kubernetes.client.ApiClient())
api_version, kind, name, namespace = sys.argv[1:5]
obj = client.resources.get(api_version=api_version, kind=kind).get(name=name, namespace=namespace or None).to_dict()
if kind == "Secret":
    obj["data"] = {key: "(hidden)" for key in obj.get("data") or {}}
print(json.dumps(obj))
"""


def cluster_object(kind: str, name: str, namespace: str = "", api_version: str = "v1") -> dict:
    """One object read from the API server with the admin kubeconfig (Secret values hidden)."""
    cmd = shlex.join(["python3", "-c", _READ, api_version, kind, name, namespace])
    return json.loads(host(ADMIN).check_output(cmd))


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
    directory = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY") or tempfile.gettempdir())
    fd, path = tempfile.mkstemp(prefix="provided-", suffix=".json", dir=directory)
    with os.fdopen(fd, "w") as fh:  # mkstemp makes it 0600
        json.dump(data, fh)
    return path
