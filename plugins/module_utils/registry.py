# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Asking a container registry (the OCI distribution API) whether it serves an image.

Pure helpers (references, the token challenge) and one read-only request per
image; the HTTP call is passed in, so the logic is tested without a registry.
"""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import urlencode

# Every manifest type a runtime may pull: an image index (several platforms) or
# one image's manifest, OCI's or Docker's.
MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_DOCKER_HUB = ("docker.io", "index.docker.io", "registry-1.docker.io")


def split_reference(ref):
    """An image reference as its registry's API sees it: {registry, repository, tag, digest, ref}.

    The first component is a registry only when it has a dot or a colon or is
    localhost (Docker's rule); without one, and for docker.io, the image is on
    Docker Hub, whose API is registry-1.docker.io and names official images
    library/<name>.
    """
    text = str(ref).strip()
    if not text or any(c.isspace() for c in text):
        raise ValueError(f"{ref!r} is not an image reference")
    rest, _at, digest = text.partition("@")
    if digest and not _DIGEST.match(digest):
        raise ValueError(f"image {text}: the digest is not sha256:<64 hex>")
    first, slash, remainder = rest.partition("/")
    registry = ""
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, rest = first, remainder
    tag = ""
    if ":" in rest.rsplit("/", 1)[-1]:
        rest, tag = rest.rsplit(":", 1)
    if not rest or not (tag or digest):
        raise ValueError(f"image {text}: needs a repository and a tag or digest")
    if registry in ("", *_DOCKER_HUB):
        registry = "registry-1.docker.io"
        if "/" not in rest:
            rest = "library/" + rest
    return {"registry": registry, "repository": rest, "tag": tag, "digest": digest, "ref": text}


def manifest_url(image):
    """Where the registry answers for the image: by its digest when pinned, else by its tag."""
    return f"https://{image['registry']}/v2/{image['repository']}/manifests/{image['digest'] or image['tag']}"


def parse_challenge(header):
    """A WWW-Authenticate header: (scheme in lower case, {parameter: value})."""
    scheme, _sp, rest = str(header or "").strip().partition(" ")
    params = {k.lower(): v for k, v in re.findall(r'(\w+)="([^"]*)"', rest)}
    return scheme.lower(), params


def token_url(params, repository):
    """The URL that hands out a pull token for REPOSITORY (a Bearer challenge's realm)."""
    query = {"scope": params.get("scope") or f"repository:{repository}:pull"}
    if params.get("service"):
        query["service"] = params["service"]
    return f"{params['realm']}?{urlencode(query)}"


def basic_auth(username, password):
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


class Answer:
    """An HTTP answer: status, headers (lower-case names) and body; status 0 when none came."""

    def __init__(self, status, headers=None, body=b"", error=""):
        self.status = status
        self.headers = {k.lower(): v for k, v in (headers or {}).items()}
        self.body = body
        self.error = error


def check_image(image, request, username="", password=""):
    """Ask the registry for IMAGE (a split_reference() dict) with REQUEST(method, url, headers) -> Answer.

    Returns {image, present, digest, reason}: present when the registry answers
    200 for the manifest (by digest when pinned: a registry serves a digest only
    for that very content). Credentials answer a Basic challenge, or fetch a
    Bearer token (anonymously without them, as a pull would).
    """
    url = manifest_url(image)
    headers = {"Accept": MANIFEST_TYPES}
    answer = request("HEAD", url, headers)
    if answer.status == 405:  # a registry without HEAD on manifests
        answer = request("GET", url, headers)
    if answer.status == 401:
        scheme, params = parse_challenge(answer.headers.get("www-authenticate"))
        if scheme == "bearer" and params.get("realm"):
            token_headers = {"Authorization": basic_auth(username, password)} if username else {}
            got = request("GET", token_url(params, image["repository"]), token_headers)
            token = ""
            if got.status == 200:
                try:
                    data = json.loads(got.body or b"{}")
                    token = data.get("token") or data.get("access_token") or ""
                except ValueError:
                    token = ""
            if not token:
                return _missing(image, f"the registry's token service refused a pull token (HTTP {got.status})")
            headers["Authorization"] = f"Bearer {token}"
            answer = request("HEAD", url, headers)
        elif scheme == "basic" and username:
            headers["Authorization"] = basic_auth(username, password)
            answer = request("HEAD", url, headers)
        else:
            return _missing(image, "the registry asks for credentials (HTTP 401); give a user and password")
    if answer.status == 200:
        digest = answer.headers.get("docker-content-digest", "")
        if image["digest"] and digest and digest != image["digest"]:
            return _missing(image, f"the registry answers with digest {digest}")
        return {"image": image["ref"], "present": True, "digest": digest or image["digest"], "reason": ""}
    if answer.status == 404:
        what = f"digest {image['digest']}" if image["digest"] else f"tag {image['tag']}"
        return _missing(image, f"{image['registry']} has no {image['repository']} with {what} (HTTP 404)")
    if answer.status in (401, 403):
        return _missing(image, f"the registry refused the credentials (HTTP {answer.status})")
    if answer.status == 0:
        return _missing(image, f"no answer from {image['registry']}: {answer.error}")
    return _missing(image, f"HTTP {answer.status} from {url}")


def _missing(image, reason):
    return {"image": image["ref"], "present": False, "digest": "", "reason": reason}
