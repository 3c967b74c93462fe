# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: apt_bundle
short_description: Build a signed flat apt repository of packages and their whole dependency closure
version_added: 0.1.0
description:
  - Resolves O(packages) for one distribution suite from O(sources) with a private apt state (none of the machine's own
    sources, keys or installed packages), downloads every package of the closure into O(dest)C(/pool), indexes them
    (C(dpkg-scanpackages --multiversion)) and signs the repository (C(Release), C(InRelease), C(Release.gpg)) with the
    key in O(gpg_home).
  - The closure is resolved as for an empty system, so any host of the suite installs from the repository whatever it
    already has. Packages already in the pool are not fetched again, and the index is rewritten and signed again only
    when the pool changed, so a rerun only fetches what is missing and reports no change.
  - Runs on a connected host (playbooks/bundle.yml); needs C(apt-get), C(dpkg-scanpackages) (dpkg-dev) and C(gpg).
options:
  suite:
    description: The suite's name, also the repository's C(Suite) and C(Codename).
    type: str
    required: true
  sources:
    description:
      - Where the packages come from, as deb822 fields (C(uris), C(suites), C(components), C(signed_by)), for example
        the output of C(onprem.wandb.artifact)'s manifest for the suite. C(check_valid_until=false) accepts a frozen
        archive whose Release file is past its C(Valid-Until).
    type: list
    elements: dict
    required: true
  packages:
    description: Package names, or C(name=version) for an exact version.
    type: list
    elements: str
    required: true
  package_sets:
    description:
      - More packages, each list resolved on its own (its own dependency closure) into the same repository, after
        O(packages). A list may pin another version of a package O(packages) carries, which one resolution could not
        (Debian 12's Redis 7 in a Debian 13 repository beside Debian 13's own); hosts then choose by pinning.
    type: list
    elements: list
    default: []
  dest:
    description: The repository directory (C(pool/), C(Packages), C(Release) ...).
    type: path
    required: true
  work_dir:
    description: The private apt state (package lists); kept between runs.
    type: path
    required: true
  gpg_home:
    description: GnuPG home with the one secret key that signs the repository.
    type: path
    required: true
  origin:
    description: The repository's C(Origin) and C(Label).
    type: str
    default: onprem.wandb
  arch:
    description: Debian architecture.
    type: str
    default: amd64
extends_documentation_fragment:
  - onprem.wandb.attributes
attributes:
  check_mode:
    support: full
    details: Resolves and reports what would be fetched, downloads nothing.
  diff_mode:
    support: none
  platform:
    platforms: debian
author:
  - onprem.wandb maintainers (@onprem-wandb)
