# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import ipaddress

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
---
name: subject_alt_names
short_description: Turn host names and addresses into a certificate's subjectAltName entries
version_added: 0.2.0
description:
  - Classifies each name of the input as an IP address (IPv4 or IPv6) or a DNS name and prefixes it with C(IP:) or C(DNS:),
    the form community.crypto's P(community.crypto.openssl_csr_pipe#module) expects in O(community.crypto.openssl_csr_pipe#module:subject_alt_name).
  - Entries that already carry a type (C(IP:), C(DNS:), C(URI:), C(email:), ...) are kept as they are.
  - Empty entries are dropped and duplicates removed; the first occurrence keeps its place.
  - The result lists the IP entries first, then the DNS entries, then any other types, each group in input order, so the
    same names always give the same certificate request.
positional: _input
options:
  _input:
    description: Host names, IP addresses or typed subjectAltName entries.
    type: list
    elements: str
    required: true
author:
  - onprem.wandb maintainers (@onprem-wandb)
"""

EXAMPLES = r"""
- name: Certificate names of a host
  ansible.builtin.debug:
    msg: "{{ ['db1.example.com', '10.0.0.11', '127.0.0.1', 'localhost', '', 'DNS:db.example.com'] | onprem.wandb.subject_alt_names }}"
  # ['IP:10.0.0.11', 'IP:127.0.0.1', 'DNS:db1.example.com', 'DNS:localhost', 'DNS:db.example.com']
"""

RETURN = r"""
_value:
  description: The typed subjectAltName entries, IP entries first, then DNS entries, then other types.
  type: list
  elements: str
"""

_TYPED = ("IP:", "DNS:", "URI:", "email:", "RID:", "dirName:", "otherName:")


def _typed(name):
    """One name as a typed subjectAltName entry."""
    for prefix in _TYPED:
        if name.startswith(prefix):
            if prefix == "IP:":
                # IPv6 addresses are written compressed, as x509 tools print them back.
                return "IP:" + str(ipaddress.ip_address(name[3:].strip("[]")))
            return name
    try:
        return "IP:" + str(ipaddress.ip_address(name.strip("[]")))
    except ValueError:
        return "DNS:" + name


def subject_alt_names(names):
    if not isinstance(names, (list, tuple)):
        raise AnsibleFilterError(f"subject_alt_names expects a list of names, got {type(names).__name__}")
    entries = []
    for name in names:
        if name is None:
            continue
        if not isinstance(name, str):
            raise AnsibleFilterError(f"subject_alt_names expects names as strings, got {name!r}")
        name = name.strip()
        if not name:
            continue
        try:
            entry = _typed(name)
        except ValueError as exc:
            raise AnsibleFilterError(f"subject_alt_names: {name!r} is not an IP address: {exc}") from exc
        if entry not in entries:
            entries.append(entry)
    ips = [e for e in entries if e.startswith("IP:")]
    dns = [e for e in entries if e.startswith("DNS:")]
    return ips + dns + [e for e in entries if e not in ips and e not in dns]


class FilterModule:
    def filters(self):
        return {"subject_alt_names": subject_alt_names}
