# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters for Helm values and rendered manifests; documented in the .yml files beside this one."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.onprem.wandb.plugins.plugin_utils import manifests


def _wrap(func):
    def run(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ValueError as exc:
            raise AnsibleFilterError(str(exc)) from exc

    return run


class FilterModule:
    def filters(self):
        return {
            "unflatten": _wrap(manifests.unflatten),
            "image_values": _wrap(manifests.image_values),
            "image_refs": _wrap(manifests.image_refs),
            "manifest_images": _wrap(manifests.manifest_images),
            "images_outside": _wrap(manifests.images_outside),
        }
