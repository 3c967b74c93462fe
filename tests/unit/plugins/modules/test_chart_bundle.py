# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import io
import tarfile
import time

from ansible_collections.onprem.wandb.plugins.modules import chart_bundle


def package(path, mtime, order):
    with tarfile.open(path, "w:gz") as tar:
        for name in order:
            data = f"content of {name}\n".encode()
            info = tarfile.TarInfo(f"chart/{name}")
            info.size, info.mtime, info.uid, info.uname = len(data), mtime, 1000, "builder"
            tar.addfile(info, io.BytesIO(data))


def test_a_package_made_twice_is_the_same_package(tmp_path):
    # helm package stamps the time: two packages of one source differ until made reproducible.
    one, two = tmp_path / "one.tgz", tmp_path / "two.tgz"
    package(one, 1000, ["Chart.yaml", "values.yaml"])
    time.sleep(1.1)
    package(two, int(time.time()), ["values.yaml", "Chart.yaml"])
    assert one.read_bytes() != two.read_bytes()
    assert chart_bundle.reproducible(str(one)) == chart_bundle.reproducible(str(two))


def test_the_reproducible_package_keeps_the_content(tmp_path):
    src = tmp_path / "src.tgz"
    package(src, 1000, ["Chart.yaml"])
    out = tmp_path / "out.tgz"
    out.write_bytes(chart_bundle.reproducible(str(src)))
    with tarfile.open(out) as tar:
        member = tar.getmember("chart/Chart.yaml")
        assert (member.mtime, member.uid, member.uname) == (0, 0, "")
        assert tar.extractfile(member).read() == b"content of Chart.yaml\n"
