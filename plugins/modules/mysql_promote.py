# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mysql_promote
short_description: Read a MySQL pair's live state, fence a failed primary, switch over or fail over in one call
version_added: 0.2.0
description:
  - The day-2 operations of the C(onprem.wandb.mysql) role that must not be cut by Ansible's task boundaries. The
    decisions (refusals, the order of the statements, what to undo when a step fails) live in the module utility
    C(promotion) and are unit tested.
  - O(operation=status) reads the local server's live state (role, GTID sets, replication, schemas), the state of
    its systemd service and the fence marker. It changes nothing and does not need the server to answer.
  - O(operation=switchover) runs on the primary's host and holds two connections, one to the local server (C(root)
    over the socket, C(auth_socket)) and one to the standby (O(peer_host), as O(peer_user) over TLS). It reads and
    checks both servers again (the standby replicates from this server with both threads running and a lag of at
    most O(max_lag) seconds, the standby holds no transaction the primary lacks, the primary is still writable) and
    refuses with nothing changed otherwise. Then, without returning to Ansible, it turns the primary
    C(super_read_only), waits until the standby applied every GTID the primary executed, promotes and opens the
    standby, releases the floating writer address to it, and makes the old primary replicate from the new one with
    GTID auto-position, turning semi-synchronous acknowledgements on once it is connected.
  - When the standby does not apply the primary's transactions within O(timeout), or a statement fails before the
    standby accepts writes, the standby goes back to a read-only replica and the primary gets its writes back. The
    primary only gets them back once the standby is certainly read-only; once the standby accepts writes nothing is
    undone (two writers would be worse), and a later failure names the rejoin that finishes the work.
  - O(operation=failover) runs on the standby's host once the primary is proven dead (and, when its host answers,
    fenced). It stops the standby's receiver, waits until everything received is applied (at most O(timeout)
    seconds, else its receiver starts again and nothing else changed), promotes and opens the standby, and waits for
    the floating writer address to arrive.
  - O(operation=fence) runs on the failed primary's host. Its MySQL service is stopped, disabled and masked, the
    floating writer address is held away from it and the fence marker is written.
  - The floating writer address (keepalived) is moved with the hold file O(writer_hold_file), a keepalived
    C(track_file) of weight 0. A non-zero value puts the local VRRP instance into its fault state, which releases
    the address at once, so the other server's keepalived takes it within its skew time. A switchover sets it as
    soon as the primary is read-only (and lifts it again when the switchover is undone).
