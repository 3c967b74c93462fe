# SPDX-License-Identifier: GPL-3.0-or-later
"""MinIO from a client's point of view: a host outside the set, with mc from
the mirror and curl, talks to the endpoint name W&B would use."""

import json
import shlex
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from labtest import CACHE, host, playbook, recap  # noqa: E402

ENDPOINT = "https://s3.wandb-lab.internal:9000"
ORIGIN = "https://wandb.wandb-lab.internal"
MC_VERSION = "DEVELOPMENT.2025-03-13T08-02-18Z"
NODES = ["minio1", "minio2"]
CA = "/usr/local/share/ca-certificates/onprem-wandb-minio-ca.crt"


def secret(name: str) -> str:
    return (CACHE / "secrets" / name).read_text().split()[0]


@pytest.fixture(scope="module")
def client():
    """The client host with mc (from the mirror), the CA and two aliases."""
    c = host("client")
    ca = host("minio1").file(CA).content_string
    c.run(f"cat > {CA} <<'EOF'\n{ca}EOF\nupdate-ca-certificates >/dev/null")
    c.check_output(
        f"curl -fsS -o /usr/local/bin/mc http://mirror.wandb-lab.internal/files/mc/{MC_VERSION}/linux-amd64/mc"
        " && chmod 0755 /usr/local/bin/mc"
    )
    wandb_key = "wandb"
    c.check_output(
        'mc() { /usr/local/bin/mc --config-dir /root/.mc-test "$@"; }; '
        f"mc alias set wandb {ENDPOINT} {wandb_key} {shlex.quote(secret('minio_wandb_secret_key'))} >/dev/null && "
        f"mc alias set admin {ENDPOINT} {shlex.quote(secret('minio_root_user'))} "
        f"{shlex.quote(secret('minio_root_password'))} >/dev/null"
    )
    return c


def mc(c, *args, check=True):
    cmd = "/usr/local/bin/mc --config-dir /root/.mc-test --json " + " ".join(shlex.quote(a) for a in args)
    return c.check_output(cmd) if check else c.run(cmd)


def test_distributed_set_of_four_drives_is_online(client):
    info = json.loads(mc(client, "admin", "info", "admin"))
    drives = [d for s in info["info"]["servers"] for d in s.get("drives", [])]
    assert len(info["info"]["servers"]) == 2
    assert len(drives) == 4 and all(d["state"] == "ok" for d in drives), drives


def test_service_runs_as_its_own_user_with_a_secret_env_file():
    h = host("minio1")
    assert h.service("minio").is_running and h.service("minio").is_enabled
    env = h.file("/etc/minio/minio.env")
    assert env.mode == 0o600 and env.user == "root"
    assert h.check_output("ps -o user= -C minio").split()[0] == "minio-user"
    mcconf = h.file("/etc/minio/mc")
    assert mcconf.mode == 0o700 and h.file("/etc/minio/mc/config.json").mode == 0o600


@pytest.mark.parametrize(("name", "suite"), [("minio1", "bookworm"), ("minio2", "trixie")])
def test_each_node_runs_the_set_on_its_debian_release(name, suite):
    h = host(name)
    assert h.system_info.codename == suite
    policy = h.check_output("apt-cache policy python3-cryptography")
    assert f"http://mirror.wandb-lab.internal/apt/{suite} ./" in policy, policy
    assert h.service("minio").is_running and h.service("minio").is_enabled
    assert "DEVELOPMENT.2026-02-12T20-18-48Z" in h.check_output("/usr/local/bin/minio --version")


def test_version_is_the_pinned_build():
    out = host("minio1").check_output("/usr/local/bin/minio --version")
    assert "DEVELOPMENT.2026-02-12T20-18-48Z" in out


def test_certificate_names_every_node_and_the_endpoint():
    out = host("minio2").check_output(
        'python3 -c "from cryptography import x509; c = x509.load_pem_x509_certificate('
        "open('/etc/minio/certs/public.crt', 'rb').read()); "
        'print(c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)"'
    )
    assert "minio2.wandb-lab.internal" in out and "s3.wandb-lab.internal" in out


