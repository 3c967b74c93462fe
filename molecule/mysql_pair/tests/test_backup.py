# SPDX-License-Identifier: GPL-3.0-or-later
"""Backups of the pair: the standby's backup unit, its files, status and
off-host copy, the restore drill, a real restore and the refusals."""

import json
import os
import re
import shlex
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from labtest import host, playbook, recap  # noqa: E402
from mysqltest import rows  # noqa: E402

PRIMARY = "mysql1"
STANDBY = "mysql2"
FACILITY = "/srv/backup-facility/mysql"
BACKUP_DIR = "/var/backups/mysql"
STATUS = f"{BACKUP_DIR}/status.json"
UNIT = "wandb-mysql-backup"
OPTION_FILE = "/etc/mysql/onprem-wandb/backup.cnf"
CONVERGE = "molecule/mysql_pair/converge.yml"
RESTORE = "playbooks/mysql_restore.yml"
MARKER = uuid.uuid4().hex


def run_backup():
    res = host(STANDBY).run(f"systemctl start {UNIT}.service")
    status = json.loads(host(STANDBY).check_output(f"cat {STATUS}"))
    return res, status


def primary_checksum(table):
    return rows(PRIMARY, f"CHECKSUM TABLE wandb_local.{table}")[0][1]


@pytest.fixture(scope="module")
def backup():
    """Known rows written on the primary, on the standby, then one backup run."""
    rows(
        PRIMARY,
        "CREATE TABLE IF NOT EXISTS wandb_local.backup_probe "
        "(id INT AUTO_INCREMENT PRIMARY KEY, marker VARCHAR(64), payload BLOB, note VARCHAR(32)) "
        "CHARACTER SET utf8mb4; "
        f"INSERT INTO wandb_local.backup_probe (marker, payload, note) VALUES "
        f"('{MARKER}', RANDOM_BYTES(200), 'grüße'), ('{MARKER}', REPEAT('x', 5000), NULL)",
    )
    gtid = rows(PRIMARY, "SELECT @@GLOBAL.gtid_executed")[0][0].replace("\\n", "")
    assert rows(STANDBY, f"SELECT WAIT_FOR_EXECUTED_GTID_SET('{gtid}', 30)") == [["0"]]
    res, status = run_backup()
    assert res.rc == 0, res.stderr + host(STANDBY).run(f"journalctl -u {UNIT} -n 30 --no-pager").stdout
    return {"gtid": gtid, "status": status, "checksum": primary_checksum("backup_probe")}


def test_the_backup_unit_succeeds_on_the_standby_only(backup):
    show = host(STANDBY).check_output(f"systemctl show -p Result -p ExecMainStatus {UNIT}.service")
    assert "Result=success" in show and "ExecMainStatus=0" in show, show
    assert host(STANDBY).run(f"systemctl is-enabled {UNIT}.timer").stdout.strip() == "enabled"
    assert host(STANDBY).run(f"systemctl is-active {UNIT}.timer").stdout.strip() == "active"
    assert "OnCalendar=*-*-* 02:30:00" in host(STANDBY).check_output(f"systemctl cat {UNIT}.timer")
    assert not host(PRIMARY).file(f"/etc/systemd/system/{UNIT}.timer").exists


def test_the_dump_is_compressed_checksummed_and_consistent(backup):
    status = backup["status"]
    assert status["status"] == "success" and status["error"] == "", status
    assert status["last_success"] == status["last_attempt"]
    path = status["file"]
    standby = host(STANDBY)
    assert standby.file(path).mode == 0o600 and standby.file(path).size == status["size"]
    assert standby.run(f"gzip -t {path}").rc == 0
    check = standby.run(f"cd {BACKUP_DIR} && sha256sum --check --strict {Path(path).name}.sha256")
    assert check.rc == 0, check.stdout + check.stderr
    assert standby.check_output(f"sha256sum {path}").split()[0] == status["sha256"]
    # The standby's applier paused: the dump holds exactly what the primary had.
    assert status["gtid_executed"] == backup["gtid"] and status["consistent_checksums"] is True
    head = standby.check_output(f"gzip -dc {path} | grep -m1 -A1 'GTID_PURGED'")
    assert head.startswith("/* SET @@GLOBAL.GTID_PURGED") or "-- SET @@GLOBAL.GTID_PURGED" in head, head
    assert standby.run(f"gzip -dc {path} | grep -c {MARKER}").rc == 0
    manifest = json.loads(standby.check_output(f"cat {path}.json"))
    assert manifest["checksums"]["wandb_local.backup_probe"] == backup["checksum"]
    assert manifest["databases"] == ["wandb_local"]


