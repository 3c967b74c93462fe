# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark of site.yml's data layer against the floors it cannot beat (not a test; prints numbers).

  python3 benchmarks/site.py [--only converge,rerun,noop,raw,switchover,failover,backup] [--mb 64] [--keep]

On a lab of its own (mirror, a MySQL pair with a floating writer address, Redis, MinIO on
fresh hosts; subnet 10.89.52.0/24, under /tmp/lab-locks/bench-site.lock) it measures, in one
run:

- the raw install: a plain shell script per host, all hosts in parallel, that installs the
  same packages and binaries from the same mirror as site.yml did, and configures nothing;
- the first converge of site.yml on fresh hosts of the same kind, and its rerun (0 changed);
- a no-op play (gather facts + ping) on the same hosts;
- the switchover: the longest gap a writer sees through the floating address, and whether
  every acknowledged row is on both servers;
- the failover: kill -9 of the primary's mysqld to the first write accepted through the
  floating address, and whether every acknowledged row is on the new primary;
- the daily backup (dump + compress) against raw `mysqldump --single-transaction | gzip`,
  and the restore drill's load against raw `mysql < dump`, on the same data.

Each figure is printed with its ratio to its floor, measured minutes apart on the same
machine: the machine's load shows in the seconds, far less in the ratios. The hosts reach
Ansible however inventories/lab says (its `all` variables are copied). Run it from the
project root; --keep leaves the lab up (`lab/lab.py down -i <inventory>` removes it).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml
from benchlib import ROOT, backup_unit, changed, load_rows, podman, project_env, sql

sys.path.insert(0, str(ROOT / "plugins" / "plugin_utils"))
import artifacts  # noqa: E402  (the collection's artifact manifest)

NAME = "wbb-site"
NET = "10.89.52"
LOCK = Path("/tmp/lab-locks/bench-site.lock")
WORK = Path(os.environ.get("WANDB_LAB_CACHE", "/var/cache/onprem-wandb")) / "bench-site"
# The hosts: what inventories/lab has for the data layer, one MinIO node.
HOSTS = {
    "mirror": {
        "group": "lab_mirror",
        "lab_image": "mirror",
        "lab_ip": f"{NET}.2",
        "lab_aliases": ["mirror.wandb-lab.internal"],
        "lab_serves_mirror": True,
    },
    "mysql1": {"group": "wandb_mysql", "lab_image": "sid", "lab_ip": f"{NET}.11", "mysql_role": "primary"},
    "mysql2": {"group": "wandb_mysql", "lab_image": "sid", "lab_ip": f"{NET}.12", "mysql_role": "standby"},
    "redis1": {"group": "wandb_redis", "lab_image": "bookworm", "lab_ip": f"{NET}.21"},
    "minio1": {
        "group": "wandb_minio",
        "lab_image": "bookworm",
        "lab_ip": f"{NET}.31",
        "lab_aliases": ["minio1.wandb-lab.internal", "s3.wandb-lab.internal"],
    },
}
VIP = f"{NET}.10"
DATA_HOSTS = [h for h, v in HOSTS.items() if v["group"] != "lab_mirror"]
NOOP = """- name: No-op (gather facts, ping)
  hosts: wandb
  gather_facts: true
  tasks:
    - name: Ping
      ansible.builtin.ping:
"""


def container(host: str) -> str:
    return f"{NAME}-{host}"


def log(msg: str) -> None:
    print(f"site.py: {msg}", file=sys.stderr, flush=True)


# --- The lab -----------------------------------------------------------------------------------


