# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.onprem.wandb.plugins.filter.checksum_compare import FilterModule, checksum_compare

SOURCE = {"wandb_local.runs": "1234", "wandb_local.projects": "99", "wandb_local.empty": "0"}


def test_matching_restore():
    out = checksum_compare(SOURCE, ["wandb_local.projects\t99", "wandb_local.runs\t1234", "wandb_local.empty\t0"])
    assert out == {
        "tables": 3,
        "lines": ["wandb_local.empty 0 0", "wandb_local.projects 99 99", "wandb_local.runs 1234 1234"],
        "mismatches": [],
    }


def test_a_changed_and_a_missing_table_are_reported():
    out = checksum_compare(SOURCE, ["wandb_local.runs\t4321", "wandb_local.empty\t0"])
    assert out["mismatches"] == [
        {"table": "wandb_local.projects", "source": "99", "restored": "missing"},
        {"table": "wandb_local.runs", "source": "1234", "restored": "4321"},
    ]
    assert out["lines"][1] == "wandb_local.projects 99 missing"


def test_a_table_mysql_reports_as_null_differs():
    out = checksum_compare({"db.t": "5"}, ["db.t\tNULL"])
    assert out["mismatches"] == [{"table": "db.t", "source": "5", "restored": "NULL"}]


def test_tables_the_manifest_does_not_list_are_ignored():
    assert checksum_compare({"db.t": "5"}, ["db.t 5", "db.other 7", ""])["mismatches"] == []


def test_numbers_in_the_manifest_compare_as_text():
    assert checksum_compare({"db.t": 5}, ["db.t\t5"])["mismatches"] == []


def test_no_tables():
    assert checksum_compare({}, []) == {"tables": 0, "lines": [], "mismatches": []}


@pytest.mark.parametrize("expected, restored", [(["db.t"], []), ({"db.t": "1"}, "db.t\t1"), ({"db.t": "1"}, None)])
def test_bad_input_is_refused(expected, restored):
    with pytest.raises(AnsibleFilterError):
        checksum_compare(expected, restored)


def test_the_filter_is_registered():
    assert FilterModule().filters()["checksum_compare"] is checksum_compare
