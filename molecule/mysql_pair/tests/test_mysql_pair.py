# SPDX-License-Identifier: GPL-3.0-or-later
import hashlib
import json
import os
import sys
import time
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from labtest import host, playbook, put_file, recap  # noqa: E402
from mysqltest import replica_status, rows, sql  # noqa: E402

PRIMARY = "mysql1"
STANDBY = "mysql2"
PRIMARY_IP = "10.89.44.11"
STANDBY_IP = "10.89.44.12"
CONVERGE = "molecule/mysql_pair/converge.yml"

WANDB_SETTINGS = {
    "binlog_format": "ROW",
    "binlog_row_image": "MINIMAL",
    "innodb_flush_log_at_trx_commit": "1",
    "innodb_online_alter_log_max_size": "268435456",
    "max_prepared_stmt_count": "1048576",
    "sort_buffer_size": "67108864",
    "sync_binlog": "1",
    "gtid_mode": "ON",
    "enforce_gtid_consistency": "ON",
    "slow_query_log": "ON",
    "bind_address": "0.0.0.0",
}


def variables(name, pattern_list):
    names = ", ".join(f"'{n}'" for n in pattern_list)
    return dict(
        rows(
            name,
            f"SELECT variable_name, variable_value FROM performance_schema.global_variables WHERE variable_name IN ({names})",
        )
    )


@pytest.fixture(scope="module")
def wandb_password():
    return host(PRIMARY).check_output("cat /etc/mysql/onprem-wandb/wandb_password").strip()


def test_standby_replicates_with_gtid_auto_position():
    status = replica_status(STANDBY)
    assert status["Replica_IO_Running"] == "Yes", status
    assert status["Replica_SQL_Running"] == "Yes", status
    assert status["Auto_Position"] == "1", status
    assert status["Source_Host"] == PRIMARY_IP, status
    assert status["Source_User"] == "wandb_repl", status


@pytest.mark.parametrize("name", [PRIMARY, STANDBY])
def test_wandb_settings_are_live(name):
    live = variables(name, WANDB_SETTINGS)
    assert live == WANDB_SETTINGS


def test_server_ids_differ_and_only_the_standby_is_read_only():
    primary = variables(PRIMARY, ["server_id", "super_read_only", "read_only"])
    standby = variables(STANDBY, ["server_id", "super_read_only", "read_only"])
    assert primary["server_id"] != standby["server_id"]
    assert primary["super_read_only"] == "OFF" and primary["read_only"] == "OFF"
    assert standby["super_read_only"] == "ON" and standby["read_only"] == "ON"


def test_semi_sync_is_on():
    primary = dict(rows(PRIMARY, "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_source_%'"))
    assert primary["Rpl_semi_sync_source_status"] == "ON"
    assert primary["Rpl_semi_sync_source_clients"] == "1"
    standby = dict(rows(STANDBY, "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_replica_status'"))
    assert standby["Rpl_semi_sync_replica_status"] == "ON"


def test_a_row_written_on_the_primary_reaches_the_standby(wandb_password):
    marker = uuid.uuid4().hex
    res = sql(
        STANDBY,  # W&B connects over the network: so does this write
        "CREATE TABLE IF NOT EXISTS wandb_local.probe (id VARCHAR(64) PRIMARY KEY); "
        f"INSERT INTO wandb_local.probe VALUES ('{marker}')",
        user="wandb",
        password=wandb_password,
        tcp_host=PRIMARY_IP,
    )
    assert res.rc == 0, res.stderr
    for _attempt in range(20):
        if rows(STANDBY, f"SELECT id FROM wandb_local.probe WHERE id = '{marker}'") == [[marker]]:
            break
        time.sleep(0.5)
    else:
        pytest.fail("the row did not reach the standby")


def test_the_standby_refuses_writes():
    res = sql(STANDBY, "CREATE TABLE IF NOT EXISTS wandb_local.refused (id INT)")
    assert res.rc != 0
    assert "super-read-only" in res.stderr
    res = sql(STANDBY, "CREATE DATABASE refused")
    assert res.rc != 0


def test_the_wandb_user_owns_its_database_and_nothing_else(wandb_password):
    def as_wandb(query):
        return sql(STANDBY, query, user="wandb", password=wandb_password, tcp_host=PRIMARY_IP)

    res = as_wandb(
        "CREATE TABLE wandb_local.ddl_probe (id INT PRIMARY KEY, v TEXT); "
        "ALTER TABLE wandb_local.ddl_probe ADD COLUMN w INT; "
        "INSERT INTO wandb_local.ddl_probe VALUES (1, 'a', 2); "
        "UPDATE wandb_local.ddl_probe SET v = 'b' WHERE id = 1; "
        "DELETE FROM wandb_local.ddl_probe; "
        "DROP TABLE wandb_local.ddl_probe"
    )
    assert res.rc == 0, res.stderr
    assert as_wandb("CREATE DATABASE not_wandb").rc != 0
    assert as_wandb("SELECT user FROM mysql.user").rc != 0
    assert as_wandb("SELECT 1 FROM performance_schema.global_variables LIMIT 1").rc == 0
    charset = rows(
        PRIMARY,
        "SELECT default_character_set_name, default_collation_name FROM information_schema.schemata "
        "WHERE schema_name = 'wandb_local'",
    )
    assert charset == [["utf8mb4", "utf8mb4_general_ci"]]
    plugin = rows(PRIMARY, "SELECT plugin FROM mysql.user WHERE user = 'wandb'")
    assert plugin == [["caching_sha2_password"]]


