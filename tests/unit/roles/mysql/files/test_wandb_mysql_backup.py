# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The backup script the mysql role installs (roles/mysql/files/wandb-mysql-backup.py), on real files."""

from __future__ import annotations

import datetime
import fcntl
import gzip
import hashlib
import importlib.util
import json
import os
import shutil
import stat
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[5] / "roles" / "mysql" / "files" / "wandb-mysql-backup.py"


@pytest.fixture(scope="module")
def backup():
    spec = importlib.util.spec_from_file_location("wandb_mysql_backup", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def cfg(tmp_path):
    config = {
        "dir": str(tmp_path / "backups"),
        "prefix": "wandb-mysql",
        "databases": ["wandb_local"],
        "retention_days": 7,
        "status_file": str(tmp_path / "backups" / "status.json"),
        "defaults_file": str(tmp_path / "backup.cnf"),
        "gzip_level": 6,
        "lock_file": str(tmp_path / "backup.lock"),
        "offsite": {"type": "none"},
    }
    (tmp_path / "backup.json").write_text(json.dumps(config))
    return config


def stamp(days_ago):
    when = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=days_ago)
    return when.strftime("%Y%m%dT%H%M%SZ")


def test_the_script_is_plain_python_without_template_markup():
    text = SCRIPT.read_text()
    assert "{{" not in text and "{%" not in text


def test_load_config_reads_every_setting(backup, cfg, tmp_path):
    assert backup.load_config(str(tmp_path / "backup.json")) == cfg


def test_load_config_fills_optional_settings(backup, cfg, tmp_path):
    for key in ("gzip_level", "lock_file", "offsite"):
        del cfg[key]
    (tmp_path / "old.json").write_text(json.dumps(cfg))
    loaded = backup.load_config(str(tmp_path / "old.json"))
    assert loaded["gzip_level"] == 6
    assert loaded["lock_file"] == backup.DEFAULT_LOCK
    assert loaded["offsite"] == {"type": "none"}


def test_load_config_names_missing_settings(backup, cfg, tmp_path):
    del cfg["dir"], cfg["databases"]
    (tmp_path / "bad.json").write_text(json.dumps(cfg))
    with pytest.raises(backup.BackupError, match="lacks dir, databases"):
        backup.load_config(str(tmp_path / "bad.json"))


@pytest.mark.parametrize(
    "head, gtid",
    [
        # mysqldump --set-gtid-purged=COMMENTED (8.0, 8.4, 9.x), a set over several lines
        (
            "/* SET @@GLOBAL.GTID_PURGED=/*!80000 '+'*/ '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,\n"
            "b8f0c3a2-0000-11ef-8000-0242ac110002:1-42'; */\n",
            "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,b8f0c3a2-0000-11ef-8000-0242ac110002:1-42",
        ),
        (
            "SET @@GLOBAL.GTID_PURGED='+3e11fa47-71ca-11e1-9e33-c80aa9429562:1-9';\n",
            "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-9",
        ),
        ("-- no GTID state in this dump\nCREATE TABLE t (id INT);\n", ""),
    ],
)
def test_dump_gtid_reads_the_dumps_gtid_set(backup, tmp_path, head, gtid):
    path = tmp_path / "dump.sql.gz"
    with gzip.open(path, "wt") as f:
        f.write("-- MySQL dump 10.13\n" + head + "INSERT INTO t VALUES (1);\n")
    assert backup.dump_gtid(str(path)) == gtid


def test_sha256_of_a_file(backup, tmp_path):
    path = tmp_path / "data"
    path.write_bytes(os.urandom(3 << 20))
    assert backup.sha256(str(path)) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_quote_name_escapes_backticks(backup):
    assert backup.quote_name("we`ird") == "`we``ird`"


def test_prune_removes_expired_backups_and_leftovers_only(backup, cfg):
    root = Path(cfg["dir"])
    root.mkdir()
    old, recent, current = (f"wandb-mysql-{stamp(d)}.sql.gz" for d in (10, 3, 0))
    other = f"other-{stamp(30)}.sql.gz"
    for name in (old, recent, current, other):
        for suffix in ("", ".sha256", ".json"):
            (root / (name + suffix)).write_text("x")
    (root / "wandb-mysql-crashed.sql.gz.partial").write_text("x")
    (root / "status.json").write_text("{}")
    removed = backup.prune(cfg, current)
    assert removed == [old]
    left = sorted(p.name for p in root.iterdir())
    assert not any(n.startswith(old) for n in left)
    assert not any(n.endswith(".partial") for n in left)
    for name in (recent, current, other):
        assert {name, name + ".sha256", name + ".json"} <= set(left)
    assert "status.json" in left


def test_prune_keeps_the_backup_just_taken_even_when_old(backup, cfg):
    root = Path(cfg["dir"])
    root.mkdir()
    name = f"wandb-mysql-{stamp(30)}.sql.gz"
    (root / name).write_text("x")
    assert backup.prune(cfg, name) == []


def test_write_status_replaces_the_file_readable_for_monitoring(backup, cfg):
    Path(cfg["dir"]).mkdir()
    backup.write_status(cfg, {"status": "success"})
    backup.write_status(cfg, {"status": "failed", "error": "boom"})
    path = Path(cfg["status_file"])
    assert json.loads(path.read_text()) == {"error": "boom", "status": "failed"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert not Path(cfg["status_file"] + ".tmp").exists()


@pytest.mark.skipif(shutil.which("rsync") is None, reason="rsync is not installed")
def test_offsite_rsync_copies_and_verifies(backup, cfg, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    files = []
    for name in ("a.sql.gz", "a.sql.gz.sha256", "a.sql.gz.json"):
        (src / name).write_bytes(os.urandom(1000))
        files.append(str(src / name))
    dest = tmp_path / "facility"
    dest.mkdir()
    cfg["offsite"] = {"type": "rsync", "dest": str(dest)}
    assert backup.offsite_rsync(cfg, files) == str(dest) + "/"
    for path in files:
        copy = dest / Path(path).name
        assert copy.read_bytes() == Path(path).read_bytes()
        assert stat.S_IMODE(copy.stat().st_mode) == 0o600


def test_a_failed_run_records_the_error_and_exits_1(backup, cfg, tmp_path, monkeypatch):
    # No server answers on this machine (or no client exists): the run fails
    # before anything is dumped, and says so in the status file.
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    assert backup.main([str(tmp_path / "backup.json")]) == 1
    status = json.loads(Path(cfg["status_file"]).read_text())
    assert status["status"] == "failed"
    assert status["error"]
    assert status["last_failure"] == status["last_attempt"]
    assert not list(Path(cfg["dir"]).glob("*.partial"))


def test_a_second_run_refuses_while_one_holds_the_lock(backup, cfg, tmp_path):
    with open(cfg["lock_file"], "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(SystemExit, match="another backup is running"):
            backup.main([str(tmp_path / "backup.json")])
