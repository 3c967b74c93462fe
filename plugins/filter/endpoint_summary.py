# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
---
name: endpoint_summary
short_description: The lines the site playbook prints at the end, one per host and one per endpoint
version_added: 0.2.0
description:
  - Takes the host variables of the hosts of a play (C(ansible_play_hosts_all | map('extract', hostvars))) and returns,
    first, one line per host, C(<name> <address> (<groups>)), then every entry of the C(wandb_endpoints) lists the roles
    published on those hosts, in host order.
  - The address is the host's first IPv4 address from its facts; without facts, its C(ansible_host), else its name.
  - Contains no secret, as the roles publish endpoints without credentials.
positional: _input
options:
  _input:
    description: The host variables of each host, in order.
    type: list
    elements: dict
    required: true
author:
  - onprem.wandb maintainers (@onprem-wandb)
"""

EXAMPLES = r"""
- name: Print the hosts and the endpoints the roles published
  ansible.builtin.debug:
    msg: "{{ ansible_play_hosts_all | map('extract', hostvars) | onprem.wandb.endpoint_summary }}"
  run_once: true
"""

RETURN = r"""
_value:
  description: Host lines, then endpoint lines.
  type: list
  elements: str
"""


def _address(hostvars):
    addresses = (hostvars.get("ansible_facts") or {}).get("all_ipv4_addresses") or []
    if addresses:
        return addresses[0]
    return hostvars.get("ansible_host") or hostvars.get("inventory_hostname")


def endpoint_summary(hosts):
    if not isinstance(hosts, (list, tuple)):
        raise AnsibleFilterError(f"endpoint_summary expects a list of host variables, got {type(hosts).__name__}")
    lines, endpoints = [], []
    for hostvars in hosts:
        if not isinstance(hostvars, Mapping):
            raise AnsibleFilterError(f"endpoint_summary expects host variables (a mapping), got {hostvars!r}")
        groups = ", ".join(hostvars.get("group_names") or [])
        lines.append(f"{hostvars.get('inventory_hostname')} {_address(hostvars)} ({groups})")
        endpoints.extend(hostvars.get("wandb_endpoints") or [])
    return lines + endpoints


class FilterModule:
    def filters(self):
        return {"endpoint_summary": endpoint_summary}
