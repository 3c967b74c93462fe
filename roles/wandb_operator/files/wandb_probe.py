# SPDX-License-Identifier: GPL-3.0-or-later
"""W&B's view of its services, from inside the cluster (playbooks/verify.yml).

Runs in a pod that gets exactly what W&B's pods get: the settings of the
WeightsAndBiases resource as environment variables and the Secrets it
references (PASSWORD and key variables, the CA bundle under /etc/wandb-ca).
Each check logs in the way W&B does and prints one JSON record per check:
{check, status, result, action}; the exit status is 0 when all are ok.

  wandb_probe.py [mysql] [redis] [s3] [--keep]

mysql: TLS login verified against the CA (and the server's name), then a row
written and read back (in a TEMPORARY table, or in the table wandb_probe with
--keep); redis: AUTH and PING over verified TLS; s3: PUT and GET through
presigned URLs (signature V4, as W&B signs them) and the CORS preflight for the
W&B origin (the object is deleted again unless --keep). Python's standard
library only, plus PyMySQL for MySQL.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import http.client
import json
import os
import secrets
import socket
import ssl
import sys
import urllib.parse

CA_DIR = os.environ.get("WANDB_CA_DIR", "/etc/wandb-ca")


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise KeyError(f"{name} is not set in the probe pod")
    return value


def ca_file(service: str) -> str | None:
    path = os.path.join(CA_DIR, f"{service}_ca.pem")
    return path if os.path.exists(path) else None


def tls_context(service: str) -> ssl.SSLContext | None:
    """Verified TLS with the service's CA, or None when the service has no TLS."""
    ca = ca_file(service)
    return ssl.create_default_context(cafile=ca) if ca else None


def record(check: str, ok: bool, result: str, action: str) -> dict:
    return {"check": check, "status": "ok" if ok else "fail", "result": result, "action": "" if ok else action}


# ---------------------------------------------------------------- MySQL
def check_mysql(keep: bool) -> dict:
    check = "W&B login to MySQL (in the cluster)"
    action = "check the writer address, the W&B account and its password Secret, and the MySQL CA"
    try:
        import pymysql
    except ImportError:
        return record(check, False, "PyMySQL is not in the probe image", "use a probe image with python3 and PyMySQL")
    host, port = env("MYSQL_HOST"), int(env("MYSQL_PORT", "3306"))
    ca = ca_file("mysql")
    token = secrets.token_hex(8)
    try:
        conn = pymysql.connect(
            host=host,
            port=port,
            user=env("MYSQL_USER"),
            password=env("MYSQL_PASSWORD"),
            database=env("MYSQL_DATABASE"),
            ssl={"ca": ca, "check_hostname": True} if ca else None,
            connect_timeout=10,
        )
        with conn.cursor() as cur:
            cur.execute("SHOW SESSION STATUS LIKE 'Ssl_version'")
            tls = (cur.fetchone() or ("", ""))[1]
            table = "wandb_probe" if keep else "wandb_probe_tmp"
            temporary = "" if keep else "TEMPORARY "
            cur.execute(f"CREATE {temporary}TABLE IF NOT EXISTS {table} (token VARCHAR(32) PRIMARY KEY, at DATETIME)")
            cur.execute(f"INSERT INTO {table} VALUES (%s, NOW())", (token,))
            conn.commit()
            cur.execute(f"SELECT token FROM {table} WHERE token = %s", (token,))
            read = (cur.fetchone() or [None])[0]
        conn.close()
    except Exception as exc:  # noqa: BLE001 - every failure is a result here
        return record(check, False, f"{host}:{port}: {exc}", action)
    ok = read == token and (bool(tls) or not ca)
    how = f"TLS {tls}, verified against the CA" if ca else "without TLS"
    return record(
        check, ok, f"{env('MYSQL_USER')}@{host}:{port}/{env('MYSQL_DATABASE')} ({how}): row written and read", action
    )


# ---------------------------------------------------------------- Redis
def resp(sock, *args: str) -> bytes:
    payload = f"*{len(args)}\r\n".encode() + b"".join(
        f"${len(a.encode())}\r\n".encode() + a.encode() + b"\r\n" for a in args
    )
    sock.sendall(payload)
    return sock.recv(4096)


def check_redis() -> dict:
    check = "W&B login to Redis (in the cluster)"
    action = "check Redis' address, the password Secret and the Redis CA"
    host, port = env("REDIS_HOST"), int(env("REDIS_PORT"))
    context = tls_context("redis")
    try:
        raw = socket.create_connection((host, port), timeout=10)
        sock = context.wrap_socket(raw, server_hostname=host) if context else raw
        auth = resp(sock, "AUTH", env("REDIS_PASSWORD"))
        pong = resp(sock, "PING")
        sock.close()
    except Exception as exc:  # noqa: BLE001
        return record(check, False, f"{host}:{port}: {exc}", action)
    ok = auth.startswith(b"+OK") and pong.startswith(b"+PONG")
    how = "TLS verified against the CA" if context else "without TLS"
    return record(
        check, ok, f"{host}:{port} ({how}): AUTH {auth.strip().decode()}, PING {pong.strip().decode()}", action
    )


