# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.onprem.wandb.plugins.filter.endpoint_summary import FilterModule, endpoint_summary

DB = {
    "inventory_hostname": "db1",
    "group_names": ["wandb", "wandb_mysql"],
    "ansible_facts": {"all_ipv4_addresses": ["10.0.0.11", "10.0.0.100"]},
    "wandb_endpoints": ["mysql: mysql://10.0.0.100:3306/wandb_local (primary db1; TLS required)"],
}
S3 = {
    "inventory_hostname": "s3",
    "group_names": ["wandb", "wandb_minio"],
    "ansible_host": "192.0.2.31",
    "ansible_facts": {},
    "wandb_endpoints": ["minio: https://s3.example.com:9000 (buckets wandb; 1 node(s))"],
}
BARE = {"inventory_hostname": "cache", "group_names": ["wandb_redis"]}


def test_hosts_first_then_endpoints_in_host_order():
    assert endpoint_summary([DB, S3, BARE]) == [
        "db1 10.0.0.11 (wandb, wandb_mysql)",
        "s3 192.0.2.31 (wandb, wandb_minio)",
        "cache cache (wandb_redis)",
        "mysql: mysql://10.0.0.100:3306/wandb_local (primary db1; TLS required)",
        "minio: https://s3.example.com:9000 (buckets wandb; 1 node(s))",
    ]


def test_empty_address_list_falls_back_to_ansible_host():
    host = dict(S3, ansible_facts={"all_ipv4_addresses": []})
    assert endpoint_summary([host])[0] == "s3 192.0.2.31 (wandb, wandb_minio)"


def test_no_hosts():
    assert endpoint_summary([]) == []


@pytest.mark.parametrize("bad", ["db1", None, ["db1"]])
def test_bad_input_is_refused(bad):
    with pytest.raises(AnsibleFilterError):
        endpoint_summary(bad)


def test_the_filter_is_registered():
    assert FilterModule().filters()["endpoint_summary"] is endpoint_summary
