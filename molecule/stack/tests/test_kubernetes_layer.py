# SPDX-License-Identifier: GPL-3.0-or-later
"""The Kubernetes layer (Traefik, the certificates, the API server's version),
seen from k8sadmin, a lab host outside the cluster, and read from the API.

Every test reads the converged state, runs a refusal that changes nothing, or
changes something and leaves the site converged, so the tests run in any order.
"""

import json
import shlex
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from labtest import CACHE, PROJECT, host, playbook, recap  # noqa: E402
from stacktest import CA, FQDN, curl, get, ingress_ip, provided_vars  # noqa: E402

MB = 1024 * 1024


def test_http_redirects_to_https():
    rc, out = curl(f"http://{FQDN}/some/path?x=1", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}")
    assert rc == 0, out
    code, location = out.split(" ", 1)
    assert code in ("301", "308"), out
    assert location == f"https://{FQDN}/some/path?x=1"


def test_a_large_body_passes_an_ingress_of_class_nginx():
    # Sites that keep W&B's documented ingress-nginx annotation: Traefik's
    # ingress-nginx provider serves the class, without nginx's 1 MB default
    # (test_stack sends 100 MB through W&B's own Ingress).
    path, size = "/nginx-compat/upload", 10 * MB
    admin = host("k8sadmin")
    admin.run_test(f"head -c {size} /dev/urandom > /tmp/body.bin")
    digest = admin.check_output("sha256sum /tmp/body.bin").split()[0]
    rc, out = curl(f"https://{FQDN}{path}", "--cacert", CA, "--data-binary", "@/tmp/body.bin", "--max-time", "300")
    assert rc == 0, out
    answer = json.loads(out)
    assert answer["method"] == "POST" and answer["path"] == path
    assert answer["bytes"] == size and answer["sha256"] == digest


def test_an_unknown_host_gets_no_wandb_backend():
    ip = ingress_ip()
    rc, out = curl(
        "https://unknown.wandb-lab.internal/",
        "-k",
        "--resolve",
        f"unknown.wandb-lab.internal:443:{ip}",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
    )
    assert rc == 0 and out == "404", out
    rc, out = curl("https://unknown.wandb-lab.internal/", "-k", "--resolve", f"unknown.wandb-lab.internal:443:{ip}")
    assert "wandb-standin" not in out


def test_tls_secret_and_ca_bundle_are_where_the_readme_says():
    secret = get("secret", "wandb-tls")
    assert secret["type"] == "kubernetes.io/tls"
    assert set(secret["data"]) >= {"tls.crt", "tls.key", "ca.crt"}
    configmap = get("configmap", "wandb-ca")
    bundle = host("k8sadmin").file(CA)
    assert bundle.mode == 0o644 and bundle.user == "root"
    assert configmap["data"]["ca.crt"].strip() == bundle.content_string.strip()


