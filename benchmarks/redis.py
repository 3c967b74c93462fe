# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark of the redis Molecule scenario (not a test; prints numbers).

  python3 benchmarks/redis.py [--fresh] [--requests 20000] [--keep]

Times `molecule converge -s redis` (on fresh hosts with --fresh: destroy and
create first) and a re-run (which must change nothing), then runs
redis-benchmark from the scenario's client host against the plain host
(redis1) and the TLS host (redis2) with W&B's user. Run it from the project
root; the machine's load shows in the numbers, so compare runs on a quiet host.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from benchlib import changed, molecule

PREFIX = "wbm-redis"
CLIENT = f"{PREFIX}-client"
SERVERS = {"redis1": ("10.89.42.21", 6379, False), "redis2": ("10.89.42.22", 6380, True)}


def podman(container: str, *cmd: str, stdin: str | None = None) -> str:
    return subprocess.run(
        ["podman", "exec", "-i", container, *cmd], input=stdin, check=True, text=True, capture_output=True
    ).stdout.strip()


def bench(name: str, requests: int) -> str:
    ip, port, tls = SERVERS[name]
    password = podman(f"{PREFIX}-{name}", "cat", "/etc/onprem-wandb/redis/password")
    cmd = [
        "redis-benchmark",
        "-h",
        ip,
        "-p",
        str(port),
        "-n",
        str(requests),
        "-c",
        "20",
        "-q",
        "-t",
        "set,get,lpush,rpop",
        "--user",
        "default",
        "-a",
        password,
    ]
    if tls:
        ca = podman(f"{PREFIX}-{name}", "cat", "/etc/redis/tls/ca.crt")
        podman(CLIENT, "sh", "-c", "cat > /tmp/bench-ca.pem", stdin=ca + "\n")
        cmd += ["--tls", "--cacert", "/tmp/bench-ca.pem"]
    out = podman(CLIENT, *cmd)
    # -q prints "SET: 12345.67 requests per second, p50=..." per test (after \r progress).
    return "\n".join(
        "    " + line.split("\r")[-1].strip() for line in out.splitlines() if "requests per second" in line
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fresh", action="store_true", help="destroy and create the hosts first")
    parser.add_argument("--requests", type=int, default=20000, help="requests per redis-benchmark test")
    parser.add_argument("--keep", action="store_true", help="keep the hosts (default: keep unless --fresh)")
    args = parser.parse_args()

    if args.fresh:
        molecule("redis", "destroy")
        took, _out = molecule("redis", "create")
        print(f"create (lab hosts):          {took:7.1f} s")
    took, out = molecule("redis", "converge")
    print(f"converge:                    {took:7.1f} s  changed={changed(out)}")
    took, out = molecule("redis", "converge")
    print(f"re-run (idempotent):         {took:7.1f} s  changed={changed(out)}")
    for name in SERVERS:
        print(f"redis-benchmark from the client to {name} ({'TLS' if SERVERS[name][2] else 'plain'}):")
        print(bench(name, args.requests))
    if args.fresh and not args.keep:
        molecule("redis", "destroy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
