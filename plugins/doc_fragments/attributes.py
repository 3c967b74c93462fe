# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Descriptions of the action attributes used by the modules of this collection.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check mode and return the same result as a normal run, without modifying the target.
  diff_mode:
    description: Returns details on what has changed (or would change in check mode) when run in diff mode.
  platform:
    description: Target operating systems and families the module can be run against.
    support: N/A
"""

    # The attributes of a module that runs fully in check mode and shows no diff, on POSIX
    # targets: the checks (they change nothing, so check mode is a normal run) and the modules
    # whose writes are packages or secrets (their results name the files instead).
    NO_DIFF = r"""
options: {}
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
"""
