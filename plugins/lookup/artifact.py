# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: artifact
short_description: An artifact of the collection's manifest, with the site's overrides
version_added: 0.1.0
description:
  - Reads the collection's artifact manifest (C(meta/artifacts.yml)), merges the site's O(overrides) over it and
    returns each requested entry resolved for use, the single source of versions, URLs and checksums of
    everything a W&B site installs.
  - A term is C(KIND/NAME) with KIND one of C(toolchains), C(apt), C(files), C(charts), C(images).
  - "C(files/NAME): C(version), C(sha256) (of O(arch)), C(path) on the mirror, C(url) (the mirror's when
    O(mirror_url) is set, else the publisher's, C(upstream_url))."
  - "C(charts/NAME): C(version), C(sha256), C(path), C(repo_url) (the mirror's chart repository or the
    publisher's), C(url) of the package on the mirror."
  - "C(images/NAME): C(repository), C(tag), C(digest), C(source) (with O(tag): that tag, and no digest unless it
    is the manifest's tag)."
  - "C(apt/GROUP): C(packages) (C(name=version) where pinned) and, for pinned groups, C(version) and
    C(package_version) (pass C(distribution) and C(release) to fill it)."
options:
  _terms:
    description: The artifacts, C(KIND/NAME).
    required: true
    type: list
    elements: str
  arch:
    description: Architecture whose checksum is returned.
    type: str
    default: amd64
  mirror_url:
    description: The site mirror; defaults to the variable C(wandb_mirror_url).
    type: str
  overrides:
    description: Merged over the manifest, dictionaries recursively; defaults to the variable C(wandb_artifacts).
    type: dict
  version:
    description: Take this version instead of the manifest's (a role variable set by the site).
    type: str
  tag:
    description:
      - For C(images/), take this tag instead of the manifest's (a role variable set by the site). The manifest's
        digest belongs to its tag, so another tag comes with an empty C(digest).
    type: str
  distribution:
    description: For C(apt/) groups with a C(package_version) template, the distribution (C(debian), C(ubuntu)).
    type: str
  release:
    description: For C(apt/) groups with a C(package_version) template, the release (C(12), C(24.04)).
    type: str
author:
  - onprem.wandb maintainers (@onprem-wandb)
"""

EXAMPLES = r"""
- name: Download the pinned MinIO server from the mirror
  ansible.builtin.get_url:
    url: "{{ __minio.url }}"
    checksum: "sha256:{{ __minio.sha256 }}"
    dest: /usr/local/bin/minio
    mode: "0755"
  vars:
    __minio: "{{ lookup('onprem.wandb.artifact', 'files/minio') }}"

- name: Show Oracle's package version of the pinned MySQL on this host
  ansible.builtin.debug:
    msg: >-
      {{ lookup('onprem.wandb.artifact', 'apt/mysql', distribution=ansible_facts.distribution | lower,
                release=ansible_facts.distribution_major_version).package_version }}
"""

RETURN = r"""
_raw:
  description: One resolved entry per term.
  type: list
  elements: dict
"""

from ansible.errors import AnsibleLookupError  # noqa: E402 - plugins import after their documentation
from ansible.plugins.lookup import LookupBase  # noqa: E402
from ansible_collections.onprem.wandb.plugins.plugin_utils import artifacts  # noqa: E402


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        variables = variables or {}
        overrides = self.get_option("overrides")
        if overrides is None:
            overrides = self._templar.template(variables.get("wandb_artifacts", {})) or {}
        mirror_url = self.get_option("mirror_url")
        if mirror_url is None:
            mirror_url = self._templar.template(variables.get("wandb_mirror_url", "")) or ""
        given = {k: self.get_option(k) for k in ("version", "tag", "distribution", "release")}
        try:
            man = artifacts.manifest(overrides)
            return [
                artifacts.resolve(man, term, arch=self.get_option("arch"), mirror_url=mirror_url, **given)
                for term in terms
            ]
        except (OSError, ValueError) as exc:
            raise AnsibleLookupError(f"onprem.wandb.artifact: {exc}") from exc
