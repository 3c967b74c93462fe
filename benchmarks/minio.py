# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark of the minio Molecule scenario (not a test; prints numbers).

  python3 benchmarks/minio.py [--fresh] [--size-mb 64] [--rounds 3] [--keep]

Times `molecule converge -s minio` (the first converge, on fresh hosts with
--fresh) and a re-run, then measures presigned PUT and GET throughput from the
scenario's client host to the endpoint name through curl. Run it from the
project root with the venv active.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from benchlib import ROOT, changed, molecule

sys.path.insert(0, str(ROOT / "molecule" / "minio" / "tests"))
CACHE = Path(os.environ.get("WANDB_LAB_CACHE", "/var/cache/onprem-wandb"))
CLIENT = "wbm-minio-client"
ENDPOINT = "https://s3.wandb-lab.internal:9000"


def recap(out: str) -> str:
    return f"changed={changed(out)} (all plays, all hosts)"


def client(cmd: str) -> str:
    return subprocess.run(
        ["podman", "exec", CLIENT, "sh", "-c", cmd], check=True, text=True, capture_output=True
    ).stdout.strip()


def presign(method: str, key: str) -> str:
    from test_minio import PRESIGN  # the scenario's SigV4 presigner, no SDK needed

    sk = (CACHE / "secrets" / "minio_wandb_secret_key").read_text().split()[0]
    script = PRESIGN.format(method=method, key=key, endpoint=ENDPOINT, bucket="wandb", ak="wandb", sk=sk)
    return subprocess.run(
        ["podman", "exec", "-i", CLIENT, "python3", "-"], input=script, check=True, text=True, capture_output=True
    ).stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fresh", action="store_true", help="destroy and create the hosts first")
    parser.add_argument("--size-mb", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the hosts (default: keep unless --fresh)")
    args = parser.parse_args()

    if args.fresh:
        molecule("minio", "destroy")
        took = molecule("minio", "create")[0]
        print(f"create (lab hosts):        {took:7.1f} s")
    took, out = molecule("minio", "converge")
    print(f"converge:                  {took:7.1f} s  {recap(out)}")
    took, out = molecule("minio", "converge")
    print(f"re-run (idempotent):       {took:7.1f} s  {recap(out)}")

    # The client trusts the CA once (the scenario's verify does the same).
    ca = subprocess.run(
        ["podman", "exec", "wbm-minio-minio1", "cat", "/usr/local/share/ca-certificates/onprem-wandb-minio-ca.crt"],
        check=True,
        text=True,
        capture_output=True,
    ).stdout
    subprocess.run(
        [
            "podman",
            "exec",
            "-i",
            CLIENT,
            "sh",
            "-c",
            "cat > /usr/local/share/ca-certificates/onprem-wandb-minio-ca.crt && update-ca-certificates >/dev/null",
        ],
        input=ca,
        check=True,
        text=True,
    )
    client(f"head -c {args.size_mb}M /dev/urandom > /tmp/bench.bin")
    size = args.size_mb * 1024 * 1024
    for n in range(1, args.rounds + 1):
        key = f"bench/obj-{n}"
        put = float(
            client(
                f"curl -fsS -o /dev/null -w '%{{time_total}}' -X PUT --upload-file /tmp/bench.bin '{presign('PUT', key)}'"
            )
        )
        get = float(client(f"curl -fsS -o /dev/null -w '%{{time_total}}' '{presign('GET', key)}'"))
        client(f"curl -fsS -o /dev/null -X DELETE '{presign('DELETE', key)}'")
        print(f"presigned PUT {args.size_mb} MiB #{n}:    {put:7.2f} s  {size / put / 1e6:8.1f} MB/s")
        print(f"presigned GET {args.size_mb} MiB #{n}:    {get:7.2f} s  {size / get / 1e6:8.1f} MB/s")
    client("rm -f /tmp/bench.bin")
    if args.fresh and not args.keep:
        molecule("minio", "destroy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