def test_the_offsite_copy_exists_and_matches(backup):
    status = backup["status"]
    name = Path(status["file"]).name
    assert status["offsite"] == "rsync" and status["offsite_dest"].startswith("rsync://")
    copy = host(PRIMARY).run(f"sha256sum {FACILITY}/{name}")
    assert copy.rc == 0, copy.stderr
    assert copy.stdout.split()[0] == status["sha256"]
    assert host(PRIMARY).run(f"cd {FACILITY} && sha256sum --check --strict {name}.sha256").rc == 0
    assert host(PRIMARY).file(f"{FACILITY}/{name}.json").exists


def test_the_backup_account_is_least_privilege_and_its_secret_stays_in_files(backup):
    grants = rows(PRIMARY, "SHOW GRANTS FOR 'wandb_backup'@'localhost'")
    assert grants == [
        ["GRANT SELECT, RELOAD, REPLICATION CLIENT, SHOW VIEW, EVENT, TRIGGER ON *.* TO `wandb_backup`@`localhost`"],
        ["GRANT REPLICATION_SLAVE_ADMIN ON *.* TO `wandb_backup`@`localhost`"],
    ]
    assert rows(PRIMARY, "SELECT host FROM mysql.user WHERE user = 'wandb_backup'") == [["localhost"]]
    option_file = host(STANDBY).file(OPTION_FILE)
    assert option_file.user == "root" and option_file.mode == 0o600
    password = re.search(r'^password = "(.+)"$', option_file.content_string, re.M).group(1)
    assert len(password) == 32
    journal = host(STANDBY).check_output(f"journalctl -u {UNIT} --no-pager")
    assert password not in journal
    assert password not in host(STANDBY).check_output(f"systemctl cat {UNIT}.service")


def test_a_failed_backup_fails_the_unit_and_says_so(backup):
    standby = host(STANDBY)
    assert standby.run(f"mv {OPTION_FILE} {OPTION_FILE}.moved").rc == 0
    try:
        res, status = run_backup()
        assert res.rc != 0
        assert standby.run(f"systemctl is-failed {UNIT}.service").stdout.strip() == "failed"
        assert status["status"] == "failed" and status["error"], status
        assert status["last_failure"] == status["last_attempt"]
        # The last good backup is still named.
        assert status["last_success"] == backup["status"]["last_success"]
        assert status["file"] == backup["status"]["file"]
    finally:
        assert standby.run(f"mv {OPTION_FILE}.moved {OPTION_FILE}").rc == 0
        standby.run(f"systemctl reset-failed {UNIT}.service")
    res, status = run_backup()
    assert res.rc == 0 and status["status"] == "success", status


def test_the_restore_drill_matches_every_table():
    res = playbook("-e", "mysql_restore_drill=true", playbook_path=RESTORE)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert re.search(r"All \d+ tables of wandb-mysql-\S+\.sql\.gz match the source", out), out
    assert re.search(r"wandb_local\.backup_probe (\d+) \1", out), out
    standby = host(STANDBY)
    assert not standby.file("/var/lib/mysql-restore-drill").exists
    assert standby.run("systemctl is-active wandb-mysql-restore-drill").stdout.strip() != "active"
    assert ":3307 " not in standby.check_output("ss -ltn")


