# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: certificate_check
short_description: Check a TLS server certificate, its key and chain before it is used
version_added: 0.1.0
description:
  - Checks what a client and the ingress controller will see, before the certificate is put in front of W&B.
  - The private key matches the certificate (same public key).
  - The certificate chains to one of the CAs in O(ca) through the intermediates in O(certificate) and O(chain), every
    signature verified, every signer a CA.
  - Every name in O(names) is covered by a subjectAltName entry (RFC 6125 wildcards; clients ignore the common name).
  - An extendedKeyUsage, when present, allows serverAuth.
  - The certificate and its chain are valid now; under O(warn_days) days left gives a warning.
  - Reports every problem at once. Never changes anything.
options:
  certificate:
    description:
      - The server certificate (PEM), optionally followed by intermediate certificates.
      - Exactly one of O(certificate) and O(certificate_path) is required.
    type: str
  certificate_path:
    description: Path on the target of the PEM server certificate (optionally followed by intermediates).
    type: path
  private_key:
    description:
      - The private key of the certificate (PEM). Never returned nor shown in messages.
      - Exactly one of O(private_key) and O(private_key_path) is required.
    type: str
  private_key_path:
    description: Path on the target of the PEM private key.
    type: path
  passphrase:
    description: Passphrase of an encrypted private key.
    type: str
  chain:
    description: Intermediate certificates (PEM) between the certificate and the CA.
    type: str
  chain_path:
    description: Path on the target of the intermediate certificates (PEM).
    type: path
  ca:
    description:
      - The CA certificates clients trust (PEM bundle).
      - Exactly one of O(ca) and O(ca_path) is required.
    type: str
  ca_path:
    description: Path on the target of the PEM CA bundle.
    type: path
  names:
    description:
      - Host names (or IP addresses) the certificate must cover, for example C(wandb_fqdn).
      - An empty list checks a CA on its own (key, signature, validity), without name and usage checks.
    type: list
    elements: str
    required: true
  warn_days:
    description: Fewer days of validity left than this gives a warning (and RV(needs_renewal=true)).
    type: int
    default: 30
  fail_on_error:
    description:
      - Fail when the certificate is unusable. With V(false) the module reports RV(errors) and RV(usable) and
        succeeds, so a caller can decide (for example to issue a new certificate).
    type: bool
    default: true
  variable_hint:
    description: A sentence appended to a failure that says which setting to change.
    type: str
extends_documentation_fragment:
  - onprem.wandb.attributes
  - onprem.wandb.attributes.no_diff
requirements:
  - cryptography (C(python3-cryptography)) on the target.
author:
  - onprem.wandb maintainers (@onprem-wandb)
"""

EXAMPLES = r"""
- name: Check the site's certificate for W&B before it is used
  onprem.wandb.certificate_check:
    certificate: "{{ certificates_cert }}"
    private_key: "{{ certificates_key }}"
    chain: "{{ certificates_chain }}"
    ca: "{{ certificates_ca }}"
    names: ["{{ wandb_fqdn }}"]
  no_log: true

- name: Decide whether a generated certificate must be issued again
  onprem.wandb.certificate_check:
    certificate_path: /etc/onprem-wandb/tls/wandb.crt
    private_key_path: /etc/onprem-wandb/tls/wandb.key
    ca_path: /etc/onprem-wandb/ca/ca.crt
    names: [wandb.example.internal]
    fail_on_error: false
  register: leaf
"""

RETURN = r"""
usable:
  description: True when there is no error.
  returned: always
  type: bool
errors:
  description: Every reason the certificate cannot be used.
  returned: always
  type: list
  elements: str
  sample: ["the certificate does not cover wandb.example.com (its names: other.example.com)"]
expiry_warnings:
  description: Problems that do not stop its use (expiry within O(warn_days)); each is also emitted as a warning.
  returned: always
  type: list
  elements: str
needs_renewal:
  description: True when the certificate is unusable or has fewer than O(warn_days) days left.
  returned: always
  type: bool
subject:
  description: Subject of the certificate.
  returned: when the certificate could be read
  type: str
  sample: CN=wandb.example.com
