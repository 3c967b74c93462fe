# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tests on Pods as the API returns them; documented in the .yml files beside this one."""

from __future__ import annotations

from ansible_collections.onprem.wandb.plugins.plugin_utils import verify


class TestModule:
    def tests(self):
        return {
            "pod_ready": verify.pod_ready,
            "pod_waits_for_image": verify.pod_waits_for_image,
        }