def test_the_drill_fails_when_a_table_differs():
    """A copy of the latest backup whose manifest records another checksum."""
    standby = host(STANDBY)
    status = json.loads(standby.check_output(f"cat {STATUS}"))
    src = status["file"]
    fake = f"{BACKUP_DIR}/wandb-mysql-tampered-20000101T000000Z.sql.gz"
    manifest = json.loads(standby.check_output(f"cat {src}.json"))
    manifest["checksums"]["wandb_local.backup_probe"] = "12345"
    try:
        standby.check_output(f"cp {src} {fake} && cd {BACKUP_DIR} && sha256sum {Path(fake).name} > {fake}.sha256")
        standby.check_output(f"echo {shlex.quote(json.dumps(manifest))} > {fake}.json")
        res = playbook(
            "-e", "mysql_restore_drill=true", "-e", f"mysql_restore_file={Path(fake).name}", playbook_path=RESTORE
        )
        out = res.stdout + res.stderr
        assert res.returncode != 0, out
        assert "differs from the source" in out and "wandb_local.backup_probe 12345" in out, out
        assert not standby.file("/var/lib/mysql-restore-drill").exists
    finally:
        standby.run(f"rm -f {fake} {fake}.sha256 {fake}.json")


def test_restoring_onto_the_primary_needs_confirmation():
    before = primary_checksum("backup_probe")
    res = playbook("-e", "mysql_restore_target=mysql1", playbook_path=RESTORE)
    out = res.stdout + res.stderr
    assert res.returncode != 0, out
    assert "(the live primary)" in out and "-e mysql_restore_confirm=mysql1" in out, out
    res = playbook("-e", "mysql_restore_target=mysql2", "-e", "mysql_restore_confirm=mysql2", playbook_path=RESTORE)
    out = res.stdout + res.stderr
    assert res.returncode != 0 and "is the standby" in out, out
    assert primary_checksum("backup_probe") == before


def test_a_confirmed_restore_onto_the_primary_replicates(backup):
    """Rows written after the backup disappear on both hosts; replication keeps running."""
    rows(PRIMARY, "INSERT INTO wandb_local.backup_probe (marker) VALUES ('after-backup')")
    res = playbook("-e", "mysql_restore_target=mysql1", "-e", "mysql_restore_confirm=mysql1", playbook_path=RESTORE)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert primary_checksum("backup_probe") == backup["checksum"]
    gtid = rows(PRIMARY, "SELECT @@GLOBAL.gtid_executed")[0][0].replace("\\n", "")
    assert rows(STANDBY, f"SELECT WAIT_FOR_EXECUTED_GTID_SET('{gtid}', 30)") == [["0"]]
    assert rows(STANDBY, "SELECT COUNT(*) FROM wandb_local.backup_probe WHERE marker = 'after-backup'") == [["0"]]
    assert rows(STANDBY, f"SELECT COUNT(*) FROM wandb_local.backup_probe WHERE marker = '{MARKER}'") == [["2"]]
    replica = host(STANDBY).check_output("mysql -E -e 'SHOW REPLICA STATUS'")
    assert "Replica_IO_Running: Yes" in replica and "Replica_SQL_Running: Yes" in replica, replica


def test_a_retention_below_seven_days_is_refused_and_changes_nothing():
    config = host(STANDBY).check_output("cat /etc/mysql/onprem-wandb/backup.json")
    res = playbook("--tags", "mysql_backup", "-e", "mysql_backup_retention_days=3", playbook_path=CONVERGE)
    out = res.stdout + res.stderr
    assert res.returncode != 0, out
    assert "mysql_backup_retention_days is 3 and must be at least 7" in out, out
    changed = recap(out)
    assert changed and all(n == 0 for n in changed.values()), changed
    assert host(STANDBY).check_output("cat /etc/mysql/onprem-wandb/backup.json") == config
    assert json.loads(config)["retention_days"] == 14


