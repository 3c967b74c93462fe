# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: command_batch
short_description: Run several read-only commands on a host in one call
version_added: 0.2.0
description:
  - Runs each command of O(commands) in turn, without a shell (no variable or C(~) expansion either), and returns each
    one's exit code and output, so that a role reads what it needs in one round trip instead of one task per command.
  - For commands that only read (C(mc ls), C(mc admin user info) ...). It reports no change and runs in check mode as in
    a normal run; the caller decides from the results what to change, with tasks of its own.
  - A command that exits non-zero does not fail the module (read its RV(results[].rc)); one that cannot be started
    does, naming it.
options:
  commands:
    description: The commands, each an argument vector (the program first). Nothing is interpreted by a shell.
    type: list
    elements: list
    required: true
extends_documentation_fragment:
  - onprem.wandb.attributes
  - onprem.wandb.attributes.no_diff
notes:
  - Never pass a secret in an argument vector (the host's process table shows it); the commands read secrets from
    root-only files.
author:
  - onprem.wandb maintainers (@onprem-wandb)
"""

EXAMPLES = r"""
- name: Read the buckets, the policy and the user
  onprem.wandb.command_batch:
    commands:
      - [mc, --json, ls, local]
      - [mc, --json, admin, policy, info, local, wandb-bucket]
      - [mc, --json, admin, user, info, local, wandb]
  register: __minio_reads
"""

RETURN = r"""
results:
  description: One entry per command, in the order of O(commands).
  returned: always
  type: list
  elements: dict
  contains:
    cmd:
      description: The argument vector.
      type: list
      elements: str
    rc:
      description: The exit code.
      type: int
    stdout:
      description: The standard output, trailing newline removed.
      type: str
    stdout_lines:
      description: RV(results[].stdout) split into lines.
      type: list
      elements: str
    stderr:
      description: The standard error, trailing newline removed.
      type: str
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402 - ansible modules import after their documentation


def run_all(module, commands):
    """Each of COMMANDS run with MODULE.run_command: a list of result dicts."""
    results = []
    for argv in commands:
        argv = [str(arg) for arg in argv]
        if not argv:
            module.fail_json(msg="command_batch: an empty command was given", results=results)
        rc, out, err = module.run_command(argv, check_rc=False, expand_user_and_vars=False)
        out, err = out.rstrip("\n"), err.rstrip("\n")
        results.append({"cmd": argv, "rc": rc, "stdout": out, "stdout_lines": out.splitlines(), "stderr": err})
    return results


def main():
    module = AnsibleModule(
        argument_spec={"commands": {"type": "list", "elements": "list", "required": True}},
        supports_check_mode=True,
    )
    module.exit_json(changed=False, results=run_all(module, module.params["commands"]))


if __name__ == "__main__":
    main()
