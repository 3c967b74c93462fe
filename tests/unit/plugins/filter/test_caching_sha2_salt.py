# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import hashlib
import re

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.onprem.wandb.plugins.filter.caching_sha2_salt import FilterModule, caching_sha2_salt


def test_twenty_hex_digits_and_stable():
    salt = caching_sha2_salt("site-secret", "wandb", "%")
    assert re.fullmatch(r"[0-9a-f]{20}", salt)
    assert caching_sha2_salt("site-secret", "wandb", "%") == salt


def test_differs_per_site_and_per_account():
    salts = {
        caching_sha2_salt("site-a", "wandb", "%"),
        caching_sha2_salt("site-b", "wandb", "%"),
        caching_sha2_salt("site-a", "wandb", "localhost"),
        caching_sha2_salt("site-a", "wandb_repl", "%"),
    }
    assert len(salts) == 4


def test_not_the_old_salt_every_site_shared():
    old = hashlib.sha1(b"wandb@%").hexdigest()[:20]
    assert caching_sha2_salt("site-a", "wandb", "%") != old


def test_fields_cannot_run_into_each_other():
    assert caching_sha2_salt("s", "ab", "c") != caching_sha2_salt("s", "a", "bc")


@pytest.mark.parametrize("secret", ["", None, 5])
def test_a_missing_secret_is_refused(secret):
    with pytest.raises(AnsibleFilterError, match="secret"):
        caching_sha2_salt(secret, "wandb", "%")


def test_the_filter_is_registered():
    assert FilterModule().filters()["caching_sha2_salt"] is caching_sha2_salt
