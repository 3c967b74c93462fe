# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: image_check
short_description: Check that container registries serve images, by digest where pinned
version_added: 0.1.0
description:
  - Asks the registry of each image in O(images) for its manifest (the OCI distribution API, C(HEAD /v2/<repository>/manifests/<reference>)),
    by its digest when the reference has one, else by its tag, as a node's container runtime would before a pull.
  - Answers a registry's Bearer challenge with a pull token (anonymous, or with O(username) and O(password)) and a
    Basic challenge with the credentials.
  - Fails, naming every missing image and why, unless O(fail_on_missing=false). Reads only.
options:
  images:
    description: Image references, C(registry/repository:tag) or C(registry/repository[:tag]@sha256:<digest>).
    type: list
    elements: str
    required: true
  ca_cert:
    description: PEM CA of the registries' certificates, when the host does not trust it yet.
    type: str
    default: ""
  username:
    description: User for registries that ask for credentials to pull.
    type: str
    default: ""
  password:
    description: Its password or token.
    type: str
    default: ""
  validate_certs:
    description: Verify the registries' certificates.
    type: bool
    default: true
  timeout:
    description: Seconds to wait for each answer.
    type: int
    default: 10
  fail_on_missing:
    description: Fail when an image is missing; V(false) only reports RV(missing).
    type: bool
    default: true
  hint:
    description: A sentence appended to a failure that says what to do.
    type: str
    default: ""
extends_documentation_fragment:
  - onprem.wandb.attributes
  - onprem.wandb.attributes.no_diff
author:
  - onprem.wandb maintainers (@onprem-wandb)
"""

EXAMPLES = r"""
- name: Check the site registry has every image the ingress will run
  onprem.wandb.image_check:
    images:
      - registry.example.internal:5000/traefik:v3.7.11@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
    ca_cert: "{{ wandb_image_registry_ca_cert }}"
"""

RETURN = r"""
present:
  description: The images the registries serve, with the digest they answered.
  returned: always
  type: list
  elements: dict
  sample: [{"image": "registry:5000/traefik:v3.7.11", "digest": "sha256:0123..."}]
missing:
  description: The images the registries do not serve, and why.
  returned: always
  type: list
  elements: dict
  sample: [{"image": "registry:5000/traefik:v3.7.11", "reason": "registry:5000 has no traefik with tag v3.7.11 (HTTP 404)"}]
msg:
  description: The verdict.
  returned: always
  type: str
"""

import os  # noqa: E402 - ansible modules import after their documentation
import tempfile  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.common.text.converters import to_native  # noqa: E402
from ansible.module_utils.urls import open_url  # noqa: E402
from ansible_collections.onprem.wandb.plugins.module_utils import registry  # noqa: E402


def requester(ca_path, validate_certs, timeout):
    def request(method, url, headers):
        try:
            resp = open_url(
                url,
                method=method,
                headers=headers,
                validate_certs=validate_certs,
                ca_path=ca_path,
                timeout=timeout,
                follow_redirects="safe",
                use_netrc=False,
            )
            return registry.Answer(resp.status, dict(resp.headers), resp.read() if method == "GET" else b"")
        except Exception as exc:  # noqa: BLE001 - HTTPError, URLError, SSLValidationError, socket errors...
            code = getattr(exc, "code", None)
            if code:
                return registry.Answer(code, dict(getattr(exc, "headers", None) or {}))
            return registry.Answer(0, error=to_native(getattr(exc, "reason", None) or exc))

    return request


def main():
    module = AnsibleModule(
        argument_spec=dict(
            images=dict(type="list", elements="str", required=True),
            ca_cert=dict(type="str", default=""),
            username=dict(type="str", default=""),
            password=dict(type="str", default="", no_log=True),
            validate_certs=dict(type="bool", default=True),
            timeout=dict(type="int", default=10),
            fail_on_missing=dict(type="bool", default=True),
            hint=dict(type="str", default=""),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        images = [registry.split_reference(ref) for ref in dict.fromkeys(p["images"])]
    except ValueError as exc:
        module.fail_json(msg=str(exc), present=[], missing=[])
    ca_path = None
    if p["ca_cert"].strip():
        fd, ca_path = tempfile.mkstemp(dir=module.tmpdir, suffix=".crt")
        with os.fdopen(fd, "w") as fh:
            fh.write(p["ca_cert"].strip() + "\n")
    request = requester(ca_path, p["validate_certs"], p["timeout"])
    results = [registry.check_image(image, request, p["username"], p["password"]) for image in images]
    present = [{"image": r["image"], "digest": r["digest"]} for r in results if r["present"]]
    missing = [{"image": r["image"], "reason": r["reason"]} for r in results if not r["present"]]
    if missing:
        msg = "; ".join(f"{m['image']}: {m['reason']}" for m in missing)
        msg = f"{len(missing)} of {len(results)} images missing: {msg}. {p['hint']}".strip()
        if p["fail_on_missing"]:
            module.fail_json(msg=msg, present=present, missing=missing)
    else:
        msg = f"all {len(results)} images served"
    module.exit_json(changed=False, msg=msg, present=present, missing=missing)


if __name__ == "__main__":
    main()
