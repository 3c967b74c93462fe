# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: chart_bundle
short_description: Put a pinned Helm chart package into a bundle, from its repository or its source
version_added: 0.1.0
description:
  - Pulls chart O(name) O(version) from the chart repository O(repo) (C(helm pull)), or packages it from its source
    directory O(source) (C(helm package), with O(dependencies) placed under its C(charts/)), and writes it to O(dest).
  - A package made from source is made reproducible (entries sorted, times and owners zeroed, gzip without a time
    stamp), so the same source always gives the same sha256 and the package can be pinned.
  - With O(sha256) the result must have that digest, otherwise the module fails naming the chart and both digests,
    and O(dest) is left as it was. An O(dest) that already has the digest is kept without running helm.
options:
  name:
    description: The chart's name.
    type: str
    required: true
  version:
    description: The chart's version (also stamped into a package made from source).
    type: str
    required: true
  app_version:
    description: The appVersion stamped into a package made from source (a source tree that says C(v0.0.0)).
    type: str
  repo:
    description: URL of the chart repository.
    type: str
  source:
    description: Directory of the chart's source.
    type: path
  dependencies:
    description: Chart directories placed under the source's C(charts/) before packaging.
    type: list
    elements: path
    default: []
  sha256:
    description: The pinned digest of the package; empty accepts any.
    type: str
    default: ""
  dest:
    description: Path of the package.
    type: path
    required: true
  helm:
    description: The helm binary.
    type: path
    required: true
extends_documentation_fragment:
  - onprem.wandb.attributes
  - onprem.wandb.attributes.no_diff
author:
  - onprem.wandb maintainers (@onprem-wandb)
"""

EXAMPLES = r"""
- name: Pull Traefik's chart, pinned
  onprem.wandb.chart_bundle:
    name: traefik
    version: 41.3.0
    repo: https://traefik.github.io/charts
    sha256: "{{ traefik_chart_sha256 }}"
    dest: /srv/bundle/charts/traefik-41.3.0.tgz
    helm: /usr/local/bin/helm
"""

RETURN = r"""
sha256:
  description: Digest of the package.
  returned: success
  type: str
size:
  description: Size of the package in bytes.
  returned: success
  type: int
"""

import glob  # noqa: E402 - ansible modules import after their documentation
import gzip  # noqa: E402
import hashlib  # noqa: E402
import io  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import stat  # noqa: E402
import tarfile  # noqa: E402
import tempfile  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402


def digest_of(path):
    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest()


def reproducible(package: str) -> bytes:
    """PACKAGE (a .tgz) again with sorted entries, zero times and owners, no gzip time stamp."""
    with tarfile.open(package, "r:gz") as src:
        members = sorted(src.getmembers(), key=lambda m: m.name)
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as out:
            for member in members:
                data = src.extractfile(member) if member.isfile() else None
                member.mtime = 0
                member.uid = member.gid = 0
                member.uname = member.gname = ""
                member.pax_headers = {}
                out.addfile(member, data)
    packed = io.BytesIO()
    with gzip.GzipFile(fileobj=packed, mode="wb", mtime=0, filename="") as gz:
        gz.write(raw.getvalue())
    return packed.getvalue()


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            version=dict(type="str", required=True),
            app_version=dict(type="str"),
            repo=dict(type="str"),
            source=dict(type="path"),
            dependencies=dict(type="list", elements="path", default=[]),
            sha256=dict(type="str", default=""),
            dest=dict(type="path", required=True),
            helm=dict(type="path", required=True),
        ),
        required_one_of=[("repo", "source")],
        mutually_exclusive=[("repo", "source")],
        supports_check_mode=True,
    )
    p = module.params
    what = f"charts/{p['name']} {p['version']}"
    dest = p["dest"]
    if os.path.exists(dest) and (not p["sha256"] or digest_of(dest) == p["sha256"]):
        module.exit_json(changed=False, sha256=digest_of(dest), size=os.path.getsize(dest))
    if module.check_mode:
        module.exit_json(changed=True, sha256=p["sha256"], size=0)
    with tempfile.TemporaryDirectory(dir=os.path.dirname(dest) or None, prefix=".chart-") as tmp:
        env = {"HELM_CACHE_HOME": tmp, "HELM_CONFIG_HOME": tmp, "HELM_DATA_HOME": tmp}
        out_dir = os.path.join(tmp, "out")
        os.mkdir(out_dir)
        if p["repo"]:
            cmd = [p["helm"], "pull", p["name"], "--repo", p["repo"], "--version", p["version"], "-d", out_dir]
        else:
            work = os.path.join(tmp, "src", os.path.basename(p["source"].rstrip("/")))
            shutil.copytree(p["source"], work, symlinks=True)
            for dep in p["dependencies"]:
                shutil.copytree(
                    dep, os.path.join(work, "charts", os.path.basename(dep.rstrip("/"))), dirs_exist_ok=True
                )
            for root, dirs, files in os.walk(work):  # sources may be read-only
                for name in dirs + files:
                    path = os.path.join(root, name)
                    if not os.path.islink(path):
                        os.chmod(path, os.stat(path).st_mode | stat.S_IWUSR)
            cmd = [p["helm"], "package", work, "--version", p["version"], "-d", out_dir]
            if p["app_version"]:
                cmd += ["--app-version", p["app_version"]]
        rc, out, err = module.run_command(cmd, environ_update=env)
        built = glob.glob(os.path.join(out_dir, "*.tgz"))
        if rc != 0 or len(built) != 1:
            module.fail_json(msg=f"{what}: {' '.join(cmd[1:2])} failed: {(err or out).strip()}")
        if os.path.basename(built[0]) != f"{p['name']}-{p['version']}.tgz":
            module.fail_json(msg=f"{what}: helm made {os.path.basename(built[0])}, not {p['name']}-{p['version']}.tgz")
        if p["source"]:
            data = reproducible(built[0])
            with open(built[0], "wb") as fh:
                fh.write(data)
        got = digest_of(built[0])
        if p["sha256"] and got != p["sha256"]:
            module.fail_json(
                msg=f"{what}: the package has sha256 {got}, the manifest pins {p['sha256']}; refused "
                f"(from {p['repo'] or p['source']}). Pin the digest you trust in wandb_artifacts.",
                sha256=got,
            )
        shutil.move(built[0], dest)
    module.exit_json(changed=True, sha256=got, size=os.path.getsize(dest))


if __name__ == "__main__":
    main()