def test_root_is_socket_only_and_nothing_anonymous():
    accounts = rows(PRIMARY, "SELECT user, host, plugin FROM mysql.user WHERE user IN ('root', '')")
    assert accounts == [["root", "localhost", "auth_socket"]]
    assert rows(PRIMARY, "SHOW DATABASES LIKE 'test'") == []
    # The clone account exists only while a standby is seeded.
    assert rows(PRIMARY, "SELECT user FROM mysql.user WHERE user = 'wandb_clone'") == []


def test_replication_user_has_replication_only():
    grants = rows(PRIMARY, "SHOW GRANTS FOR 'wandb_repl'@'%'")
    assert grants == [["GRANT REPLICATION SLAVE ON *.* TO `wandb_repl`@`%`"]]


def test_generated_password_is_url_safe_and_root_only(wandb_password):
    f = host(PRIMARY).file("/etc/mysql/onprem-wandb/wandb_password")
    assert f.user == "root" and f.mode == 0o600
    assert len(wandb_password) == 32 and wandb_password.isalnum()


def test_broken_standby_fails_clearly_and_is_not_reseeded():
    clone_before = rows(STANDBY, "SELECT id, begin_time FROM performance_schema.clone_status")
    assert sql(STANDBY, "STOP REPLICA SQL_THREAD").rc == 0
    try:
        res = playbook("--tags", "mysql_replication", playbook_path=CONVERGE)
        out = res.stdout + res.stderr
        assert res.returncode != 0, out
        assert "does not replicate from mysql1" in out and "SQL thread No" in out, out
        assert "mysql_standby_reseed" in out, out
    finally:
        assert sql(STANDBY, "START REPLICA SQL_THREAD").rc == 0
    assert rows(STANDBY, "SELECT id, begin_time FROM performance_schema.clone_status") == clone_before
    status = replica_status(STANDBY)
    assert status["Replica_SQL_Running"] == "Yes", status


TLS_DIR = "/etc/mysql/onprem-wandb-tls"
STANDBY_IP = "10.89.44.12"


def tls_client(client, server_ip, password, ssl, query="SHOW SESSION STATUS LIKE 'Ssl_version'"):
    """W&B's user connecting from CLIENT to SERVER_IP over TCP with the mysql client's SSL options."""
    return host(client).run(
        f"MYSQL_PWD={password} mysql -u wandb -h {server_ip} --protocol=TCP --connect-timeout=5 {ssl} "
        f'-N -B -e "{query}"'
    )


@pytest.mark.parametrize(("client", "server_ip"), [(STANDBY, PRIMARY_IP), (PRIMARY, STANDBY_IP)])
def test_tls_clients_verify_the_pair_ca_and_the_server_name(client, server_ip, wandb_password):
    res = tls_client(client, server_ip, wandb_password, f"--ssl-mode=VERIFY_IDENTITY --ssl-ca={TLS_DIR}/ca.crt")
    assert res.rc == 0, res.stderr
    assert res.stdout.split()[1].startswith("TLSv1."), res.stdout
    # Verification is real: a file that is not the CA does not verify the server.
    res = tls_client(client, server_ip, wandb_password, f"--ssl-mode=VERIFY_CA --ssl-ca={TLS_DIR}/server.crt")
    assert res.rc != 0, res.stdout
    # And TCP without TLS is refused (require_secure_transport); the root socket still works.
    res = tls_client(client, server_ip, wandb_password, "--ssl-mode=DISABLED", query="SELECT 1")
    assert res.rc != 0 and "insecure transport" in res.stderr, res.stderr


def test_both_hosts_share_one_ca_whose_key_is_root_only():
    sums = {
        name: host(name).check_output(f"sha256sum {TLS_DIR}/ca.crt {TLS_DIR}/ca.key") for name in (PRIMARY, STANDBY)
    }
    assert sums[PRIMARY] == sums[STANDBY]
    for name in (PRIMARY, STANDBY):
        key = host(name).file(f"{TLS_DIR}/ca.key")
        assert (key.user, key.group, key.mode) == ("root", "root", 0o600)
        key = host(name).file(f"{TLS_DIR}/server.key")
        assert (key.user, key.group, key.mode) == ("root", "mysql", 0o640)
        live = variables(name, ["ssl_ca", "ssl_cert", "require_secure_transport"])
        assert live == {
            "ssl_ca": f"{TLS_DIR}/ca.crt",
            "ssl_cert": f"{TLS_DIR}/server.crt",
            "require_secure_transport": "ON",
        }