def write_inventory() -> Path:
    """The bench lab's inventory: inventories/lab's `all` variables, its `lab` group's (how
    Ansible reaches a lab host) and group_vars, these hosts and addresses."""
    lab = yaml.safe_load((ROOT / "inventories" / "lab" / "hosts.yml").read_text())["all"]
    # How Ansible reaches a lab host: the `lab` group's variables (SSH at the lab address).
    reach = lab["children"]["lab"].get("vars", {})
    inv = WORK / "inventory"
    inv.mkdir(parents=True, exist_ok=True)
    groups: dict[str, dict] = {}
    # Host variables: they win over inventories/lab/group_vars/all (the README lab's names).
    own = {"lab_name": NAME, "lab_network": NAME, "lab_subnet": f"{NET}.0/24"}
    for host, spec in HOSTS.items():
        hv = {k: v for k, v in spec.items() if k != "group"}
        hv.update(own, ansible_host=container(host))
        groups.setdefault(spec["group"], {"hosts": {}})["hosts"][host] = hv
    groups["wandb_mysql"]["vars"] = {"mysql_vip_address": VIP}
    data = {
        "all": {
            "vars": lab.get("vars", {}),
            "children": {
                "lab_mirror": groups["lab_mirror"],
                "wandb": {"children": {g: groups[g] for g in ("wandb_mysql", "wandb_redis", "wandb_minio")}},
                "lab": {"children": {"lab_mirror": None, "wandb": None}, "vars": reach},
            },
        }
    }
    (inv / "hosts.yml").write_text("---\n# Written by benchmarks/site.py.\n" + yaml.safe_dump(data, sort_keys=False))
    # The checkout running now: a link left by another checkout (or a removed one) is replaced.
    link, target = inv / "group_vars", ROOT / "inventories" / "lab" / "group_vars"
    if link.is_symlink() and link.readlink() != target:
        link.unlink()
    if not link.is_symlink():
        link.symlink_to(target)
    return inv


def inventory_json(inventory: Path, *args: str) -> dict:
    """ansible-inventory -i INVENTORY ARGS, read."""
    out = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "ansible-inventory"), "-i", str(inventory), *args],
        cwd=ROOT,
        env=project_env(),
        text=True,
        capture_output=True,
        check=True,
    ).stdout
    return json.loads(out)


def lab(command: str, inventory: Path) -> None:
    """lab.py COMMAND on the bench lab, once the inventory is known to name only its own
    containers and network (lab.py down removes the network and whatever still uses it)."""
    listed = inventory_json(inventory, "--list")["_meta"]["hostvars"]
    for host in HOSTS:
        hv = listed[host]
        if (hv["lab_name"], hv["lab_network"], hv["ansible_host"]) != (NAME, NAME, container(host)):
            sys.exit(f"the bench inventory names another lab for {host}: {hv['lab_name']}/{hv['lab_network']}")
    res = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), str(ROOT / "lab" / "lab.py"), command, "-i", str(inventory)],
        cwd=ROOT,
        env=project_env(),
        text=True,
        capture_output=True,
        check=False,
    )
    if res.returncode != 0:
        sys.exit(f"lab.py {command} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")


def fresh(inventory: Path) -> None:
    """Every host of the lab made again from its image."""
    lab("down", inventory)
    lab("up", inventory)


def on(host: str, *cmd: str, stdin: str | None = None, check: bool = True) -> str:
    """CMD on the bench lab's HOST."""
    return podman(container(host), *cmd, stdin=stdin, check=check)


