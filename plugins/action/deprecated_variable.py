# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible.plugins.action import ActionBase

COLLECTION = "onprem.wandb"


def deprecation(name, replacement, version, why=""):
    """The task result entry that makes Ansible print a deprecation warning."""
    msg = f"{name} is deprecated, use {replacement} instead (it is still read until {COLLECTION} {version})."
    if why:
        msg += " " + " ".join(why.split())
    return {"msg": msg, "version": version, "collection_name": COLLECTION}


class ActionModule(ActionBase):
    """Emit a deprecation warning for a renamed variable; runs on the controller."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(
            argument_spec={
                "name": {"type": "str", "required": True},
                "replacement": {"type": "str", "required": True},
                "version": {"type": "str", "required": True},
                "why": {"type": "str", "default": ""},
            }
        )
        entry = deprecation(args["name"], args["replacement"], args["version"], args["why"])
        result.update(changed=False, msg=entry["msg"], deprecations=[entry])
        return result
