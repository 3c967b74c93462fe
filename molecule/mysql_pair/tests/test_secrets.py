# SPDX-License-Identifier: GPL-3.0-or-later
"""No secret of the MySQL pair (and of the MinIO its backups go to) in a -vvv run of site.yml."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared"))
from labtest import assert_verbose_rerun_shows_no_secret  # noqa: E402


def test_a_verbose_rerun_shows_no_secret():
    # On the hosts: the W&B, backup and offsite passwords, the TLS keys of MySQL and MinIO.
    assert_verbose_rerun_shows_no_secret(["mysql1", "mysql2", "minio1"], kept_on_hosts=6)