def playbook(
    inventory: Path, path: str, *args: str, log_as: str = "", profile: bool = True, **extra_env: str
) -> tuple[float, str]:
    """Run ansible-playbook PATH against the bench lab (EXTRA_ENV added to its environment);
    (seconds, output). The output (with profile_tasks' per-task times) is also kept in
    WORK/<log_as>.log."""
    env = project_env(
        ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"),
        ANSIBLE_ROLES_PATH=str(ROOT / "roles"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        **extra_env,
    )
    env.pop("ANSIBLE_CONFIG", None)
    if profile:
        env["ANSIBLE_CALLBACKS_ENABLED"] = "ansible.posix.profile_tasks"
    cmd = [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", str(inventory), path, *args]
    start = time.monotonic()
    res = subprocess.run(cmd, cwd=ROOT, env=env, text=True, capture_output=True, check=False)
    took = time.monotonic() - start
    if log_as:
        (WORK / f"{log_as}.log").write_text(res.stdout + res.stderr)
    if res.returncode != 0:
        sys.exit(f"{path} failed ({log_as}):\n{res.stdout[-4000:]}\n{res.stderr[-2000:]}")
    return took, res.stdout


# --- The raw install: the floor of the first converge ------------------------------------------


def packages(host: str) -> dict[str, str]:
    """Every installed package of HOST: name -> version."""
    out = on(host, "dpkg-query", "-W", "-f", "${db:Status-Abbrev} ${Package} ${Version}\\n")
    return {p: v for status, p, v in (line.split() for line in out.splitlines()) if status == "ii"}


def binaries(host: str) -> list[str]:
    """The ELF executables site.yml installed under /usr/local (the roles' binaries)."""
    out = on(
        host,
        "sh",
        "-c",
        "for f in $(find /usr/local/bin /usr/local/sbin -type f 2>/dev/null); do "
        "[ \"$(head -c4 $f | od -An -c | tr -d ' ')\" = '177ELF' ] && echo $f; done",
        check=False,
    )
    return sorted(out.split())


def raw_script(host: str, fresh_packages: dict[str, str], mirror_url: str) -> str:
    """What a person would type on HOST to install what site.yml installed there, from the same
    mirror, configuring nothing: the mirror's apt source (the file site.yml wrote, and its key),
    exactly the packages and versions site.yml added, the binaries checked against their pins."""
    added = {p: v for p, v in packages(host).items() if fresh_packages.get(p) != v}
    source = on(host, "cat", "/etc/apt/sources.list.d/onprem-wandb-mirror.sources")
    key = on(host, "cat", "/etc/apt/keyrings/onprem-wandb-mirror.asc")
    lines = [
        "set -eu",
        "export DEBIAN_FRONTEND=noninteractive",
        "mkdir -p /etc/apt/keyrings",
        f"cat > /etc/apt/keyrings/onprem-wandb-mirror.asc <<'EOF'\n{key}\nEOF",
        f"cat > /etc/apt/sources.list.d/onprem-wandb-mirror.sources <<'EOF'\n{source}\nEOF",
        "apt-get update -qq",
        "apt-get install -y -qq --no-install-recommends " + " ".join(f"{p}={v}" for p, v in sorted(added.items())),
    ]
    man = artifacts.manifest()
    by_binary = {(e.get("binary") or n): n for n, e in (man.get("files") or {}).items()}
    for path in binaries(host):
        name = by_binary.get(Path(path).name)
        if not name:
            sys.exit(f"{host}:{path} is no binary of the artifact manifest (files/)")
        art = artifacts.resolve(man, f"files/{name}", mirror_url=mirror_url)
        lines += [
            f"curl -fsS -o {path} {art['url']}",
            f"echo '{art['sha256']}  {path}' | sha256sum -c --quiet",
            f"chmod 0755 {path}",
        ]
    return "\n".join(lines) + "\n"


def raw_install(scripts: dict[str, str]) -> float:
    """Run each host's script on its host, all at once; the wall time until the last one ends."""
    failures = []

    def one(host: str, script: str) -> None:
        res = subprocess.run(
            ["podman", "exec", "-i", container(host), "bash", "-s"],
            input=script,
            text=True,
            capture_output=True,
            check=False,
        )
        if res.returncode != 0:
            failures.append(f"{host}: {res.stderr.strip()[-1500:]}")

    threads = [threading.Thread(target=one, args=item) for item in scripts.items()]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.monotonic() - start
    if failures:
        sys.exit("the raw install failed:\n" + "\n".join(failures))
    return took


# --- The MySQL pair: writers, promotions, backups ------------------------------------------------

WRITER = ROOT / "molecule" / "shared" / "writer.sh"
CLIENT_CNF = "/root/.wandb-client.cnf"


def live_primary() -> str:
    for host in ("mysql1", "mysql2"):
        if on(host, "mysql", "-N", "-B", "-e", "SELECT @@GLOBAL.read_only", check=False) == "0":
            return host
    sys.exit("no writable MySQL server in the bench lab")


def other(host: str) -> str:
    return "mysql2" if host == "mysql1" else "mysql1"


class Writer:
    """molecule/shared/writer.sh (W&B's writes, one connection per row) on CLIENT through the
    floating writer address, into TABLE (created on PRIMARY)."""

    def __init__(self, client: str, primary: str, table: str):
        self.client, self.table, self.dir = client, table, f"/tmp/bench-writer-{table.split('.')[-1]}"
        sql(
            container(primary),
            f"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id INT PRIMARY KEY, host VARCHAR(32))",
        )
        # W&B's login, read on the host from the generated password (never on a command line).
        on(
            client,
            "sh",
            "-c",
            f"umask 077 && {{ printf '[client]\\nuser=wandb\\npassword='; cat /etc/mysql/onprem-wandb/wandb_password; }}"
            f" > {CLIENT_CNF} && rm -rf {self.dir} && mkdir -p {self.dir} && cat > {self.dir}/writer.sh",
            stdin=WRITER.read_text(),
        )
        on(
            client,
            "sh",
            "-c",
            # From the host's own address, as W&B on another host connects.
            f"WRITER_BIND={HOSTS[client]['lab_ip']} setsid nohup bash {self.dir}/writer.sh {self.dir} {table} {VIP}"
            " </dev/null >/dev/null 2>&1 &",
        )

    def committed(self) -> list[tuple[int, float]]:
        out = on(self.client, "cat", f"{self.dir}/ok")
        return [(int(i), float(t)) for i, t, _h in (line.split() for line in out.splitlines())]

    def wait(self, count: int, after: float = 0.0, timeout: float = 120) -> None:
        deadline = time.time() + timeout
        while len([r for r in self.committed() if r[1] > after]) < count:
            if time.time() > deadline:
                sys.exit(f"the writer committed no {count} rows: {on(self.client, 'tail', '-3', f'{self.dir}/err')}")
            time.sleep(0.5)

    def stop(self) -> list[tuple[int, float]]:
        on(self.client, "touch", f"{self.dir}/stop")
        for _attempt in range(60):
            if on(self.client, "sh", "-c", f"test -e {self.dir}/stopped && echo yes", check=False) == "yes":
                break
            time.sleep(0.5)
        return self.committed()

    def missing_on(self, host: str, done: list[tuple[int, float]]) -> int:
        ids = {int(i) for i in sql(container(host), f"SELECT id FROM {self.table}").split()}
        return len({i for i, _t in done} - ids)


def longest_gap(done: list[tuple[int, float]], after: float) -> float:
    times = [t for _i, t in done if t > after]
    return max((b - a for a, b in zip(times, times[1:], strict=False)), default=float("nan"))


def switchover(inventory: Path) -> dict:
    """A switchover while W&B's writer writes through the floating address."""
    primary = live_primary()
    writer = Writer(primary, primary, "wandb_local.bench_switchover")
    writer.wait(20)
    started = time.time()
    took, out = playbook(inventory, str(ROOT / "playbooks" / "mysql_switchover.yml"), log_as="switchover")
    writer.wait(20, after=time.time())
    done = writer.stop()
    time.sleep(2)
    refused = re.search(r"Writes were refused for ([0-9.]+) s", out)
    return {
        "gap": longest_gap(done, started),
        "refused": float(refused.group(1)) if refused else float("nan"),
        "playbook": took,
        "missing": {h: writer.missing_on(h, done) for h in ("mysql1", "mysql2")},
        "rows": len(done),
    }


def failover(inventory: Path) -> dict:
    """kill -9 of the primary's mysqld, the failover playbook, the first write accepted through the
    floating address; whether every acknowledged row is on the new primary."""
    dead = live_primary()
    new = other(dead)
    writer = Writer(new, dead, "wandb_local.bench_failover")
    writer.wait(20)
    killed = time.time()
    on(dead, "sh", "-c", "kill -9 $(pidof mysqld); systemctl stop mysql")
    # Rows acknowledged before this came from the old primary in its last moments.
    dead_for_sure = time.time()
    took, _out = playbook(inventory, str(ROOT / "playbooks" / "mysql_failover.yml"), log_as="failover")
    writer.wait(20, after=time.time())
    done = writer.stop()
    first = min(t for _i, t in done if t > dead_for_sure)
    return {"kill_to_write": first - killed, "playbook": took, "missing": writer.missing_on(new, done)}


def backup_and_restore(inventory: Path, mib: int) -> dict:
    """The backup unit and the restore drill against raw mysqldump | gzip and raw mysql < dump, on
    the same rows, on the backup host (the standby)."""
    primary = live_primary()
    standby = other(primary)
    rows, _lags = load_rows(container(primary), container(standby), "wandb_local.bench_rows", mib)
    out = {"rows": rows}
    # Raw: the same databases, the same snapshot semantics, Debian's gzip at its default level.
    start = time.monotonic()
    on(standby, "sh", "-c", "mysqldump --single-transaction --databases wandb_local | gzip > /var/tmp/bench-raw.sql.gz")
    out["raw_dump_seconds"] = time.monotonic() - start
    raw_bytes = int(on(standby, "sh", "-c", "gzip -dc /var/tmp/bench-raw.sql.gz | tee /var/tmp/bench-raw.sql | wc -c"))
    backup = backup_unit(container(standby))
    out.update(
        raw_bytes=raw_bytes,
        dump_bytes=backup["raw_bytes"],
        dump_seconds=backup["status"]["dump_seconds"],
        unit_seconds=backup["seconds"],
        compressed=backup["status"]["size"],
        file=backup["status"]["file"],
    )
    # Raw load: the drill's kind of scratch mysqld (no configuration, no binary log), by hand.
    out["raw_load_seconds"] = raw_load(standby)
    took, log = playbook(
        inventory,
        str(ROOT / "playbooks" / "mysql_restore.yml"),
        "-e",
        "mysql_restore_drill=true",
        log_as="restore-drill",
    )
    match = re.search(r"Load the backup into the scratch instance\s*-+\s*([\d.]+)s", log)
    out["drill_load_seconds"] = float(match.group(1)) if match else float("nan")
    out["drill_seconds"] = took
    out["drill_ok"] = "match the source" in log
    on(standby, "rm", "-f", "/var/tmp/bench-raw.sql.gz", "/var/tmp/bench-raw.sql")
    sql(container(primary), "DROP TABLE IF EXISTS wandb_local.bench_rows")
    return out


def raw_load(host: str) -> float:
    """Seconds `mysql < dump` takes into a fresh scratch mysqld on HOST (started as the drill starts
    its own, removed afterwards)."""
    scratch = "/var/tmp/bench-scratch"
    on(
        host,
        "sh",
        "-c",
        f"rm -rf {scratch} && mkdir -p {scratch} && chown mysql:mysql {scratch} && "
        f"mysqld --no-defaults --initialize-insecure --user=mysql --datadir={scratch}/data --log-error={scratch}/init.log && "
        f"systemd-run --unit=bench-scratch-mysqld --collect /usr/sbin/mysqld --no-defaults --user=mysql "
        f"--datadir={scratch}/data --socket={scratch}/mysqld.sock --pid-file={scratch}/mysqld.pid "
        f"--log-error={scratch}/error.log --port=3308 --bind-address=127.0.0.1 --mysqlx=OFF --skip-log-bin "
        f"--innodb-buffer-pool-size=128M --performance-schema=OFF && "
        f"for i in $(seq 60); do mysqladmin --no-defaults -uroot -S {scratch}/mysqld.sock ping >/dev/null 2>&1 && break; sleep 1; done",
    )
    start = time.monotonic()
    on(host, "sh", "-c", f"mysql --no-defaults -uroot -S {scratch}/mysqld.sock < /var/tmp/bench-raw.sql")
    took = time.monotonic() - start
    on(host, "sh", "-c", f"systemctl stop bench-scratch-mysqld; rm -rf {scratch}", check=False)
    return took


# --- The report ------------------------------------------------------------------------------------


def report(rows: list[tuple[str, str, str, str]]) -> None:
    print("| what | measured | floor (same run) | ratio | target |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def ratio_row(what: str, value: float, floor: float, floor_what: str, limit: float, higher_is_better: bool = False):
    r = value / floor if floor else float("nan")
    ok = r >= limit if higher_is_better else r <= limit
    unit = "" if higher_is_better else " s"
    return (
        what,
        f"{value:.1f}{unit}",
        f"{floor:.1f}{unit} ({floor_what})",
        f"{r:.2f}x",
        f"{'>=' if higher_is_better else '<='} {limit:g}x {'met' if ok else 'NOT met'}",
    )


STEPS = ("converge", "raw", "switchover", "failover", "backup")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(STEPS), help=f"comma-separated subset of {', '.join(STEPS)}")
    parser.add_argument("--mb", type=int, default=64, help="MiB of rows for the backup and restore figures")
    parser.add_argument("--keep", action="store_true", help="leave the lab up at the end")
    parser.add_argument(
        "--mitogen",
        metavar="DIR",
        help="also time the rerun with Mitogen's linear strategy (an opt-in some sites use; the collection "
        "does not need it), from a Mitogen installed with `pip install --target DIR mitogen==VERSION`",
    )
    args = parser.parse_args()
    only = set(args.only.split(","))
    if only - set(STEPS):
        parser.error(f"--only: unknown {', '.join(sorted(only - set(STEPS)))}")

    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK, "w", encoding="utf-8") as lock:
        log(f"waiting for {LOCK}")
        fcntl.flock(lock, fcntl.LOCK_EX)
        WORK.mkdir(parents=True, exist_ok=True)
        inventory = write_inventory()
        mirror_url = lab_var(inventory, "wandb_mirror_url")
        site = str(ROOT / "playbooks" / "site.yml")
        rows, figures = [], {}
        log("fresh hosts")
        fresh(inventory)
        before = {h: packages(h) for h in DATA_HOSTS}
        log("first converge of site.yml")
        figures["converge"], out = playbook(inventory, site, log_as="converge")
        log(f"rerun of site.yml (converge changed {changed(out)})")
        figures["rerun"], out = playbook(inventory, site, log_as="rerun")
        figures["rerun_changed"] = changed(out)
        noop = WORK / "noop.yml"
        noop.write_text("---\n" + NOOP)
        log("no-op play")
        figures["noop"], _out = playbook(inventory, str(noop), log_as="noop")
        if args.mitogen:
            log("rerun of site.yml with Mitogen")
            mitogen = Path(args.mitogen).resolve()
            figures["rerun_mitogen"], out = playbook(
                inventory,
                site,
                log_as="rerun-mitogen",
                ANSIBLE_STRATEGY_PLUGINS=str(mitogen / "ansible_mitogen" / "plugins" / "strategy"),
                ANSIBLE_STRATEGY="mitogen_linear",
                PYTHONPATH=str(mitogen),
            )
            figures["rerun_mitogen_changed"] = changed(out)
        scripts = {h: raw_script(h, before[h], mirror_url) for h in DATA_HOSTS}
        for host, script in scripts.items():
            (WORK / f"raw-{host}.sh").write_text(script)
        rows.append(
            ratio_row(
                "site.yml rerun, 0 changed"
                if figures["rerun_changed"] == 0
                else f"site.yml rerun, {figures['rerun_changed']} CHANGED",
                figures["rerun"],
                figures["noop"],
                "no-op play: facts + ping",
                5,
            )
        )
        if args.mitogen:
            rows.append(
                ratio_row(
                    f"site.yml rerun with Mitogen (opt-in), {figures['rerun_mitogen_changed']} changed",
                    figures["rerun_mitogen"],
                    figures["noop"],
                    "no-op play: facts + ping (without Mitogen)",
                    5,
                )
            )
        if "backup" in only:
            log("backup and restore")
            b = backup_and_restore(inventory, args.mb)
            mb = b["dump_bytes"] / 1e6
            rows.append(
                ratio_row(
                    f"daily backup, dump + compress ({mb:.0f} MB) in MB/s",
                    mb / b["dump_seconds"],
                    b["raw_bytes"] / 1e6 / b["raw_dump_seconds"],
                    "raw mysqldump | gzip",
                    0.8,
                    True,
                )
            )
            rows.append(
                ratio_row(
                    "restore drill, load in MB/s" + ("" if b["drill_ok"] else " (checksums NOT confirmed)"),
                    mb / b["drill_load_seconds"],
                    b["raw_bytes"] / 1e6 / b["raw_load_seconds"],
                    "raw mysql < dump",
                    0.8,
                    True,
                )
            )
            figures["backup"] = b
        if "switchover" in only:
            log("switchover under writes")
            s = switchover(inventory)
            ok = s["gap"] <= 1.0 and not any(s["missing"].values())
            rows.append(
                (
                    "switchover: longest gap through the floating address",
                    f"{s['gap']:.2f} s",
                    f"writes refused {s['refused']:.2f} s (module); {s['rows']} rows, missing {s['missing']}",
                    "-",
                    f"<= 1 s, RPO 0 {'met' if ok else 'NOT met'}",
                )
            )
            figures["switchover"] = s
        if "failover" in only:
            log("failover after kill -9")
            f = failover(inventory)
            ok = f["kill_to_write"] <= 15 and f["missing"] == 0
            rows.append(
                (
                    "failover: kill -9 to the first write through the floating address",
                    f"{f['kill_to_write']:.1f} s",
                    f"playbook {f['playbook']:.1f} s; missing rows {f['missing']}",
                    "-",
                    f"<= 15 s, every row {'met' if ok else 'NOT met'}",
                )
            )
            figures["failover"] = f
        if "raw" in only:
            log("fresh hosts for the raw install")
            fresh(inventory)
            figures["raw"] = raw_install(scripts)
            rows.insert(
                1,
                ratio_row(
                    "site.yml first converge",
                    figures["converge"],
                    figures["raw"],
                    "raw install: a shell script per host, in parallel",
                    2,
                ),
            )
        (WORK / "figures.json").write_text(json.dumps(figures, indent=2, default=str))
        report(rows)
        if not args.keep:
            lab("down", inventory)
    return 0


def lab_var(inventory: Path, name: str) -> str:
    """A variable of the bench lab's mysql1 (as the inventory gives it)."""
    return inventory_json(inventory, "--host", "mysql1")[name]


if __name__ == "__main__":
    sys.exit(main())
