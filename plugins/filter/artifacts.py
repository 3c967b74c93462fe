# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters over the artifact manifest; documented in the .yml files beside this one."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.onprem.wandb.plugins.module_utils.aptrepo import human_size
from ansible_collections.onprem.wandb.plugins.plugin_utils import artifacts


def _wrap(func):
    def run(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ValueError as exc:
            raise AnsibleFilterError(str(exc)) from exc

    return run


def artifact_resolve(ref, man, **given):
    return artifacts.resolve(man, ref, **given)


def image_pins(images, man, registry=""):
    return artifacts.image_pins(list(images), man, registry or "")


class FilterModule:
    def filters(self):
        return {
            "artifact_manifest": _wrap(artifacts.manifest),
            "artifact_errors": _wrap(artifacts.validate),
            "artifact_unpinned": _wrap(artifacts.unpinned),
            "artifact_resolve": _wrap(artifact_resolve),
            "apt_suite_sources": _wrap(artifacts.suite_sources),
            "apt_suite_packages": _wrap(artifacts.suite_packages),
            "apt_suite_package_sets": _wrap(artifacts.suite_package_sets),
            "image_pins": _wrap(image_pins),
            "human_size": _wrap(human_size),
        }