options:
  operation:
    description: What to do.
    type: str
    required: true
    choices: [status, switchover, failover, fence]
  login_unix_socket:
    description: The local server's socket. The module logs in there as C(root) (C(auth_socket)), without a password.
    type: path
    default: /run/mysqld/mysqld.sock
  service:
    description: The MySQL server's systemd unit (O(operation=status) reads its state, O(operation=fence) stops it).
    type: str
    default: mysql
  fence_marker:
    description: The marker file that says this server was fenced (read by O(operation=status), written by
      O(operation=fence), root only).
    type: path
    default: /etc/mysql/onprem-wandb/fenced
  fence_text:
    description: The content of the fence marker.
    type: str
    default: Fenced by onprem.wandb.mysql_promote.
  system_schemas:
    description: Schemas that do not count as data of the server's own (O(operation=status)).
    type: list
    elements: str
    default: [mysql, information_schema, performance_schema, sys]
  names:
    description: The inventory names of the primary and the standby, in that order, for the messages.
    type: list
    elements: str
    default: [primary, standby]
  local_address:
    description:
      - The address at which the standby reaches this server (O(operation=switchover)). The standby must replicate
        from it.
      - Required with O(operation=switchover).
    type: str
    default: ""
  peer_host:
    description:
      - The standby's address (O(operation=switchover)). The old primary replicates from it after the switchover.
      - Required with O(operation=switchover).
    type: str
    default: ""
  peer_port:
    description: The MySQL port of the standby and of the floating writer address.
    type: int
    default: 3306
  peer_user:
    description:
      - The account this host logs in to the standby with (and, to check where it answers, to the writer address).
        It needs C(SYSTEM_VARIABLES_ADMIN), C(REPLICATION_SLAVE_ADMIN), C(RELOAD) and C(REPLICATION CLIENT).
      - Required with O(operation=switchover).
    type: str
    default: ""
  peer_password:
    description:
      - The password of O(peer_user). Not logged.
      - Required with O(operation=switchover).
    type: str
    default: ""
  peer_ssl_ca:
    description: The CA that verifies the standby's certificate and that it names O(peer_host). Empty encrypts
      without verifying the certificate.
    type: path
    default: ""
  replication_user:
    description:
      - The replication account the old primary connects to the new one with (O(operation=switchover)).
      - Required with O(operation=switchover).
    type: str
    default: ""
  replication_password:
    description:
      - The password of O(replication_user). Passed to the server as a statement parameter, never logged.
      - Required with O(operation=switchover).
    type: str
    default: ""
  replication_ssl:
    description: The old primary replicates over TLS.
    type: bool
    default: true
  replication_ssl_ca:
    description: The CA the replica verifies its source's certificate with (empty without verification).
    type: str
    default: ""
  replication_ssl_verify:
    description: The replica verifies its source's certificate and name (with O(replication_ssl)).
    type: bool
    default: true
  connect_retry:
    description: Seconds between the replica's connection attempts.
    type: int
    default: 10
  semi_sync:
    description: The pair replicates semi-synchronously. The new primary waits for acknowledgements once its new
      replica is connected; the promoted server never waits for a replica that is not there yet.
    type: bool
    default: true
  max_lag:
    description: The largest replication lag in seconds a switchover accepts before it changes anything.
    type: int
    default: 10
  timeout:
    description: Seconds the standby may take to apply the last transactions while writes are refused, and the
      longest the primary may wait for running commits when it turns read-only.
    type: int
    default: 30
  replica_wait:
    description: Seconds to wait for the old primary's replication threads, and for the new primary's first
      semi-synchronous replica.
    type: int
    default: 30
  writer_address:
    description: The floating writer address (empty without one).
    type: str
    default: ""
  writer_address_timeout:
    description: Seconds to wait for the writer address to answer from the new primary. When it does not, the module
      warns; the promotion stands.
    type: int
    default: 15
  writer_hold_file:
    description: The keepalived track file that holds the writer address away from this host (empty without a
      floating address). Written only when its directory exists.
    type: path
    default: ""
  writer_hold_settle:
    description: Seconds after the old primary turned read-only before its hold is lifted, so that its own writable
      check has seen it read-only and it does not claim the address back.
    type: float
    default: 4.0
extends_documentation_fragment:
  - onprem.wandb.attributes
attributes:
  check_mode:
    support: full
    details: O(operation=status) runs as usual. The other operations read and check the state, report what they would
      do and change nothing.
  diff_mode:
    support: none
  platform:
    platforms: debian
notes:
  - Needs PyMySQL (C(python3-pymysql)) on the host for every operation but O(operation=fence). Without it
    O(operation=status) reports the server as not answering.
  - Give the task C(no_log) as well when it passes passwords.
requirements:
  - PyMySQL
author:
  - onprem.wandb maintainers (@onprem-wandb)
"""

EXAMPLES = r"""
- name: Read the live state
  onprem.wandb.mysql_promote:
    operation: status
  register: live

- name: Switch over to the standby (on the primary's host)
  onprem.wandb.mysql_promote:
    operation: switchover
    names: [db1, db2]
    local_address: 10.20.0.11
    peer_host: 10.20.0.12
    peer_user: wandb_promote
    peer_password: "{{ mysql_promote_password }}"
    peer_ssl_ca: /etc/mysql/onprem-wandb-tls/ca.crt
    replication_user: wandb_repl
    replication_password: "{{ mysql_replication_password }}"
    replication_ssl_ca: /etc/mysql/onprem-wandb-tls/ca.crt
    writer_address: 10.20.0.10
    writer_hold_file: /etc/keepalived/onprem-wandb-writer-hold
  no_log: true

- name: Fence the failed primary (on its host)
  onprem.wandb.mysql_promote:
    operation: fence
    writer_hold_file: /etc/keepalived/onprem-wandb-writer-hold

- name: Fail over to the standby (on its host)
  onprem.wandb.mysql_promote:
    operation: failover
    names: [db1, db2]
    writer_address: 10.20.0.10
"""

RETURN = r"""
live:
  description:
    - The local server's live state. Always C(answering), C(fenced) and C(service) (the output of
      C(systemctl is-active)); when the server answers also C(role) (V(primary), V(standby), V(read_only)),
      C(read_only), C(gtid_executed), C(gtid_purged), C(schemas), C(source_host), C(io_running), C(sql_running),
      C(lag), C(retrieved), C(io_error), C(sql_error) and C(auto_position); when it does not, C(error).
  returned: O(operation=status)
  type: dict
