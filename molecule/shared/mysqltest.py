# SPDX-License-Identifier: GPL-3.0-or-later
"""MySQL helpers for the MySQL scenarios' tests: queries with the mysql client
on a lab host (root over the socket unless a user is given)."""

from __future__ import annotations

import shlex

from labtest import host


def sql(name, query, user=None, password=None, tcp_host=None):
    """Run QUERY with the mysql client on host NAME; root over the socket unless USER is given."""
    cmd = "mysql -N -B"
    if user:
        cmd = f"MYSQL_PWD={shlex.quote(password)} {cmd} -u {shlex.quote(user)}"
    if tcp_host:
        cmd += f" -h {tcp_host} --protocol=TCP"
    return host(name).run(f"{cmd} -e {shlex.quote(query)}")


def rows(name, query):
    """The rows QUERY returns on host NAME (as root), each a list of strings; the query must succeed."""
    res = sql(name, query)
    assert res.rc == 0, res.stderr
    return [line.split("\t") for line in res.stdout.splitlines()]


def replica_status(name):
    """SHOW REPLICA STATUS on host NAME as a dict (empty when it replicates from nobody)."""
    res = host(name).run("mysql -E -e 'SHOW REPLICA STATUS'")
    assert res.rc == 0, res.stderr
    out = {}
    for line in res.stdout.splitlines():
        if ":" in line and not line.startswith("*"):
            key, value = line.split(":", 1)
            out[key.strip()] = value.strip()
    return out
