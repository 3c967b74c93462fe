# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: arch_check
short_description: Assert the CPU architecture of a host
version_added: 0.1.0
description:
  - Reads the CPU architecture of the target host with Python's platform.machine() function and fails when it is not in
    O(allowed).
  - Architecture names are normalised before the comparison, so V(amd64), V(x86-64) and V(x64) all mean V(x86_64),
    V(arm64) means V(aarch64) and V(i686) means V(i386).
  - W&B Server Self-Managed runs on x86-64 (Intel/AMD) hosts only; the default policy reflects that.
  - Never changes anything on the host.
options:
  allowed:
    description:
      - Architectures that are accepted. Aliases are normalised, so V(amd64) and V(x86_64) are equivalent.
    type: list
    elements: str
    default: [x86_64]
  architecture:
    description:
      - Use this value instead of the detected architecture, for example C(ansible_facts.architecture), or to test a
        policy.
    type: str
extends_documentation_fragment:
  - onprem.wandb.attributes
  - onprem.wandb.attributes.no_diff
notes:
  - The failure message names the C(preflight_allowed_architectures) variable of the collection's preflight role.
author:
  - onprem.wandb maintainers (@onprem-wandb)
"""

EXAMPLES = r"""
- name: Fail early on hosts that cannot run W&B Server
  onprem.wandb.arch_check:

- name: Accept an explicit list (aliases are normalised)
  onprem.wandb.arch_check:
    allowed: [amd64]

- name: Check a value taken from facts instead of detecting it
  onprem.wandb.arch_check:
    architecture: "{{ ansible_facts.architecture }}"
    allowed: "{{ preflight_allowed_architectures }}"
"""

RETURN = r"""
architecture:
  description: The normalised architecture that was checked.
  returned: always
  type: str
  sample: x86_64
raw:
  description: The architecture as reported by the host (or as given in O(architecture)).
  returned: always
  type: str
  sample: amd64
allowed:
  description: The normalised list of allowed architectures.
  returned: always
  type: list
  elements: str
  sample: [x86_64]
msg:
  description: A human readable verdict; on failure it names what was found, what is allowed and what to do.
  returned: always
  type: str
  sample: "CPU architecture x86_64 is allowed (allowed: x86_64)."
"""

import platform  # noqa: E402 - ansible modules import after their documentation

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.onprem.wandb.plugins.module_utils.arch import check_arch  # noqa: E402


def main():
    module = AnsibleModule(
        argument_spec={
            "allowed": {"type": "list", "elements": "str", "default": ["x86_64"]},
            "architecture": {"type": "str"},
        },
        supports_check_mode=True,
    )
    raw = module.params["architecture"]
    if not raw:
        raw = platform.machine()
    verdict = check_arch(raw, module.params["allowed"])
    result = {
        "changed": False,
        "architecture": verdict["architecture"],
        "raw": verdict["raw"],
        "allowed": verdict["allowed"],
        "msg": verdict["msg"],
    }
    if not verdict["ok"]:
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