def replication_tls():
    return rows(
        STANDBY,
        "SELECT SSL_ALLOWED, SSL_CA_FILE, SSL_VERIFY_SERVER_CERTIFICATE "
        "FROM performance_schema.replication_connection_configuration WHERE CHANNEL_NAME = ''",
    )


def test_replication_verifies_the_primary_certificate_and_the_role_restores_it():
    assert replication_tls() == [["YES", f"{TLS_DIR}/ca.crt", "YES"]]
    # A standby set up without verification (an older setup, or by hand) is brought up to date
    # by the role without re-seeding it, and replicates with verification afterwards.
    clone_before = rows(STANDBY, "SELECT id, begin_time FROM performance_schema.clone_status")
    res = sql(
        STANDBY,
        "STOP REPLICA IO_THREAD; CHANGE REPLICATION SOURCE TO SOURCE_SSL_CA = '', "
        "SOURCE_SSL_VERIFY_SERVER_CERT = 0; START REPLICA IO_THREAD",
    )
    assert res.rc == 0, res.stderr
    assert replication_tls() == [["YES", "", "NO"]]
    res = playbook("--tags", "mysql_replication", playbook_path=CONVERGE)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert "changed: [mysql2]" in out, out
    assert replication_tls() == [["YES", f"{TLS_DIR}/ca.crt", "YES"]]
    status = replica_status(STANDBY)
    assert status["Replica_IO_Running"] == "Yes" and status["Replica_SQL_Running"] == "Yes", status
    assert rows(STANDBY, "SELECT id, begin_time FROM performance_schema.clone_status") == clone_before


def test_incomplete_site_certificates_are_refused_and_change_nothing():
    files = f"sha256sum {TLS_DIR}/* /etc/mysql/mysql.conf.d/zz-onprem-wandb.cnf"
    before = {name: host(name).check_output(files) for name in (PRIMARY, STANDBY)}
    given = json.dumps({"mysql_tls_cert": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"})
    res = playbook("--limit", "wandb_mysql", "-e", given, playbook_path=CONVERGE)
    out = " ".join((res.stdout + res.stderr).split())
    assert res.returncode != 0, out
    assert "give all three of mysql_tls_ca_cert" in out and "given: ['mysql_tls_cert']" in out, out
    changed = recap(res.stdout)
    assert changed and all(n == 0 for n in changed.values()), changed
    assert {name: host(name).check_output(files) for name in (PRIMARY, STANDBY)} == before


SECRETS_DIR = "/etc/mysql/onprem-wandb"


def test_account_hashes_are_salted_with_the_sites_secret():
    secret = host(PRIMARY).check_output(f"cat {SECRETS_DIR}/account_salt").strip()
    assert len(secret) == 32 and secret.isalnum()
    for name in (PRIMARY, STANDBY):  # the standby keeps a copy for its promotion
        f = host(name).file(f"{SECRETS_DIR}/account_salt")
        assert (f.user, f.group, f.mode) == ("root", "root", 0o600)
        assert f.content_string.strip() == secret
    # caching_sha2_password stores $A$005$<20-character salt><hash>.
    salts = rows(
        PRIMARY,
        "SELECT user, host, SUBSTRING(authentication_string, 8, 20) FROM mysql.user "
        "WHERE plugin = 'caching_sha2_password' AND user LIKE 'wandb%' ORDER BY user",
    )
    accounts = [(u, h) for u, h, _s in salts]
    assert [u for u, _h in accounts if u != "wandb_promote"] == ["wandb", "wandb_admin", "wandb_backup", "wandb_repl"]
    # The promotion account, once per server address of the pair.
    assert sorted(h for u, h in accounts if u == "wandb_promote") == [PRIMARY_IP, STANDBY_IP], accounts
    for user, account_host, salt in salts:
        expected = hashlib.sha256(f"{secret}\0{user}\0{account_host}".encode()).hexdigest()[:20]
        assert salt == expected, (user, account_host)
        # Not the salt of 0.1.x, the same at every site.
        assert salt != hashlib.sha1(f"{user}@{account_host}".encode()).hexdigest()[:20]


def test_the_admin_account_logs_in_with_mysql_admin_password():
    cache = Path(os.environ.get("WANDB_LAB_CACHE", "/var/cache/onprem-wandb"))
    password = (cache / "secrets" / "mysql_admin_password").read_text().split()[0]
    option_file = "/root/.wandb-admin-test.cnf"
    primary = host(PRIMARY)
    put_file(PRIMARY, option_file, f"[client]\nuser=wandb_admin\npassword={password}\n")
    try:
        res = primary.run(f"mysql --defaults-extra-file={option_file} -N -B -e 'SELECT CURRENT_USER()'")
        assert res.rc == 0, res.stderr
        assert res.stdout.strip() == "wandb_admin@localhost"
    finally:
        primary.run(f"rm -f {option_file}")
