# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: deprecated_variable
short_description: Warn that an inventory variable was renamed
version_added: 0.2.0
description:
  - Emits Ansible's deprecation warning for a variable the collection renamed, naming the new variable and the release
    that stops reading the old one. Call it when the old variable is defined.
  - Runs on the controller only and never changes anything. The warning appears unless the controller turned
    deprecation warnings off (C(deprecation_warnings=False)).
options:
  name:
    description: The old variable.
    type: str
    required: true
  replacement:
    description: The variable that replaces it.
    type: str
    required: true
  version:
    description: The collection release that no longer reads O(name).
    type: str
    required: true
  why:
    description: Why it was renamed, added to the message.
    type: str
    default: ""
extends_documentation_fragment:
  - onprem.wandb.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: all
    details: Runs on the controller (an action plugin); the target is not contacted.
author:
  - onprem.wandb maintainers (@onprem-wandb)
"""

EXAMPLES = r"""
- name: Warn that mysql_root_password is now mysql_admin_password
  onprem.wandb.deprecated_variable:
    name: mysql_root_password
    replacement: mysql_admin_password
    version: 0.3.0
  when: mysql_root_password is defined
  run_once: true
"""

RETURN = r"""
msg:
  description: The deprecation message.
  returned: always
  type: str
  sample: mysql_root_password is deprecated, use mysql_admin_password instead (it is still read until onprem.wandb 0.3.0).
"""
