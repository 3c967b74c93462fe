# SPDX-License-Identifier: GPL-3.0-or-later
"""Take one consistent backup of W&B's MySQL databases (onprem.wandb.mysql).

  python3 wandb-mysql-backup [CONFIG]    (default /etc/mysql/onprem-wandb/backup.json)

Installed by the role as it is; every setting comes from CONFIG, a JSON file
the role writes (templates/wandb-mysql-backup.json.j2): dir, prefix,
databases, retention_days, status_file, defaults_file, gzip_level, lock_file
and offsite ({"type": "none"}, rsync: dest, ssh_key, known_hosts,
password_file; s3: mc, config_dir, env_file, bucket, prefix).

On a replica the applier (SQL thread) pauses while the table checksums are
read and the dump runs, so the dump, its checksums and its GTID set describe
one point in time; the receiver keeps running, so semi-synchronous commits on
the primary are not held up. The dump is mysqldump --single-transaction with
the GTID set written as a comment (restores replay with new GTIDs and
replicate), compressed with gzip, verified, checksummed (sha256sum format next
to it), described in a manifest (.json: GTID set, per-table CHECKSUM TABLE
values), copied off the host (rsync or S3 with mc) and verified there, then
backups older than the retention are removed. Every run writes the status
file; a failure also exits 1, which fails the systemd unit.
"""

import datetime
import fcntl
import gzip
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import time

DEFAULT_CONFIG = "/etc/mysql/onprem-wandb/backup.json"
DEFAULT_LOCK = "/run/lock/wandb-mysql-backup.lock"
NAME_RE = re.compile(r"^(?P<prefix>.+)-(?P<stamp>\d{8}T\d{6}Z)\.sql\.gz$")
GTID_RE = re.compile(r"GTID_PURGED=(?:/\*!80000 '\+'\*/ )?'\+?([^']*)'")


class BackupError(Exception):
    pass


def log(msg):
    print(msg, flush=True)


def run(cmd, **kw):
    res = subprocess.run(cmd, capture_output=True, text=True, check=False, **kw)
    if res.returncode != 0:
        raise BackupError(f"{os.path.basename(cmd[0])} failed ({res.returncode}): {res.stderr.strip()[-2000:]}")
    return res.stdout


def sql(cfg, query):
    out = run(["mysql", f"--defaults-extra-file={cfg['defaults_file']}", "-N", "-B", "-e", query])
    return [line.split("\t") for line in out.splitlines()]


def quote_name(name):
    return "`" + name.replace("`", "``") + "`"


def table_checksums(cfg, tables):
    sums = {}
    for start in range(0, len(tables), 50):
        chunk = tables[start : start + 50]
        query = "CHECKSUM TABLE " + ", ".join(f"{quote_name(s)}.{quote_name(t)}" for s, t in chunk)
        for name, value in sql(cfg, query):
            sums[name] = value
    return sums