blocked_seconds:
  description: From the primary turning read-only (switchover) or the standby's receiver stopping (failover) to the
    new primary accepting writes.
  returned: success of a switchover or failover
  type: float
frozen_gtids:
  description: The primary's GTID set when it turned read-only, which the standby applied before it opened.
  returned: success of a switchover
  type: str
received:
  description: The GTID set the standby had received when its receiver stopped, which it applied before it opened.
  returned: success of a failover
  type: str
writer_address_moved:
  description: Whether the writer address answered from the new primary within O(writer_address_timeout).
  returned: success of a switchover or failover with a writer address
  type: bool
writer_address_seconds:
  description: From the same start to the writer address answering from the new primary.
  returned: success of a switchover or failover with a writer address
  type: float
semi_sync_source:
  description: Whether the new primary waits for its replica's acknowledgements when the module returns.
  returned: success of a switchover
  type: bool
steps:
  description: Each step taken and the seconds since the primary turned read-only (or the receiver stopped).
  returned: switchover and failover, on success and failure
  type: list
  elements: list
"""

import contextlib  # noqa: E402 - ansible modules import after their documentation
import os  # noqa: E402
import socket  # noqa: E402
import ssl  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402

from ansible.module_utils.basic import AnsibleModule, missing_required_lib  # noqa: E402
from ansible.module_utils.common.text.converters import to_native  # noqa: E402
from ansible_collections.onprem.wandb.plugins.module_utils import promotion  # noqa: E402

try:
    import pymysql
    import pymysql.cursors

    HAS_PYMYSQL = True
    PYMYSQL_ERROR = None
except ImportError:  # pragma: no cover - reported by the module
    HAS_PYMYSQL = False
    PYMYSQL_ERROR = traceback.format_exc()

# Seconds a connection may wait for an answer beyond what the server is asked to wait itself.
MARGIN = 10


class Failed(Exception):
    """A step failed; the message is safe to show."""


class Server:
    """One connection, its rows as dicts, statements counted as they succeed."""

    def __init__(self, name, conn):
        self.name = name
        self.conn = conn

    def rows(self, sql, args=None):
        with self.conn.cursor(pymysql.cursors.DictCursor) as cur:
            cur.execute(sql, args)
            return list(cur.fetchall())

    def value(self, sql, args=None):
        rows = self.rows(sql, args)
        return next(iter(rows[0].values())) if rows else None

    def run(self, statements, done=None, args=None):
        """Run STATEMENTS in order (ARGS: the parameters of each, the client library quotes them);
        DONE (a list) gets one entry per statement that succeeded."""
        for statement in statements:
            with self.conn.cursor() as cur:
                cur.execute(statement, args)
            if done is not None:
                done.append(statement)

    def state(self):
        """The state promotion's functions read."""
        variables = self.rows(
            "SELECT @@GLOBAL.read_only AS read_only, @@GLOBAL.super_read_only AS super_read_only, "
            "@@GLOBAL.gtid_executed AS gtid_executed, @@GLOBAL.gtid_purged AS gtid_purged, "
            "@@GLOBAL.server_uuid AS server_uuid"
        )[0]
        replica = self.rows("SHOW REPLICA STATUS")
        return {
            "answering": True,
            "read_only": int(variables["read_only"]) == 1,
            "super_read_only": int(variables["super_read_only"]) == 1,
            "gtid_executed": (variables["gtid_executed"] or "").replace("\n", ""),
            "gtid_purged": (variables["gtid_purged"] or "").replace("\n", ""),
            "server_uuid": variables["server_uuid"],
            "replica": {k: _plain(v) for k, v in replica[0].items()} if replica else {},
        }

    def close(self):
        with contextlib.suppress(Exception):
            self.conn.close()