# ---------------------------------------------------------------- S3
def presign(method: str, endpoint: str, bucket: str, key: str, region: str, access: str, secret: str) -> str:
    """A presigned URL (signature V4, path style, host signed) as W&B makes them."""
    now = datetime.datetime.now(datetime.timezone.utc)  # noqa: UP017 - runs on older Pythons too
    stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    scope = f"{day}/{region}/s3/aws4_request"
    path = "/" + urllib.parse.quote(bucket) + "/" + urllib.parse.quote(key, safe="/~")
    query = {
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": f"{access}/{scope}",
        "X-Amz-Date": stamp,
        "X-Amz-Expires": "600",
        "X-Amz-SignedHeaders": "host",
    }
    canonical_query = "&".join(
        f"{urllib.parse.quote(k, safe='~')}={urllib.parse.quote(v, safe='~')}" for k, v in sorted(query.items())
    )
    canonical = "\n".join([method, path, canonical_query, f"host:{endpoint}", "", "host", "UNSIGNED-PAYLOAD"])
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key_ = ("AWS4" + secret).encode()
    for part in (day, region, "s3", "aws4_request"):
        key_ = hmac.new(key_, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key_, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"{path}?{canonical_query}&X-Amz-Signature={signature}"


def s3_request(
    endpoint: str, context, method: str, target: str, body: bytes | None = None, headers: dict | None = None
):
    host, port = endpoint.rsplit(":", 1)
    conn = (
        http.client.HTTPSConnection(host, int(port), context=context, timeout=20)
        if context
        else http.client.HTTPConnection(host, int(port), timeout=20)
    )
    conn.request(method, target, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, dict((k.lower(), v) for k, v in response.getheaders()), data


def check_s3(keep: bool) -> list[dict]:
    endpoint = env("BUCKET_NAME")  # host:port, as W&B's global.bucket.name
    path = env("BUCKET_PATH")  # bucket[?tls=true]
    bucket = path.split("?", 1)[0]
    region, access, secret = env("BUCKET_REGION"), env("ACCESS_KEY"), env("SECRET_KEY")
    origin = env("WANDB_ORIGIN")
    context = tls_context("s3") if "tls=true" in path else None
    key = f"wandb-probe/{secrets.token_hex(8)}"
    body = secrets.token_bytes(4096)
    action = "check the bucket settings, the key Secret, the MinIO CA and that the endpoint resolves in the cluster"
    check = "W&B presigned PUT and GET on the bucket (in the cluster)"
    out = []
    try:
        put = s3_request(endpoint, context, "PUT", presign("PUT", endpoint, bucket, key, region, access, secret), body)
        get = s3_request(endpoint, context, "GET", presign("GET", endpoint, bucket, key, region, access, secret))
        ok = put[0] == 200 and get[0] == 200 and get[2] == body
        how = "TLS verified against the CA" if context else "without TLS"
        out.append(
            record(
                check, ok, f"{endpoint}/{bucket} ({how}): PUT {put[0]}, GET {get[0]}, {len(get[2])} bytes back", action
            )
        )
        preflight = s3_request(
            endpoint,
            context,
            "OPTIONS",
            presign("PUT", endpoint, bucket, key, region, access, secret),
            headers={"Origin": origin, "Access-Control-Request-Method": "PUT"},
        )
        allowed = preflight[1].get("access-control-allow-origin", "")
        out.append(
            record(
                "W&B CORS preflight on the bucket (in the cluster)",
                allowed in (origin, "*"),
                f"OPTIONS {preflight[0]} for Origin {origin}: Access-Control-Allow-Origin '{allowed}'",
                "allow the W&B origin (minio_cors_allowed_origins) on the object store",
            )
        )
        if not keep:
            s3_request(endpoint, context, "DELETE", presign("DELETE", endpoint, bucket, key, region, access, secret))
    except Exception as exc:  # noqa: BLE001
        out.append(record(check, False, f"{endpoint}/{bucket}: {exc}", action))
    return out


def main(argv: list[str]) -> int:
    keep = "--keep" in argv
    wanted = [a for a in argv if not a.startswith("--")] or ["mysql", "redis", "s3"]
    records = []
    for name in wanted:
        if name == "mysql":
            records.append(check_mysql(keep))
        elif name == "redis":
            records.append(check_redis())
        elif name == "s3":
            records.extend(check_s3(keep))
        else:
            records.append(record(f"probe {name}", False, "unknown check", "use mysql, redis or s3"))
    print(json.dumps(records))
    return 0 if all(r["status"] == "ok" for r in records) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
