# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import hashlib

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
---
name: caching_sha2_salt
short_description: The salt of a MySQL account's caching_sha2_password hash, derived from a per-site secret
version_added: 0.2.0
description:
  - P(community.mysql.mysql_user#module) compares a C(caching_sha2_password) account's stored hash only when it is given
    the salt (O(community.mysql.mysql_user#module:salt), 20 characters); a fixed salt per account keeps the module
    idempotent.
  - The salt is the first 20 hexadecimal digits of SHA-256 over the site's secret and the account (C(user@host)), so it
    is stable across runs, differs per account, and differs between sites (two sites with the same password do not
    store the same hash).
  - An empty secret is refused, so that a missing secret can never fall back to a salt every site shares.
positional: _input, user, host
options:
  _input:
    description: The per-site secret (kept root-only on the MySQL hosts by the mysql role).
    type: str
    required: true
  user:
    description: The account's user name.
    type: str
    required: true
  host:
    description: The account's host part.
    type: str
    required: true
author:
  - onprem.wandb maintainers (@onprem-wandb)
"""

EXAMPLES = r"""
- name: Create an account with a stable hash
  community.mysql.mysql_user:
    name: wandb
    host: "%"
    plugin: caching_sha2_password
    plugin_auth_string: "{{ password }}"
    salt: "{{ site_salt_secret | onprem.wandb.caching_sha2_salt('wandb', '%') }}"
"""

RETURN = r"""
_value:
  description: 20 lowercase hexadecimal digits.
  type: str
"""

SALT_LENGTH = 20


def caching_sha2_salt(secret, user, host):
    if not isinstance(secret, str) or not secret:
        raise AnsibleFilterError("caching_sha2_salt needs the site's non-empty secret")
    if not isinstance(user, str) or not isinstance(host, str):
        raise AnsibleFilterError("caching_sha2_salt needs the account's user and host as strings")
    digest = hashlib.sha256("\0".join((secret, user, host)).encode("utf-8")).hexdigest()
    return digest[:SALT_LENGTH]


class FilterModule:
    def filters(self):
        return {"caching_sha2_salt": caching_sha2_salt}