"""

EXAMPLES = r"""
- name: Build the bookworm repository of the bundle
  onprem.wandb.apt_bundle:
    suite: bookworm
    sources:
      - uris: [http://deb.debian.org/debian]
        suites: [bookworm, bookworm-updates]
        components: [main]
        signed_by: /usr/share/keyrings/debian-archive-keyring.gpg
    packages: [redis-server, rsync]
    dest: /srv/bundle/apt/bookworm
    work_dir: /srv/bundle.work/apt/bookworm
    gpg_home: /root/.onprem-wandb-bundle-key
"""

RETURN = r"""
packages:
  description: Number of packages in the closure.
  returned: always
  type: int
size:
  description: Bytes of the closure's packages.
  returned: always
  type: int
fetched:
  description: Packages downloaded by this run (or that would be, in check mode).
  returned: always
  type: int
fetched_size:
  description: Bytes downloaded by this run.
  returned: always
  type: int
summary:
  description: One line for the progress report.
  returned: always
  type: str
  sample: "bookworm: 137 packages, 63.6 MiB (fetched 12, 4.1 MiB)"
"""

import gzip  # noqa: E402 - ansible modules import after their documentation
import os  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.onprem.wandb.plugins.module_utils import aptrepo  # noqa: E402


def main():
    module = AnsibleModule(
        argument_spec=dict(
            suite=dict(type="str", required=True),
            sources=dict(type="list", elements="dict", required=True),
            packages=dict(type="list", elements="str", required=True),
            package_sets=dict(type="list", elements="list", default=[]),
            dest=dict(type="path", required=True),
            work_dir=dict(type="path", required=True),
            gpg_home=dict(type="path", required=True),
            origin=dict(type="str", default="onprem.wandb"),
            arch=dict(type="str", default="amd64"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    suite, dest, root = p["suite"], p["dest"], p["work_dir"]
    pool = os.path.join(dest, "pool")
    for path in (f"{root}/etc/sources.list.d", f"{root}/etc/apt.conf.d", f"{root}/etc/preferences.d",
                 f"{root}/state/lists/partial", f"{root}/cache", f"{pool}/partial"):  # fmt: skip
        os.makedirs(path, exist_ok=True)
    with open(f"{root}/etc/sources.list.d/bundle.sources", "w", encoding="utf-8") as fh:
        fh.write(aptrepo.deb822_sources(p["sources"]))
    open(f"{root}/status", "a").close()
    opts = aptrepo.apt_options(root, pool, p["arch"])

    def apt(*args):
        rc, out, err = module.run_command(["apt-get", "-q", *opts, *args], environ_update={"LC_ALL": "C"})
        if rc != 0:
            module.fail_json(msg=f"apt suite {suite}: apt-get {args[0]} failed: {err.strip() or out.strip()}", rc=rc)
        return out

    apt("update")
    have = {f for f in os.listdir(pool) if f.endswith(".deb")}
    missing = []
    for packages in [p["packages"], *([str(name) for name in names] for names in p["package_sets"])]:
        if not packages:
            continue
        # --print-uris lists only what is not in the archives directory yet.
        closure = aptrepo.parse_print_uris(apt("--print-uris", "-y", "install", *packages))
        missing += closure
        if closure and not module.check_mode:
            apt("--download-only", "-y", "install", *packages)
    fetched = len(missing)
    fetched_size = sum(item["size"] for item in missing)
    shutil.rmtree(f"{pool}/partial", ignore_errors=True)
    lock = os.path.join(pool, "lock")
    if os.path.exists(lock):
        os.unlink(lock)
    debs = sorted(f for f in os.listdir(pool) if f.endswith(".deb")) if os.path.isdir(pool) else []
    size = sum(os.path.getsize(os.path.join(pool, f)) for f in debs) + (fetched_size if module.check_mode else 0)
    count = len(debs) + (fetched if module.check_mode else 0)

    changed = bool(missing)
    if not module.check_mode:
        rc, packages, err = module.run_command(["dpkg-scanpackages", "--multiversion", "pool", "/dev/null"], cwd=dest)
        if rc != 0:
            module.fail_json(msg=f"apt suite {suite}: dpkg-scanpackages failed: {err}")
        index = os.path.join(dest, "Packages")
        old = open(index, encoding="utf-8").read() if os.path.exists(index) else None
        signed = all(os.path.exists(os.path.join(dest, n)) for n in ("InRelease", "Release.gpg"))
        if old != packages or not signed:
            changed = True
            data = packages.encode()
            with open(index, "wb") as fh:
                fh.write(data)
            with open(index + ".gz", "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as fh:
                fh.write(data)
            with open(index + ".gz", "rb") as fh:
                gz = fh.read()
            date = time.strftime("%a, %d %b %Y %H:%M:%S UTC", time.gmtime())
            release = aptrepo.release_file(suite, p["origin"], {"Packages": data, "Packages.gz": gz}, date, p["arch"])
            with open(os.path.join(dest, "Release"), "w", encoding="utf-8") as fh:
                fh.write(release)
            gpg = ["gpg", "--homedir", p["gpg_home"], "--batch", "--yes", "--pinentry-mode", "loopback"]
            for args in (["--clearsign", "-o", "InRelease", "Release"], ["-abs", "-o", "Release.gpg", "Release"]):
                rc, _out, err = module.run_command(gpg + args, cwd=dest)
                if rc != 0:
                    module.fail_json(msg=f"apt suite {suite}: signing with the key in {p['gpg_home']} failed: {err}")
    summary = (
        f"{suite}: {count} packages, {aptrepo.human_size(size)}"
        f" ({'would fetch' if module.check_mode else 'fetched'} {fetched}, {aptrepo.human_size(fetched_size)};"
        f" {len(have)} already there)"
    )
    module.exit_json(
        changed=changed, packages=count, size=size, fetched=fetched, fetched_size=fetched_size, summary=summary
    )


if __name__ == "__main__":
    main()
