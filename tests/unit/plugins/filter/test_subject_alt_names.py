# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.onprem.wandb.plugins.filter.subject_alt_names import FilterModule, subject_alt_names


def test_ips_first_then_dns_names_in_input_order():
    names = ["10.0.0.11", "127.0.0.1", "db1", "db1.example.com", "localhost", "10.0.0.100", "db.example.com"]
    assert subject_alt_names(names) == [
        "IP:10.0.0.11",
        "IP:127.0.0.1",
        "IP:10.0.0.100",
        "DNS:db1",
        "DNS:db1.example.com",
        "DNS:localhost",
        "DNS:db.example.com",
    ]


def test_empty_and_duplicate_names_are_dropped():
    assert subject_alt_names(["db1", "", None, "  ", "db1", "10.0.0.1", "10.0.0.1"]) == ["IP:10.0.0.1", "DNS:db1"]


@pytest.mark.parametrize(
    "name, entry",
    [
        ("::1", "IP:::1"),
        ("fd00::0001", "IP:fd00::1"),
        ("[fd00::1]", "IP:fd00::1"),
        ("IP:fd00:0::1", "IP:fd00::1"),
        ("IP:192.0.2.7", "IP:192.0.2.7"),
        ("DNS:s3.example.com", "DNS:s3.example.com"),
        # Not an address: octets out of range or leading zeros are names.
        ("300.1.1.1", "DNS:300.1.1.1"),
        ("host-10.0.0.1", "DNS:host-10.0.0.1"),
    ],
)
def test_classification(name, entry):
    assert subject_alt_names([name]) == [entry]


def test_typed_entries_are_grouped_with_their_type_and_other_types_come_last():
    names = ["URI:spiffe://wandb/db", "DNS:a.example.com", "b.example.com", "IP:10.0.0.2", "10.0.0.1"]
    assert subject_alt_names(names) == [
        "IP:10.0.0.2",
        "IP:10.0.0.1",
        "DNS:a.example.com",
        "DNS:b.example.com",
        "URI:spiffe://wandb/db",
    ]


def test_a_typed_name_and_the_same_bare_name_are_one_entry():
    assert subject_alt_names(["DNS:db1", "db1", "10.0.0.1", "IP:10.0.0.1"]) == ["IP:10.0.0.1", "DNS:db1"]


def test_a_typed_ip_that_is_no_address_is_refused():
    with pytest.raises(AnsibleFilterError, match="not an IP address"):
        subject_alt_names(["IP:db1"])


@pytest.mark.parametrize("bad", ["db1", {"db1": 1}, 5, [5]])
def test_bad_input_is_refused(bad):
    with pytest.raises(AnsibleFilterError):
        subject_alt_names(bad)


def test_the_filter_is_registered():
    assert FilterModule().filters()["subject_alt_names"] is subject_alt_names
