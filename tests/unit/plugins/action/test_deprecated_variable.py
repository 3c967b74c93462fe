# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from ansible_collections.onprem.wandb.plugins.action.deprecated_variable import deprecation

# .../ansible_collections/onprem/wandb/tests/unit/plugins/action/this file
COLLECTIONS_ROOT = Path(__file__).resolve().parents[7]

PLAYBOOK = """
- name: Use a renamed variable
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Warn
      onprem.wandb.deprecated_variable:
        name: old_name
        replacement: new_name
        version: 9.9.0
        why: >-
          Because the old
          one was wrong.
      register: warned
    - name: Show the message
      ansible.builtin.debug:
        var: warned.msg
"""


def test_the_message_names_both_variables_and_the_release():
    entry = deprecation("mysql_root_password", "mysql_admin_password", "0.3.0", "It is\n  wandb_admin's.")
    assert entry == {
        "msg": "mysql_root_password is deprecated, use mysql_admin_password instead "
        "(it is still read until onprem.wandb 0.3.0). It is wandb_admin's.",
        "version": "0.3.0",
        "collection_name": "onprem.wandb",
    }


def test_a_playbook_shows_ansibles_deprecation_warning(tmp_path):
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_ROOT),
        ANSIBLE_DEPRECATION_WARNINGS="1",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
        ANSIBLE_HOME=str(tmp_path / "home"),
    )
    # ansible-test puts its ansible-playbook first on PATH; next to the interpreter otherwise.
    command = shutil.which("ansible-playbook") or str(Path(sys.executable).parent / "ansible-playbook")
    res = subprocess.run(
        [command, str(tmp_path / "play.yml")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = " ".join((res.stdout + res.stderr).split())
    assert res.returncode == 0, out
    assert "[DEPRECATION WARNING]: old_name is deprecated, use new_name instead" in out, out
    assert "onprem.wandb 9.9.0" in out and "Because the old one was wrong." in out, out
    assert "ok=2" in out and "changed=0" in out, out
