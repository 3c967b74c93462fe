# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest
from ansible_collections.onprem.wandb.plugins.module_utils import registry

DIGEST = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32


@pytest.mark.parametrize(
    ("ref", "want"),
    [
        ("mirror:5000/traefik:v3.7.11", ("mirror:5000", "traefik", "v3.7.11", "")),
        ("reg.site/project/wandb/local:0.82.2@" + DIGEST, ("reg.site", "project/wandb/local", "0.82.2", DIGEST)),
        ("localhost/lab/pause:1", ("localhost", "lab/pause", "1", "")),
        ("traefik:v3.7.11", ("registry-1.docker.io", "library/traefik", "v3.7.11", "")),
        ("docker.io/wandb/local:1", ("registry-1.docker.io", "wandb/local", "1", "")),
        (
            "quay.io/jetstack/cert-manager-controller@" + DIGEST,
            ("quay.io", "jetstack/cert-manager-controller", "", DIGEST),
        ),
    ],
)
def test_split_reference(ref, want):
    got = registry.split_reference(ref)
    assert (got["registry"], got["repository"], got["tag"], got["digest"]) == want
    assert got["ref"] == ref


@pytest.mark.parametrize(
    ("ref", "error"),
    [("", "not an image reference"), ("mirror:5000/traefik", "a tag or digest"), ("a/b:1@sha256:12", "digest")],
)
def test_split_reference_refuses(ref, error):
    with pytest.raises(ValueError, match=error):
        registry.split_reference(ref)


def test_manifest_url_asks_by_digest_when_pinned():
    assert registry.manifest_url(registry.split_reference("r:5000/a/b:1")) == "https://r:5000/v2/a/b/manifests/1"
    pinned = registry.split_reference("r:5000/a/b:1@" + DIGEST)
    assert registry.manifest_url(pinned) == f"https://r:5000/v2/a/b/manifests/{DIGEST}"


def test_parse_challenge_and_token_url():
    scheme, params = registry.parse_challenge(
        'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"'
    )
    assert scheme == "bearer" and params["service"] == "registry.example"
    url = registry.token_url(params, "a/b")
    assert url.startswith("https://auth.example/token?") and "scope=repository%3Aa%2Fb%3Apull" in url
    assert registry.token_url({"realm": "https://t"}, "x/y") == "https://t?scope=repository%3Ax%2Fy%3Apull"


class FakeRegistry:
    """Answers like a registry holding MANIFESTS ({(repository, reference): digest})."""

    def __init__(self, manifests, auth=None, token="t0k"):
        self.manifests = manifests
        self.auth = auth  # None, "basic" or "bearer"
        self.token = token
        self.calls = []

    def __call__(self, method, url, headers):
        self.calls.append((method, url, dict(headers)))
        if url.startswith("https://auth/"):
            if self.token is None:
                return registry.Answer(401)
            return registry.Answer(200, body=json.dumps({"token": self.token}).encode())
        if self.auth == "bearer" and headers.get("Authorization") != f"Bearer {self.token}":
            return registry.Answer(401, {"WWW-Authenticate": 'Bearer realm="https://auth/token",service="r"'})
        if self.auth == "basic" and headers.get("Authorization") != registry.basic_auth("u", "p"):
            return registry.Answer(401, {"WWW-Authenticate": 'Basic realm="r"'})
        repo, ref = url.split("/v2/", 1)[1].split("/manifests/")
        if (repo, ref) in self.manifests:
            return registry.Answer(200, {"Docker-Content-Digest": self.manifests[(repo, ref)]})
        return registry.Answer(404)


def test_check_image_present_by_tag_and_by_digest():
    fake = FakeRegistry({("traefik", "v3.7.11"): DIGEST, ("traefik", DIGEST): DIGEST})
    got = registry.check_image(registry.split_reference("r:5000/traefik:v3.7.11"), fake)
    assert got == {"image": "r:5000/traefik:v3.7.11", "present": True, "digest": DIGEST, "reason": ""}
    pinned = registry.check_image(registry.split_reference(f"r:5000/traefik:v3.7.11@{DIGEST}"), fake)
    assert pinned["present"] and fake.calls[-1][1].endswith(f"/manifests/{DIGEST}")
    assert "application/vnd.oci.image.index.v1+json" in fake.calls[-1][2]["Accept"]


def test_check_image_missing_says_which_tag_or_digest():
    fake = FakeRegistry({("traefik", "v3.7.11"): DIGEST})
    got = registry.check_image(registry.split_reference("r:5000/traefik:v3.6.0"), fake)
    assert not got["present"] and got["reason"] == "r:5000 has no traefik with tag v3.6.0 (HTTP 404)"
    got = registry.check_image(registry.split_reference(f"r:5000/traefik:v3.7.11@{OTHER}"), fake)
    assert not got["present"] and f"digest {OTHER}" in got["reason"]


def test_check_image_fetches_a_bearer_token_with_the_credentials():
    fake = FakeRegistry({("a/b", "1"): DIGEST}, auth="bearer")
    got = registry.check_image(registry.split_reference("r.site/a/b:1"), fake, "u", "p")
    assert got["present"]
    token_call = next(c for c in fake.calls if c[1].startswith("https://auth/"))
    assert token_call[2]["Authorization"] == registry.basic_auth("u", "p")
    assert "service=r" in token_call[1] and "repository%3Aa%2Fb%3Apull" in token_call[1]


def test_check_image_refused_token_and_basic_without_credentials():
    fake = FakeRegistry({("a/b", "1"): DIGEST}, auth="bearer", token=None)
    got = registry.check_image(registry.split_reference("r.site/a/b:1"), fake)
    assert not got["present"] and "refused a pull token (HTTP 401)" in got["reason"]
    basic = FakeRegistry({("a/b", "1"): DIGEST}, auth="basic")
    assert "asks for credentials" in registry.check_image(registry.split_reference("r.site/a/b:1"), basic)["reason"]
    assert registry.check_image(registry.split_reference("r.site/a/b:1"), basic, "u", "p")["present"]


def test_check_image_without_an_answer_names_the_registry():
    def down(method, url, headers):
        return registry.Answer(0, error="[Errno 111] Connection refused")

    got = registry.check_image(registry.split_reference("r:5000/a:1"), down)
    assert got["reason"] == "no answer from r:5000: [Errno 111] Connection refused"


def test_check_image_falls_back_to_get_without_head():
    answers = iter([registry.Answer(405), registry.Answer(200, {"Docker-Content-Digest": DIGEST})])
    got = registry.check_image(registry.split_reference("r.site/a:1"), lambda m, u, h: next(answers))
    assert got["present"] and got["digest"] == DIGEST
