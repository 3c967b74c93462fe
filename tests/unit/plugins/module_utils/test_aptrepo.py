# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import hashlib

import pytest
from ansible_collections.onprem.wandb.plugins.module_utils import aptrepo


def test_deb822_sources():
    text = aptrepo.deb822_sources(
        [
            {"uris": ["http://a/debian"], "suites": ["sid"], "components": ["main"], "signed_by": "/k.gpg",
             "check_valid_until": False},
            {"uris": ["http://b"], "suites": ["x", "x-updates"], "components": ["main", "universe"]},
        ]
    )  # fmt: skip
    blocks = text.split("\n\n")
    assert blocks[0].splitlines() == [
        "Types: deb",
        "URIs: http://a/debian",
        "Suites: sid",
        "Components: main",
        "Signed-By: /k.gpg",
        "Check-Valid-Until: no",
    ]
    assert "Suites: x x-updates" in blocks[1] and "Signed-By" not in blocks[1]


def test_apt_options_use_only_the_private_state():
    opts = aptrepo.apt_options("/w", "/pool")
    pairs = dict(o.split("=", 1) for o in opts[1::2])
    assert opts[0::2] == ["-o"] * len(pairs)
    assert pairs["Dir::State::status"] == "/w/status"
    assert pairs["Dir::Cache::archives"] == "/pool"
    assert pairs["Dir::Etc::sourcelist"] == "/dev/null" and pairs["Dir::Etc::trusted"] == "/dev/null"
    assert pairs["APT::Install-Recommends"] == "false"


def test_parse_print_uris():
    out = (
        "Reading package lists...\n"
        "'http://deb.debian.org/debian/pool/main/r/rsync/rsync_3.2.7-1_amd64.deb' rsync_3.2.7-1_amd64.deb 417548 "
        "SHA256:ab\n"
        "'http://x/pool/z/zlib1g_1%3a1.2.13_amd64.deb' zlib1g_1%3a1.2.13_amd64.deb 86684 \n"
    )
    assert aptrepo.parse_print_uris(out) == [
        {"url": "http://deb.debian.org/debian/pool/main/r/rsync/rsync_3.2.7-1_amd64.deb",
         "file": "rsync_3.2.7-1_amd64.deb", "size": 417548},
        {"url": "http://x/pool/z/zlib1g_1%3a1.2.13_amd64.deb", "file": "zlib1g_1%3a1.2.13_amd64.deb", "size": 86684},
    ]  # fmt: skip


def test_release_file_lists_each_index_with_its_digest():
    text = aptrepo.release_file("bookworm", "onprem.wandb", {"Packages": b"abc", "Packages.gz": b"x"}, "Mon, 1 Jan")
    assert "Suite: bookworm\nCodename: bookworm\n" in text
    assert f" {hashlib.sha256(b'abc').hexdigest()} 3 Packages\n" in text
    assert text.index("Packages.gz") > text.index(" Packages\n")


@pytest.mark.parametrize("size, text", [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (3 * 2**30, "3.0 GiB")])
def test_human_size(size, text):
    assert aptrepo.human_size(size) == text
