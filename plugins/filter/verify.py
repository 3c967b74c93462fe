# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters for playbooks/verify.yml; documented in the .yml files beside this one."""

from __future__ import annotations

from ansible_collections.onprem.wandb.plugins.plugin_utils import verify


class FilterModule:
    def filters(self):
        return {
            "certificate_expiry": verify.certificate_expiry,
            "backup_age": verify.backup_age,
            "verify_table": verify.verify_table,
        }