def _plain(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def connect_local(socket_path, timeout=5, read_timeout=None):
    """Root over the local socket (auth_socket: no password)."""
    return pymysql.connect(
        unix_socket=socket_path, user="root", autocommit=True, connect_timeout=timeout, read_timeout=read_timeout
    )


def tls_context(ca, check_hostname=True):
    """Verified against CA (and the name, with CHECK_HOSTNAME); without a CA encrypted only."""
    if ca:
        ctx = ssl.create_default_context(cafile=ca)
        ctx.check_hostname = check_hostname
        return ctx
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def connect_tcp(host, port, user, password, ca, timeout=5, read_timeout=None, check_hostname=True):
    return pymysql.connect(
        host=host,
        port=port,
        user=user,
        password=password,
        ssl=tls_context(ca, check_hostname),
        autocommit=True,
        connect_timeout=timeout,
        read_timeout=read_timeout,
        write_timeout=read_timeout,
    )


def can_hold(path):
    """Whether the keepalived track file PATH can be written: a path is given and its directory
    exists (keepalived is installed)."""
    return bool(path) and os.path.isdir(os.path.dirname(path) or ".")


def write_hold(path, value):
    """Write VALUE (0 or 1) into the keepalived track file PATH; whether it changed. Nothing
    happens unless can_hold(PATH)."""
    if not can_hold(path):
        return False
    text = f"{int(value)}\n"
    try:
        with open(path, encoding="utf-8") as fh:
            if fh.read() == text:
                return False
    except FileNotFoundError:
        pass
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return True


def hold_is_set(path):
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().strip() not in ("", "0")
    except OSError:
        return False


def address_is_local(module, address):
    """Whether ADDRESS is one of this host's addresses (ip addr), else whether a bind to it works."""
    ip = module.get_bin_path("ip")
    if ip:
        rc, out, _err = module.run_command([ip, "-o", "addr", "show"])
        if rc == 0:
            return any(f" {address}/" in line for line in out.splitlines())
    with socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((address, 0))
        except OSError:
            return False
    return True


class Promotion:
    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.t0 = None
        self.steps = []
        self.warnings = []

    def step(self, name):
        self.steps.append([name, round(time.monotonic() - self.t0, 3) if self.t0 is not None else 0.0])

    def fail(self, msg, **extra):
        self.module.fail_json(msg=msg, steps=self.steps, warnings=self.warnings, **extra)

    # --- status -------------------------------------------------------------------------------

    def status(self):
        p = self.p
        live = {
            "fenced": os.path.exists(p["fence_marker"]),
            "service": self.service_state(),
            "answering": False,
        }
        if not HAS_PYMYSQL:
            live["error"] = "PyMySQL (python3-pymysql) is not installed"
            return live
        try:
            server = Server("local", connect_local(p["login_unix_socket"], read_timeout=MARGIN))
        except Exception as exc:  # noqa: BLE001 - any error means the server does not answer
            live["error"] = to_native(exc)
            return live
        try:
            state = server.state()
            placeholders = ", ".join(["%s"] * len(p["system_schemas"]))
            schemas = server.value(
                f"SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name NOT IN ({placeholders})",
                p["system_schemas"],
            )
        except Exception as exc:  # noqa: BLE001 - a server that cannot be read does not answer
            live["error"] = to_native(exc)
            return live
        finally:
            server.close()
        replica = state["replica"]
        live.update(
            answering=True,
            role=promotion.live_role(state),
            read_only=state["read_only"],
            gtid_executed=state["gtid_executed"],
            gtid_purged=state["gtid_purged"],
            schemas=int(schemas),
            source_host=replica.get("Source_Host", ""),
            io_running=replica.get("Replica_IO_Running", ""),
            sql_running=replica.get("Replica_SQL_Running", ""),
            lag=promotion.lag_seconds(replica) if replica else None,
            retrieved=(replica.get("Retrieved_Gtid_Set") or "").replace("\n", ""),
            io_error=replica.get("Last_IO_Error", ""),
            sql_error=replica.get("Last_SQL_Error", ""),
            auto_position=int(replica.get("Auto_Position") or 0),
        )
        return live

    def service_state(self):
        systemctl = self.module.get_bin_path("systemctl")
        if not systemctl:
            return "unknown"
        _rc, out, _err = self.module.run_command([systemctl, "is-active", self.p["service"]])
        return out.strip() or "unknown"

    # --- fence ----------------------------------------------------------------------------------

    def fence(self):
        p = self.p
        systemctl = self.module.get_bin_path("systemctl", required=True)
        _rc, enabled, _err = self.module.run_command([systemctl, "is-enabled", p["service"]])
        todo = {
            "stop": self.service_state() not in ("inactive", "failed"),
            "mask": enabled.strip() != "masked",
            "hold": can_hold(p["writer_hold_file"]) and not hold_is_set(p["writer_hold_file"]),
            "marker": not os.path.exists(p["fence_marker"]),
        }
        changed = any(todo.values())
        if self.module.check_mode or not changed:
            return {"changed": changed}
        self.module.run_command([systemctl, "stop", p["service"]], check_rc=True)
        self.module.run_command([systemctl, "disable", p["service"]], check_rc=False)
        self.module.run_command([systemctl, "mask", p["service"]], check_rc=True)
        write_hold(p["writer_hold_file"], 1)
        os.makedirs(os.path.dirname(p["fence_marker"]), mode=0o700, exist_ok=True)
        tmp = f"{p['fence_marker']}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(p["fence_text"].rstrip("\n") + "\n")
        os.replace(tmp, p["fence_marker"])
        return {"changed": True}

    # --- switchover -------------------------------------------------------------------------------

    def switchover(self):
        p = self.p
        p_name, s_name = p["names"]
        # Both connections wait at most as long as the server is asked to wait, and a margin.
        read_timeout = int(p["timeout"]) + MARGIN
        try:
            primary = Server(p_name, connect_local(p["login_unix_socket"], read_timeout=read_timeout))
        except Exception as exc:  # noqa: BLE001
            self.fail(f"The primary {p_name} does not answer on {p['login_unix_socket']}: {exc}. Nothing was changed.")
        try:
            standby = Server(
                s_name,
                connect_tcp(
                    p["peer_host"],
                    p["peer_port"],
                    p["peer_user"],
                    p["peer_password"],
                    p["peer_ssl_ca"],
                    read_timeout=read_timeout,
                ),
            )
        except Exception as exc:  # noqa: BLE001
            primary.close()
            self.fail(
                f"The primary {p_name} cannot log in to the standby {s_name} ({p['peer_host']}:{p['peer_port']}) "
                f"as {p['peer_user']}: {exc}. Nothing was changed. Run the role (site.yml) on the pair first: it "
                "creates that account."
            )
        try:
            return self._switchover(primary, standby)
        finally:
            primary.close()
            standby.close()

    def _switchover(self, primary, standby):
        p = self.p
        p_name, s_name = p["names"]
        try:
            p_state, s_state = primary.state(), standby.state()
            errant = primary.value("SELECT GTID_SUBTRACT(%s, @@GLOBAL.gtid_executed)", (s_state["gtid_executed"],))
        except Exception as exc:  # noqa: BLE001
            self.fail(f"Reading the pair {p_name}, {s_name} failed: {to_native(exc)}. Nothing was changed.")
        refusal = promotion.switchover_refusal(
            p_state, s_state, (p_name, s_name), p["local_address"], p["max_lag"], (errant or "").replace("\n", "")
        )
        if refusal:
            self.fail(refusal)
        if self.module.check_mode:
            return {"changed": True, "msg": f"Check mode: {s_name} would become the primary, {p_name} its standby."}

        # From FREEZE on, writes are refused until the standby opens: no step in between returns
        # to Ansible, and every failure before the standby opens is undone.
        try:
            # How long FREEZE may wait for running commits; the standby's statements wait little.
            primary.run([f"SET SESSION lock_wait_timeout = {int(p['timeout'])}"])
            standby.run([f"SET SESSION lock_wait_timeout = {MARGIN}"])
        except Exception as exc:  # noqa: BLE001
            self.fail(f"Preparing the switchover failed: {to_native(exc)}. Nothing was changed.")
        stage, promoted, frozen, held = "checked", [], "", False
        self.t0 = time.monotonic()
        frozen_at = time.time()
        try:
            primary.run(promotion.FREEZE)
            stage = "frozen"
            self.step("primary read-only")
            if p["writer_address"] and write_hold(p["writer_hold_file"], 1):
                # Released now, while the standby catches up: its keepalived still runs at its
                # read-only priority and takes the address within its skew time. Released after
                # the standby opened, its writable check would raise that priority meanwhile,
                # which restarts its master-down timer (3 advertisements, not the skew time).
                held = True
                self.step("writer address released")
            frozen = (primary.value("SELECT @@GLOBAL.gtid_executed") or "").replace("\n", "")
            self.wait_applied(standby, frozen, f"The standby {s_name} did not apply the primary's transactions")
            self.step("standby applied every GTID")
            stage = "promoting"
            standby.run(promotion.PROMOTE, promoted)
        except Exception as exc:  # noqa: BLE001 - every error is undone the same way
            why = to_native(exc) if isinstance(exc, Failed) else f"The switchover failed: {to_native(exc)}."
            if len(promoted) > promotion.OPEN:
                self.fail(
                    f"{s_name} was promoted and takes writes, but a later step failed: {to_native(exc)}. {p_name} "
                    f"stays read-only. Finish with playbooks/mysql_failover.yml -e mysql_rejoin={p_name}.",
                    changed=True,
                )
            plan = promotion.undo_switchover(stage, len(promoted), p["semi_sync"])
            failed, stopped = self.undo(plan, {"primary": primary, "standby": standby})
            if stopped:
                outcome = (
                    f"The switchover was aborted, but {s_name} could not be made read-only again: it may accept "
                    f"writes. {p_name} stays read-only so that there are never two writers. Check both servers "
                    f"(SELECT @@GLOBAL.read_only; SHOW REPLICA STATUS): when {s_name} is read-only, SET GLOBAL "
                    f"read_only = OFF on {p_name}; when it is writable, rejoin {p_name} "
                    f"(playbooks/mysql_failover.yml -e mysql_rejoin={p_name})."
                )
            elif "primary" in failed:
                outcome = (
                    f"The switchover was aborted, but giving {p_name} its writes back failed: it is read-only, "
                    "check it (SET GLOBAL read_only = OFF)."
                )
            elif "standby" in failed:
                outcome = (
                    f"The switchover was aborted and {p_name} takes writes again. {s_name} is read-only, but putting "
                    "its replication back failed: check it (SHOW REPLICA STATUS; START REPLICA)."
                )
            else:
                outcome = f"The switchover was aborted and {p_name} takes writes again; nothing else changed."
                if held:
                    # Writable again: the address comes back (after the other host's master-down timer).
                    write_hold(p["writer_hold_file"], 0)
            self.fail(f"{why} {outcome}", changed=stage != "checked")
        blocked = time.monotonic() - self.t0
        self.step("standby open for writes")
        result = {"changed": True, "blocked_seconds": round(blocked, 3), "frozen_gtids": frozen}

        # The standby takes writes: from here nothing is undone. A failure leaves the old primary
        # read-only (and holding the writer address away) and names the rejoin that finishes.
        try:
            if p["writer_address"]:
                if write_hold(p["writer_hold_file"], 1):
                    self.step("writer address released")
                moved = self.wait_writer_address(s_state["server_uuid"])
                result.update(writer_address_moved=moved, writer_address_seconds=round(time.monotonic() - self.t0, 3))
            self.follow(primary, standby)
            if p["writer_address"]:
                while not promotion.hold_settled(frozen_at, time.time(), p["writer_hold_settle"]):
                    time.sleep(0.1)
                write_hold(p["writer_hold_file"], 0)
                self.step("hold of the writer address lifted")
            result["semi_sync_source"] = self.semi_sync_on(standby)
        except Exception as exc:  # noqa: BLE001
            self.fail(
                f"{s_name} is the primary and takes writes (writes were refused for {blocked:.1f} s), but making "
                f"{p_name} its standby failed: {exc if isinstance(exc, Failed) else to_native(exc)} {p_name} stays "
                f"read-only. Finish with playbooks/mysql_failover.yml -e mysql_rejoin={p_name}.",
                **result,
            )
        result.update(steps=self.steps, warnings=self.warnings)
        return result

    def wait_applied(self, server, gtids, late):
        """Until SERVER executed every transaction of GTIDS, at most the timeout; raises Failed with
        LATE, the start of its message, when it did not."""
        timed_out = server.value("SELECT WAIT_FOR_EXECUTED_GTID_SET(%s, %s)", (gtids, int(self.p["timeout"])))
        if timed_out is None or int(timed_out) != 0:
            raise Failed(f"{late} within mysql_switchover_timeout_seconds={self.p['timeout']}.")

    def wait_writer_address(self, uuid):
        """Whether the writer address answers from the server UUID (the new primary), writable."""
        p = self.p
        deadline = time.monotonic() + p["writer_address_timeout"]
        last = ""
        while time.monotonic() < deadline:
            try:
                # The address is in the certificates the role makes, not necessarily in a site's
                # own: the CA is checked, and the server's identity by its UUID.
                conn = connect_tcp(
                    p["writer_address"],
                    p["peer_port"],
                    p["peer_user"],
                    p["peer_password"],
                    p["peer_ssl_ca"],
                    timeout=1,
                    read_timeout=2,
                    check_hostname=False,
                )
                server = Server("writer", conn)
                try:
                    row = server.rows("SELECT @@GLOBAL.server_uuid AS uuid, @@GLOBAL.read_only AS ro")[0]
                finally:
                    server.close()
                if row["uuid"] == uuid and int(row["ro"]) == 0:
                    self.step("writer address answers from the new primary")
                    return True
                last = f"answered by {row['uuid']} (read_only={row['ro']})"
            except Exception as exc:  # noqa: BLE001
                last = to_native(exc)
            time.sleep(0.05)
        self.warnings.append(
            f"The writer address {p['writer_address']} did not answer from the new primary within "
            f"{p['writer_address_timeout']} s (last: {last}); check keepalived on both hosts."
        )
        return False

    def follow(self, old, new):
        """OLD (the old primary) replicates from NEW; semi-sync source on NEW once OLD is connected."""
        p = self.p
        before, after = promotion.follow_statements(p["semi_sync"])
        args = promotion.change_source_args(
            p["peer_host"],
            p["peer_port"],
            p["replication_user"],
            p["replication_password"],
            p["replication_ssl"],
            p["replication_ssl_ca"],
            p["replication_ssl_verify"],
            p["connect_retry"],
        )
        old.run(before)
        old.run((promotion.CHANGE_SOURCE,), args=args)
        old.run(after)
        self.step("old primary replicates from the new one")
        deadline = time.monotonic() + p["replica_wait"]
        while True:
            verdict, why = promotion.replica_check(old.state()["replica"], p["peer_host"])
            if verdict == "ok":
                break
            if verdict == "failed" or time.monotonic() > deadline:
                raise Failed(f"{old.name} does not replicate from {new.name}: {why}.")
            time.sleep(0.1)
        self.step("old primary's replication threads run")
        if not p["semi_sync"]:
            return
        # Waiting for acknowledgements before a semi-synchronous replica is connected would stall
        # every commit for the semi-sync timeout.
        while time.monotonic() < deadline:
            clients = new.rows("SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_source_clients'")
            if clients and int(clients[0]["Value"]) > 0:
                new.run(["SET GLOBAL rpl_semi_sync_source_enabled = ON"])
                self.step("semi-synchronous acknowledgements on")
                return
            time.sleep(0.1)
        self.warnings.append(
            f"No semi-synchronous replica connected to {new.name} within {p['replica_wait']} s: it commits without "
            "waiting for acknowledgements until the role runs on the pair again."
        )

    def semi_sync_on(self, server):
        rows = server.rows("SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_source_status'")
        return bool(rows) and rows[0]["Value"] == "ON"

    def undo(self, plan, servers):
        """Run PLAN (promotion.undo_*) in order. Returns the servers ("primary", "standby") on
        which a step failed, and whether a required step failed (the steps after it did not run)."""
        failed = []
        for which, statements, required in plan:
            try:
                servers[which].run(statements)
            except Exception as exc:  # noqa: BLE001
                self.warnings.append(f"Undoing on {servers[which].name} failed: {to_native(exc)}")
                failed.append(which)
                if required:
                    self.step("undo stopped")
                    return failed, True
        self.step("undo failed" if failed else "undone")
        return failed, False

    # --- failover ----------------------------------------------------------------------------------

    def failover(self):
        p = self.p
        s_name = p["names"][1]
        try:
            standby = Server(s_name, connect_local(p["login_unix_socket"], read_timeout=int(p["timeout"]) + MARGIN))
        except Exception as exc:  # noqa: BLE001
            self.fail(f"The standby {s_name} does not answer on {p['login_unix_socket']}: {exc}. Nothing was changed.")
        try:
            return self._failover(standby)
        finally:
            standby.close()

    def _failover(self, standby):
        p = self.p
        s_name = p["names"][1]
        try:
            state = standby.state()
        except Exception as exc:  # noqa: BLE001
            self.fail(f"Reading the standby {s_name} failed: {to_native(exc)}. Nothing was changed.")
        refusal = promotion.failover_refusal(state, s_name)
        if refusal:
            self.fail(refusal)
        if self.module.check_mode:
            return {"changed": True, "msg": f"Check mode: {s_name} would become the primary."}
        stage, promoted, received = "checked", [], ""
        self.t0 = time.monotonic()
        try:
            standby.run(["STOP REPLICA IO_THREAD"])
            stage = "received"
            received = standby.value(
                "SELECT RECEIVED_TRANSACTION_SET FROM performance_schema.replication_connection_status LIMIT 1"
            )
            received = (received or "").replace("\n", "")
            self.step("receiver stopped")
            self.wait_applied(standby, received, f"The standby {s_name} did not apply what it received")
            self.step("standby applied everything it received")
            stage = "promoting"
            standby.run(promotion.PROMOTE, promoted)
        except Exception as exc:  # noqa: BLE001
            why = to_native(exc) if isinstance(exc, Failed) else f"The failover failed: {to_native(exc)}."
            if len(promoted) > promotion.OPEN:
                self.fail(f"{s_name} was promoted and takes writes, but a later step failed: {why}", changed=True)
            failed, _stopped = self.undo(
                promotion.undo_failover(stage, len(promoted), p["semi_sync"]), {"standby": standby}
            )
            if not failed:
                outcome = f"It stopped before {s_name} opened for writes; {s_name} replicates again."
            else:
                outcome = (
                    f"It stopped, but putting {s_name} back failed: check whether it is read-only and replicates "
                    "(SELECT @@GLOBAL.read_only, SHOW REPLICA STATUS)."
                )
            self.fail(f"{why} {outcome}", changed=stage != "checked")
        result = {"changed": True, "blocked_seconds": round(time.monotonic() - self.t0, 3), "received": received}
        self.step("standby open for writes")
        if p["writer_address"]:
            write_hold(p["writer_hold_file"], 0)
            deadline = time.monotonic() + p["writer_address_timeout"]
            moved = address_is_local(self.module, p["writer_address"])
            while not moved and time.monotonic() < deadline:
                time.sleep(0.05)
                moved = address_is_local(self.module, p["writer_address"])
            if moved:
                self.step("writer address on the new primary")
            else:
                self.warnings.append(
                    f"The writer address {p['writer_address']} did not come to {s_name} within "
                    f"{p['writer_address_timeout']} s; check keepalived."
                )
            result.update(writer_address_moved=moved, writer_address_seconds=round(time.monotonic() - self.t0, 3))
        result.update(steps=self.steps, warnings=self.warnings)
        return result


ARGUMENT_SPEC = {
    "operation": {"type": "str", "required": True, "choices": ["status", "switchover", "failover", "fence"]},
    "login_unix_socket": {"type": "path", "default": "/run/mysqld/mysqld.sock"},
    "service": {"type": "str", "default": "mysql"},
    "fence_marker": {"type": "path", "default": "/etc/mysql/onprem-wandb/fenced"},
    "fence_text": {"type": "str", "default": "Fenced by onprem.wandb.mysql_promote."},
    "system_schemas": {
        "type": "list",
        "elements": "str",
        "default": ["mysql", "information_schema", "performance_schema", "sys"],
    },
    "names": {"type": "list", "elements": "str", "default": ["primary", "standby"]},
    "local_address": {"type": "str", "default": ""},
    "peer_host": {"type": "str", "default": ""},
    "peer_port": {"type": "int", "default": 3306},
    "peer_user": {"type": "str", "default": ""},
    "peer_password": {"type": "str", "default": "", "no_log": True},
    "peer_ssl_ca": {"type": "path", "default": ""},
    "replication_user": {"type": "str", "default": ""},
    "replication_password": {"type": "str", "default": "", "no_log": True},
    "replication_ssl": {"type": "bool", "default": True},
    "replication_ssl_ca": {"type": "str", "default": ""},
    "replication_ssl_verify": {"type": "bool", "default": True},
    "connect_retry": {"type": "int", "default": 10},
    "semi_sync": {"type": "bool", "default": True},
    "max_lag": {"type": "int", "default": 10},
    "timeout": {"type": "int", "default": 30},
    "replica_wait": {"type": "int", "default": 30},
    "writer_address": {"type": "str", "default": ""},
    "writer_address_timeout": {"type": "int", "default": 15},
    "writer_hold_file": {"type": "path", "default": ""},
    "writer_hold_settle": {"type": "float", "default": 4.0},
}

SWITCHOVER_REQUIRED = (
    "local_address",
    "peer_host",
    "peer_user",
    "peer_password",
    "replication_user",
    "replication_password",
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    operation = module.params["operation"]
    if operation in ("switchover", "failover") and not HAS_PYMYSQL:
        module.fail_json(msg=missing_required_lib("PyMySQL (python3-pymysql)"), exception=PYMYSQL_ERROR)
    # Empty is missing too (required_if would accept the options' empty defaults).
    missing = [name for name in SWITCHOVER_REQUIRED if operation == "switchover" and not module.params[name]]
    if missing:
        module.fail_json(msg=f"operation=switchover needs {', '.join(missing)}.")
    if len(module.params["names"]) != 2:
        module.fail_json(msg="names must give the primary's and the standby's name.")
    promo = Promotion(module)
    if operation == "status":
        module.exit_json(changed=False, live=promo.status())
    module.exit_json(**getattr(promo, operation)())


if __name__ == "__main__":
    main()