# --- The S3 target: the collection's own MinIO (minio1 in this scenario) ----------------------
MINIO = "minio1"
S3_ENDPOINT = "https://s3.wandb-lab.internal:9000"
S3_BUCKET = "wandb-backups"
S3_PREFIX = "mysql/wandb_mysql"
MINIO_MC = "/usr/local/bin/mc --config-dir /etc/minio/mc --no-color"
LAB_CACHE = Path(os.environ.get("WANDB_LAB_CACHE", "/var/cache/onprem-wandb"))
# A site's backup key: allowed to list, read and write the backups bucket's MySQL prefix only
# (what inventories/example's vault describes creating with mc admin).
BACKUP_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [f"arn:aws:s3:::{S3_BUCKET}"]},
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": [f"arn:aws:s3:::{S3_BUCKET}/{S3_PREFIX}/*"],
        },
    ],
}


@pytest.fixture(scope="module")
def s3_backup_key():
    minio = host(MINIO)
    secret = uuid.uuid4().hex
    minio.run(f"printf %s {shlex.quote(json.dumps(BACKUP_POLICY))} > /root/mysql-backups-policy.json")
    for cmd in (
        "admin policy create local mysql-backups /root/mysql-backups-policy.json",
        f"admin user add local mysql-backup {secret}",
        "admin policy attach local mysql-backups --user mysql-backup",
    ):
        res = minio.run(f"{MINIO_MC} {cmd}")
        assert res.rc == 0 or "already" in res.stdout + res.stderr, res.stdout + res.stderr
    return "mysql-backup", secret


def minio_mc(args):
    return host(MINIO).run(f"{MINIO_MC} {args}")


def test_the_backup_copies_to_the_collections_minio_over_s3(s3_backup_key, tmp_path):
    access, secret = s3_backup_key
    ca = tmp_path / "minio-ca.crt"
    ca.write_text(host(MINIO).check_output("cat /etc/minio/ca/ca.crt") + "\n")
    s3 = {
        "mysql_backup_offsite": "s3",
        "mysql_backup_s3_endpoint": S3_ENDPOINT,
        "mysql_backup_s3_bucket": S3_BUCKET,
        "mysql_backup_s3_access_key": access,
        "mysql_backup_s3_secret_key": secret,
        # mc's version and sha256: the role's defaults, from the artifact manifest.
        "mysql_backup_s3_ca_file": str(ca),
    }
    try:
        res = playbook("--tags", "mysql_backup", "-e", json.dumps(s3), playbook_path=CONVERGE)
        assert res.returncode == 0, res.stdout + res.stderr
        assert secret not in res.stdout + res.stderr
        res, status = run_backup()
        assert res.rc == 0, res.stderr + host(STANDBY).run(f"journalctl -u {UNIT} -n 30 --no-pager").stdout
        assert status["status"] == "success" and status["offsite"] == "s3", status
        assert status["offsite_dest"] == f"offsite/{S3_BUCKET}/{S3_PREFIX}/", status
        name = Path(status["file"]).name
        # On the MinIO side, with its own client: the object is there, byte for byte.
        stat = minio_mc(f"--json stat local/{S3_BUCKET}/{S3_PREFIX}/{name}")
        assert stat.rc == 0, stat.stdout + stat.stderr
        assert json.loads(stat.stdout.splitlines()[0])["size"] == status["size"]
        digest = minio_mc(f"cat local/{S3_BUCKET}/{S3_PREFIX}/{name} | sha256sum")
        assert digest.stdout.split()[0] == status["sha256"]
        for suffix in (".sha256", ".json"):
            assert minio_mc(f"stat local/{S3_BUCKET}/{S3_PREFIX}/{name}{suffix}").rc == 0
        # The backup key reaches its prefix only: the W&B bucket is refused to it.
        denied = host(STANDBY).run(
            "set -a && . /etc/mysql/onprem-wandb/backup-s3.env && "
            "mc --config-dir /etc/mysql/onprem-wandb/mc --no-color ls offsite/wandb"
        )
        assert denied.rc != 0 and "Access Denied" in denied.stdout + denied.stderr, denied.stdout + denied.stderr
    finally:
        # Back to the scenario's rsync target.
        res = playbook("--tags", "mysql_backup", playbook_path=CONVERGE)
        assert res.returncode == 0, res.stdout + res.stderr