def dump(cfg, path):
    dump_cmd = [
        "mysqldump",
        f"--defaults-extra-file={cfg['defaults_file']}",
        "--single-transaction",
        "--set-gtid-purged=COMMENTED",
        "--routines",
        "--events",
        "--triggers",
        "--hex-blob",
        "--no-tablespaces",
        "--databases",
        *cfg["databases"],
    ]
    with open(path, "wb") as out:
        os.fchmod(out.fileno(), 0o600)
        dumper = subprocess.Popen(dump_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        zipper = subprocess.Popen(["gzip", "-c", f"-{cfg['gzip_level']}"], stdin=dumper.stdout, stdout=out)
        dumper.stdout.close()
        dump_err = dumper.stderr.read().decode(errors="replace")
        dump_rc = dumper.wait()
        zip_rc = zipper.wait()
    if dump_rc != 0:
        raise BackupError(f"mysqldump failed ({dump_rc}): {dump_err.strip()[-2000:]}")
    if zip_rc != 0:
        raise BackupError(f"gzip failed ({zip_rc})")


def dump_gtid(path):
    with gzip.open(path, "rt", errors="replace") as f:
        head = f.read(1 << 20)
    match = GTID_RE.search(head.replace("\n", ""))
    return match.group(1).strip() if match else ""


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def take_backup(cfg, name):
    path = os.path.join(cfg["dir"], name)
    partial = path + ".partial"
    applier = sql(
        cfg, "SELECT service_state FROM performance_schema.replication_applier_status WHERE channel_name = ''"
    )
    paused = bool(applier) and applier[0][0] == "ON"
    schemas = ", ".join("'" + d.replace("'", "''") + "'" for d in cfg["databases"])
    if paused:
        sql(cfg, "STOP REPLICA SQL_THREAD")
    try:
        gtid = sql(cfg, "SELECT @@GLOBAL.gtid_executed")[0][0].replace("\\n", "")
        tables = sql(
            cfg,
            "SELECT table_schema, table_name FROM information_schema.tables "
            f"WHERE table_type = 'BASE TABLE' AND table_schema IN ({schemas}) ORDER BY 1, 2",
        )
        checksums = table_checksums(cfg, tables)
        started = time.monotonic()
        dump(cfg, partial)
        dump_seconds = time.monotonic() - started
    finally:
        if paused:
            sql(cfg, "START REPLICA SQL_THREAD")
    run(["gzip", "-t", partial])
    recorded = dump_gtid(partial)
    if paused and recorded != gtid:
        raise BackupError(f"the dump records GTID set '{recorded}' but the paused replica had executed '{gtid}'")
    digest = sha256(partial)
    os.rename(partial, path)
    with open(path + ".sha256", "w") as f:
        f.write(f"{digest}  {name}\n")
    manifest = {
        "file": name,
        "size": os.path.getsize(path),
        "sha256": digest,
        "gtid_executed": recorded or gtid,
        "databases": cfg["databases"],
        "source_host": socket.getfqdn(),
        "mysql_version": sql(cfg, "SELECT @@version")[0][0],
        "consistent_checksums": paused,
        "checksums": checksums,
        "dump_seconds": round(dump_seconds, 3),
        "created": now_iso(),
    }
    with open(path + ".json", "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
    return [path, path + ".sha256", path + ".json"], manifest


def offsite_rsync(cfg, files):
    off = cfg["offsite"]
    base = ["rsync", "--archive", "--chmod=F600"]
    if off.get("ssh_key"):
        ssh = f"ssh -i {off['ssh_key']} -o BatchMode=yes -o StrictHostKeyChecking=yes"
        if off.get("known_hosts"):
            ssh += f" -o UserKnownHostsFile={off['known_hosts']}"
        base += ["-e", ssh]
    if off.get("password_file"):
        base += [f"--password-file={off['password_file']}"]
    dest = off["dest"].rstrip("/") + "/"
    run([*base, *files, dest])
    # A second pass that compares whole-file checksums: anything it would
    # transfer differs on the target.
    differs = run([*base, "--checksum", "--dry-run", "--itemize-changes", *files, dest]).strip()
    if differs:
        raise BackupError(f"the copy at {dest} differs from the local files: {differs}")
    return dest


def offsite_s3(cfg, files, manifest):
    off = cfg["offsite"]
    env = dict(os.environ)
    with open(off["env_file"]) as f:
        for line in f:
            key, sep, value = line.strip().partition("=")
            if sep and not key.startswith("#"):
                env[key] = value
    mc = [off["mc"], "--config-dir", off["config_dir"], "--quiet", "--no-color"]
    dest = f"offsite/{off['bucket']}/{off['prefix'].strip('/')}/"
    run([*mc, "cp", *files, dest], env=env)
    stat = json.loads(run([*mc, "--json", "stat", dest + manifest["file"]], env=env).splitlines()[0])
    if int(stat.get("size", -1)) != manifest["size"]:
        raise BackupError(f"the copy at {dest} has size {stat.get('size')}, expected {manifest['size']}")
    run([*mc, "rm", "--recursive", "--force", f"--older-than={cfg['retention_days']}d", dest], env=env)
    return dest


def prune(cfg, keep):
    limit = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=cfg["retention_days"])
    removed = []
    for entry in sorted(os.listdir(cfg["dir"])):
        match = NAME_RE.match(entry)
        if not match or match.group("prefix") != cfg["prefix"] or entry == keep:
            continue
        stamp = datetime.datetime.strptime(match.group("stamp"), "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
        if stamp < limit:
            for suffix in ("", ".sha256", ".json"):
                path = os.path.join(cfg["dir"], entry + suffix)
                if os.path.exists(path):
                    os.unlink(path)
            removed.append(entry)
    for entry in os.listdir(cfg["dir"]):
        if entry.endswith(".partial"):
            os.unlink(os.path.join(cfg["dir"], entry))
    return removed


def now_iso():
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_status(cfg, status):
    tmp = cfg["status_file"] + ".tmp"
    with open(tmp, "w") as f:
        os.fchmod(f.fileno(), 0o644)
        json.dump(status, f, indent=2, sort_keys=True)
    os.replace(tmp, cfg["status_file"])


def load_config(path):
    with open(path) as f:
        cfg = json.load(f)
    missing = [
        key
        for key in ("dir", "prefix", "databases", "retention_days", "status_file", "defaults_file")
        if key not in cfg
    ]
    if missing:
        raise BackupError(f"{path} lacks {', '.join(missing)}")
    cfg.setdefault("gzip_level", 6)
    cfg.setdefault("lock_file", DEFAULT_LOCK)
    cfg.setdefault("offsite", {"type": "none"})
    return cfg


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    cfg = load_config(argv[0] if argv else DEFAULT_CONFIG)
    os.makedirs(cfg["dir"], mode=0o700, exist_ok=True)
    try:
        with open(cfg["status_file"]) as f:
            status = json.load(f)
    except (OSError, ValueError):
        status = {}
    lock = open(cfg["lock_file"], "w")  # held (and locked) until the process ends
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        sys.exit("another backup is running (lock " + cfg["lock_file"] + ")")
    started = time.monotonic()
    status["last_attempt"] = now_iso()
    name = f"{cfg['prefix']}-{datetime.datetime.now(datetime.UTC).strftime('%Y%m%dT%H%M%SZ')}.sql.gz"
    try:
        files, manifest = take_backup(cfg, name)
        kind = cfg["offsite"]["type"]
        if kind == "rsync":
            offsite = offsite_rsync(cfg, files)
        elif kind == "s3":
            offsite = offsite_s3(cfg, files, manifest)
        else:
            offsite = ""
        removed = prune(cfg, name)
    except (BackupError, OSError, ValueError, IndexError) as exc:
        partial = os.path.join(cfg["dir"], name + ".partial")
        if os.path.exists(partial):
            os.unlink(partial)
        status.update(status="failed", last_failure=status["last_attempt"], error=str(exc))
        write_status(cfg, status)
        print(f"backup failed: {exc}", file=sys.stderr, flush=True)
        return 1
    status.update(
        status="success",
        last_success=status["last_attempt"],
        file=files[0],
        size=manifest["size"],
        sha256=manifest["sha256"],
        gtid_executed=manifest["gtid_executed"],
        consistent_checksums=manifest["consistent_checksums"],
        tables=len(manifest["checksums"]),
        offsite=kind,
        offsite_dest=offsite,
        duration_seconds=round(time.monotonic() - started, 3),
        dump_seconds=manifest["dump_seconds"],
        removed=removed,
        error="",
    )
    write_status(cfg, status)
    log(
        f"backup {files[0]}: {manifest['size']} bytes, sha256 {manifest['sha256']}, "
        f"GTID {manifest['gtid_executed'] or '(none)'}, {len(manifest['checksums'])} tables"
        + (f", copied to {offsite}" if offsite else "")
        + (f", removed {', '.join(removed)}" if removed else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