def test_anonymous_requests_are_refused(client):
    for path in ("/wandb/", "/wandb/x", "/wandb-backups/"):
        code = client.check_output(f"curl -sS -o /dev/null -w '%{{http_code}}' {ENDPOINT}{path}")
        assert code == "403", path


def test_presigned_put_get_delete_in_the_wandb_bucket(client):
    client.check_output("head -c 1048576 /dev/urandom > /tmp/obj && sha256sum /tmp/obj | cut -d' ' -f1 > /tmp/obj.sum")
    # W&B uploads with presigned PUTs (mc only shares POST policies): sign one.
    url_put = presign(client, "PUT", "verify/obj")
    assert url_put.startswith(ENDPOINT), url_put  # the endpoint name is signed in
    code = client.check_output(f"curl -sS -o /dev/null -w '%{{http_code}}' -X PUT --upload-file /tmp/obj '{url_put}'")
    assert code == "200"
    url_get = json.loads(mc(client, "share", "download", "--expire", "1h", "wandb/wandb/verify/obj"))["share"]
    assert url_get.startswith(ENDPOINT)
    got = client.check_output(f"curl -fsS '{url_get}' | sha256sum | cut -d' ' -f1")
    assert got == client.check_output("cat /tmp/obj.sum")
    url_del = presign(client, "DELETE", "verify/obj")
    code = client.check_output(f"curl -sS -o /dev/null -w '%{{http_code}}' -X DELETE '{url_del}'")
    assert code == "204"
    assert mc(client, "stat", "wandb/wandb/verify/obj", check=False).rc != 0


def presign(client, method, key, bucket="wandb"):
    """A SigV4 presigned URL made with the W&B key (python3 on the client, no SDK)."""
    script = PRESIGN.format(
        method=method, key=key, endpoint=ENDPOINT, bucket=bucket, ak="wandb", sk=secret("minio_wandb_secret_key")
    )
    return client.check_output(f"python3 - <<'EOF'\n{script}\nEOF")


PRESIGN = r"""
import datetime, hashlib, hmac, urllib.parse
method, endpoint, bucket, key, ak, sk = "{method}", "{endpoint}", "{bucket}", "{key}", "{ak}", "{sk}"
region, host = "us-east-1", urllib.parse.urlparse(endpoint).netloc
now = datetime.datetime.now(datetime.timezone.utc)
amzdate, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
scope = f"{{day}}/{{region}}/s3/aws4_request"
path = "/" + bucket + "/" + urllib.parse.quote(key)
q = {{"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Credential": f"{{ak}}/{{scope}}", "X-Amz-Date": amzdate,
     "X-Amz-Expires": "3600", "X-Amz-SignedHeaders": "host"}}
qs = "&".join(f"{{urllib.parse.quote(k, safe='')}}={{urllib.parse.quote(v, safe='')}}" for k, v in sorted(q.items()))
canon = "\n".join([method, path, qs, f"host:{{host}}\n", "host", "UNSIGNED-PAYLOAD"])
sts = "\n".join(["AWS4-HMAC-SHA256", amzdate, scope, hashlib.sha256(canon.encode()).hexdigest()])
k = ("AWS4" + sk).encode()
for part in (day, region, "s3", "aws4_request"):
    k = hmac.new(k, part.encode(), hashlib.sha256).digest()
sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
print(f"{{endpoint}}{{path}}?{{qs}}&X-Amz-Signature={{sig}}")
"""


def test_wandb_key_cannot_touch_another_bucket(client):
    client.check_output("echo x > /tmp/small")
    # The same kind of presigned PUT that works in the W&B bucket is refused here.
    url = presign(client, "PUT", "x", bucket="wandb-backups")
    answer = client.check_output(f"curl -sS -w ' HTTP %{{http_code}}' -X PUT --upload-file /tmp/small '{url}'")
    assert answer.endswith(" HTTP 403") and "<Code>AccessDenied</Code>" in answer, answer
    # mc says "Insufficient permissions" for AccessDenied.
    res = mc(client, "cp", "/tmp/small", "wandb/wandb-backups/x", check=False)
    assert res.rc != 0 and "Insufficient permissions" in res.stdout + res.stderr, res.stdout
    assert mc(client, "stat", "admin/wandb-backups/x", check=False).rc != 0
    assert mc(client, "ls", "wandb/wandb-backups", check=False).rc != 0
    assert mc(client, "mb", "wandb/another", check=False).rc != 0
    # mc admin info exits 0 on AccessDenied and says so in its JSON.
    assert json.loads(mc(client, "admin", "info", "wandb", check=False).stdout)["status"] == "error"
    assert mc(client, "admin", "user", "list", "wandb", check=False).rc != 0