def test_traefik_runs_the_pinned_image_from_the_site_registry():
    ds = get("daemonset", "traefik", namespace="traefik")
    image = ds["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "mirror.wandb-lab.internal:5000/traefik:v3.6.12"
    assert ds["status"]["numberReady"] == 1
    assert get("ingressclass", "traefik", namespace="")


def _refusal(vars_file):
    """Run the certificates part with VARS_FILE; return (result, Secret before, Secret after)."""
    before = get("secret", "wandb-tls")
    result = playbook("--tags", "certificates", "-l", "wandb_kubernetes", "-e", "@" + vars_file)
    after = get("secret", "wandb-tls")
    return result, before, after


@pytest.mark.parametrize(
    "defect, message",
    [
        ("wrong_name", "does not cover wandb.wandb-lab.internal"),
        ("expired", "the certificate expired on"),
        ("key_mismatch", "the private key does not match the certificate"),
    ],
)
def test_a_bad_certificate_is_refused_and_changes_nothing(defect, message):
    result, before, after = _refusal(provided_vars(defect))
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert message in out, out
    assert set(recap(out).values()) == {0}, out
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_the_site_provided_source_writes_its_secret():
    # Another Secret name, so the converged one (and the other tests) stay as they are.
    elsewhere = {
        "certificates_secret_name": "wandb-tls-provided",
        "certificates_ca_configmap_name": "wandb-ca-provided",
        "certificates_ca_bundle_path": "/etc/onprem-wandb/tls/provided-ca.crt",
        "certificates_ca_bundle_fetch_dir": "",
    }
    args = (
        "--tags",
        "certificates",
        "-l",
        "wandb_kubernetes",
        "-e",
        "@" + provided_vars(None),
        "-e",
        json.dumps(elsewhere),
    )
    result = playbook(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    secret = get("secret", "wandb-tls-provided")
    assert secret["type"] == "kubernetes.io/tls"
    # 20 days left: usable, with the warning under 30 days.
    assert "WARNING" in result.stdout and "under 30 days" in result.stdout
    again = playbook(*args)
    assert set(recap(again.stdout).values()) == {0}, again.stdout


def test_an_api_server_older_than_the_policy_is_refused_before_anything_changes():
    # The lab runs 1.34.4: a floor of 1.35.0 makes it "too old" without another cluster.
    # Extra vars replace the whole dict: keep the lab's own overrides (its MySQL).
    lab = yaml.safe_load((PROJECT / "inventories/lab/group_vars/all/versions.yml").read_text())
    overrides = dict(lab.get("preflight_version_policy_overrides") or {}, kubernetes={"minimum": "1.35.0"})
    policy = {"preflight_version_policy_overrides": overrides}
    result = playbook("-l", "wandb_kubernetes", "-e", json.dumps(policy))
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "1.34.4 is older than the minimum 1.35.0" in out, out
    assert "preflight_version_policy_overrides.kubernetes" in out
    assert set(recap(out).values()) == {0}, out
    assert "TASK [onprem.wandb.helm" not in out


def test_an_image_the_site_registry_lacks_is_refused_before_anything_changes():
    # Preflight asks the lab registry for every image the Kubernetes layer runs
    # (converge passed it with Traefik's pinned tag); a tag it does not serve
    # stops the run on the wandb_kubernetes host, named, before any change.
    result = playbook("-l", "wandb_kubernetes", "-e", json.dumps({"ingress_traefik_image_tag": "v0.0.0-missing"}))
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "mirror.wandb-lab.internal:5000/traefik:v0.0.0-missing" in out, out
    assert "has no traefik with tag v0.0.0-missing (HTTP 404)" in out, out
    assert set(recap(out).values()) == {0}, out
    assert "TASK [onprem.wandb.helm" not in out


_CERT_MANAGER_OBJECTS = """
import json, subprocess, sys, time, yaml, kubernetes
kubernetes.config.load_kube_config()
client = kubernetes.dynamic.DynamicClient(kubernetes.client.ApiClient())
server = kubernetes.client.VersionApi().get_code().git_version
run = subprocess.run(["helm", "template", "cert-manager", sys.argv[1], "--namespace", "cert-manager",
                      "--kube-version", server, "--set", "crds.enabled=true"], capture_output=True, text=True)
if run.returncode:
    sys.exit("helm template: " + run.stderr)
rendered = run.stdout
crds = [d for d in yaml.safe_load_all(rendered) if d and d.get("kind") == "CustomResourceDefinition"]
api = client.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition")
for crd in crds:
    api.server_side_apply(body=crd, name=crd["metadata"]["name"], field_manager="onprem-wandb-test", force_conflicts=True)
for crd in crds:
    for _ in range(60):
        got = api.get(name=crd["metadata"]["name"]).to_dict()
        if any(c["type"] == "Established" and c["status"] == "True" for c in got["status"].get("conditions", [])):
            break
        time.sleep(1)
client = kubernetes.dynamic.DynamicClient(kubernetes.client.ApiClient())  # rediscover the new kinds
issuer = {"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": {"name": "wandb-site-ca"},
          "spec": {"ca": {"secretName": "wandb-site-ca"}}}
cert = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
        "metadata": {"name": "wandb-tls-cm", "namespace": "wandb"},
        "spec": {"secretName": "wandb-tls-cm", "commonName": sys.argv[2], "dnsNames": [sys.argv[2]],
                 "duration": "9528h", "renewBefore": "720h",
                 "usages": ["server auth", "digital signature", "key encipherment"],
                 "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": "wandb-site-ca"}}}
out = []
for obj in (issuer, cert):
    res = client.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
    made = res.create(body=obj, namespace=obj["metadata"].get("namespace"), query_params=[("dryRun", "All")])
    out.append(made.kind)
print(json.dumps({"crds": len(crds), "accepted": out}))
"""


def test_cert_manager_objects_are_accepted_by_the_api():
    # cert-manager's controller images cannot be had here: its chart (from the
    # mirror) gives the CRDs, and the API server accepts the ClusterIssuer and
    # Certificate the role declares (server-side dry run: nothing is issued).
    admin = host("k8sadmin")
    admin.run_test(
        "curl -sSf -o /tmp/cert-manager.tgz http://mirror.wandb-lab.internal/charts/cert-manager-v1.21.1.tgz"
    )
    digest = admin.check_output("sha256sum /tmp/cert-manager.tgz").split()[0]
    # The package the lab's bundle carries (its manifest.json), which the mirror serves.
    charts = json.loads((CACHE / "bundle" / "manifest.json").read_text())["charts"]
    assert digest == next(c["sha256"] for c in charts if (c["name"], c["version"]) == ("cert-manager", "v1.21.1"))
    out = admin.check_output("python3 -c " + shlex.quote(_CERT_MANAGER_OBJECTS) + f" /tmp/cert-manager.tgz {FQDN}")
    result = json.loads(out.strip().splitlines()[-1])
    assert result == {"crds": 6, "accepted": ["ClusterIssuer", "Certificate"]}


_NEAR_ITS_END = """
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
load = lambda p: open(p, "rb").read()
ca = x509.load_pem_x509_certificate(load("/etc/onprem-wandb/ca/ca.crt"))
ca_key = serialization.load_pem_private_key(load("/etc/onprem-wandb/ca/ca.key"), None)
key = serialization.load_pem_private_key(load("/etc/onprem-wandb/tls/wandb.key"), None)
now = datetime.datetime.now(datetime.timezone.utc)
cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, sys.argv[1])]))
        .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=10))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(sys.argv[1])]), critical=False)
        .sign(ca_key, hashes.SHA256()))
open("/etc/onprem-wandb/tls/wandb.crt", "wb").write(cert.public_bytes(serialization.Encoding.PEM))
"""


def test_a_generated_leaf_near_its_end_is_issued_again_on_a_rerun():
    # Leaves the site converged: a fresh leaf from the same CA and key.
    admin = host("k8sadmin")
    admin.check_output("python3 -c " + shlex.quote(_NEAR_ITS_END) + f" {FQDN}")
    result = playbook("--tags", "certificates", "-l", "wandb_kubernetes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert recap(result.stdout)["k8sadmin"] > 0
    end = admin.check_output("openssl x509 -noout -enddate -in /etc/onprem-wandb/tls/wandb.crt || true")
    days = admin.check_output(
        'python3 -c "import datetime,sys; from cryptography import x509; c = x509.load_pem_x509_certificate('
        "open('/etc/onprem-wandb/tls/wandb.crt','rb').read()); "
        'print((c.not_valid_after_utc - datetime.datetime.now(datetime.timezone.utc)).days)"'
    )
    assert int(days) > 300, end
    rc, out = curl(f"https://{FQDN}/renewed", "--cacert", CA)
    assert rc == 0 and json.loads(out)["path"] == "/renewed", out