issuer:
  description: Issuer of the certificate.
  returned: when the certificate could be read
  type: str
dns_names:
  description: DNS subjectAltNames.
  returned: when the certificate could be read
  type: list
  elements: str
ip_addresses:
  description: IP subjectAltNames.
  returned: when the certificate could be read
  type: list
  elements: str
not_before:
  description: Start of validity (ISO 8601, UTC).
  returned: when the certificate could be read
  type: str
not_after:
  description: End of validity (ISO 8601, UTC).
  returned: when the certificate could be read
  type: str
days_left:
  description: Whole days until RV(not_after) (negative once expired).
  returned: when the certificate could be read
  type: int
fingerprint_sha256:
  description: SHA-256 fingerprint of the certificate (hex).
  returned: when the certificate could be read
  type: str
chain:
  description: Subjects from the certificate to the CA, as far as the chain could be built.
  returned: when the certificate could be read
  type: list
  elements: str
msg:
  description: The verdict; on failure every problem and what to change.
  returned: always
  type: str
"""

import traceback  # noqa: E402 - ansible modules import after their documentation

from ansible.module_utils.basic import AnsibleModule, missing_required_lib  # noqa: E402
from ansible_collections.onprem.wandb.plugins.module_utils import tlscheck  # noqa: E402

PAIRS = (("certificate", True), ("private_key", True), ("ca", True), ("chain", False))


def _read(module, name, required):
    """The PEM text of option NAME, given inline or as NAME_path."""
    text = module.params[name]
    path = module.params[name + "_path"]
    if path:
        try:
            with open(path, encoding="ascii", errors="replace") as fh:
                text = fh.read()
        except OSError as exc:
            module.fail_json(
                msg=f"cannot read {name}_path {path}: {exc.strerror}", usable=False, errors=[], warnings=[]
            )
    if required and not (text or "").strip():
        module.fail_json(msg=f"{name} (or {name}_path) is required", usable=False, errors=[], expiry_warnings=[])
    return text


def main():
    spec = {
        "passphrase": {"type": "str", "no_log": True},
        "names": {"type": "list", "elements": "str", "required": True},
        "warn_days": {"type": "int", "default": 30},
        "fail_on_error": {"type": "bool", "default": True},
        "variable_hint": {"type": "str"},
    }
    for name, _required in PAIRS:
        spec[name] = {"type": "str", "no_log": name == "private_key"}
        spec[name + "_path"] = {"type": "path"}
    module = AnsibleModule(
        argument_spec=spec,
        mutually_exclusive=[(name, name + "_path") for name, _required in PAIRS],
        supports_check_mode=True,
    )
    if not tlscheck.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=traceback.format_exc())
    p = module.params
    pem = {name: _read(module, name, required) for name, required in PAIRS}
    try:
        result = tlscheck.check_certificate(
            pem["certificate"],
            pem["private_key"],
            pem["ca"],
            p["names"],
            chain_pem=pem["chain"],
            passphrase=p["passphrase"],
            warn_days=p["warn_days"],
        )
    except tlscheck.TLSCheckError as exc:
        result = {"errors": [str(exc)], "warnings": []}
    # "warnings" in a module result is Ansible's own key.
    result["expiry_warnings"] = result.pop("warnings")
    result["usable"] = not result["errors"]
    result["needs_renewal"] = not result["usable"] or bool(result["expiry_warnings"])
    for warning in result["expiry_warnings"]:
        module.warn(warning)
    names = ", ".join(p["names"])
    if result["usable"]:
        result["msg"] = (
            "The certificate {} covers {}, matches its key, verifies to the CA and is valid until {}.".format(
                result["subject"], names, result["not_after"]
            )
        )
        module.exit_json(changed=False, **result)
    result["msg"] = "The certificate for {} cannot be used: {}.{}".format(
        names, "; ".join(result["errors"]), (" " + p["variable_hint"]) if p["variable_hint"] else ""
    )
    if p["fail_on_error"]:
        module.fail_json(changed=False, **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