def test_cors_preflight_on_a_presigned_url_answers_the_wandb_origin(client):
    url = presign(client, "PUT", "cors/check")
    headers = client.check_output(
        f"curl -sS -o /dev/null -D - -X OPTIONS -H 'Origin: {ORIGIN}' -H 'Access-Control-Request-Method: PUT' '{url}'"
    ).lower()
    assert f"access-control-allow-origin: {ORIGIN}".lower() in headers, headers
    # ETag must be readable by the browser on the upload's answer.
    headers = client.check_output(
        f"curl -sS -o /dev/null -D - -X PUT -H 'Origin: {ORIGIN}' --data-binary x '{url}'"
    ).lower()
    expose = [line for line in headers.splitlines() if line.startswith("access-control-expose-headers:")]
    assert expose and "etag" in expose[0], headers
    # A foreign origin gets no CORS grant.
    headers = client.check_output(
        "curl -sS -o /dev/null -D - -X OPTIONS -H 'Origin: https://evil.example' "
        f"-H 'Access-Control-Request-Method: PUT' '{url}'"
    ).lower()
    assert "access-control-allow-origin: https://evil.example" not in headers


def test_objects_stay_readable_with_one_node_down(client):
    client.check_output("head -c 262144 /dev/urandom > /tmp/ha && sha256sum /tmp/ha | cut -d' ' -f1 > /tmp/ha.sum")
    mc(client, "cp", "/tmp/ha", "wandb/wandb/verify/ha")
    url = json.loads(mc(client, "share", "download", "--expire", "1h", "wandb/wandb/verify/ha"))["share"]
    direct = url.replace("s3.wandb-lab.internal", "minio1.wandb-lab.internal")
    node2 = host("minio2")
    node2.check_output("systemctl stop minio")
    try:
        # Presigned URLs carry the endpoint's host name in their signature:
        # reach the surviving node under that name.
        resolve = "--resolve s3.wandb-lab.internal:9000:10.89.43.31"
        got = ""
        for _attempt in range(15):
            res = client.run(f"curl -fsS {resolve} '{url}' | sha256sum | cut -d' ' -f1")
            got = res.stdout.strip()
            if res.rc == 0 and got == client.check_output("cat /tmp/ha.sum"):
                break
            time.sleep(2)
        assert got == client.check_output("cat /tmp/ha.sum")
        assert direct  # the node's own name is not what is signed
    finally:
        node2.check_output("systemctl start minio")
    for _attempt in range(30):
        if client.run(f"curl -fsS -o /dev/null {ENDPOINT}/minio/health/cluster").rc == 0:
            break
        time.sleep(2)
    mc(client, "rm", "wandb/wandb/verify/ha")


def test_a_new_wandb_secret_key_is_rotated_in_and_the_old_one_stops_working(client, tmp_path):
    # The role tests the wanted key against MinIO (a request signed with it) to
    # find out whether MinIO holds it: a different key is a rotation.
    old = secret("minio_wandb_secret_key")
    new = tmp_path / "rotate.json"  # extra vars from a file: no secret on a command line
    new.write_text(json.dumps({"minio_wandb_secret_key": "rotated" + old[:20]}))
    try:
        res = playbook("--tags", "minio", "-e", f"@{new}")
        out = res.stdout + res.stderr
        assert res.returncode == 0, out[-3000:]
        assert recap(out)["minio1"] > 0, recap(out)
        assert mc(client, "ls", "wandb/wandb", check=False).rc != 0  # the client still has the old key
    finally:
        res = playbook("--tags", "minio")
        assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    assert recap(res.stdout)["minio1"] > 0, recap(res.stdout)
    assert mc(client, "ls", "wandb/wandb", check=False).rc == 0
