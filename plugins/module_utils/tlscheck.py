# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Pure checks of a TLS server certificate before it is put in front of W&B.

Every function takes parsed objects or PEM text and returns plain data, so the
checks are unit-tested without a host. Written against the cryptography API of
Debian 12 (38) and newer: no x509.verification (42+), no load_pem_x509_certificates
(39+), no verify_directly_issued_by (40+).
"""

from __future__ import annotations

import datetime
import ipaddress
import math
import re

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID

    HAS_CRYPTOGRAPHY = True
except ImportError:  # pragma: no cover - reported by the module
    HAS_CRYPTOGRAPHY = False

_PEM_CERT_RE = re.compile(r"-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----")
MAX_CHAIN_DEPTH = 10
# Targets run Python 3.9+ (Ubuntu 22.04 has 3.10): datetime.UTC exists from 3.11 only.
UTC = datetime.timezone.utc  # noqa: UP017


class TLSCheckError(Exception):
    """Input that cannot be parsed at all (not PEM, wrong passphrase...)."""


# ---------------------------------------------------------------- parsing
def load_certificates(pem_text, what="certificate"):
    """Every certificate in PEM_TEXT, in order. Fails when there is none."""
    blocks = _PEM_CERT_RE.findall(pem_text or "")
    if not blocks:
        raise TLSCheckError(f"the {what} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
    certs = []
    for index, block in enumerate(blocks):
        try:
            certs.append(x509.load_pem_x509_certificate(block.encode("ascii")))
        except ValueError as exc:
            raise TLSCheckError(f"certificate {index + 1} of the {what} cannot be parsed: {exc}") from None
    return certs


def load_private_key(pem_text, passphrase=None):
    """The private key in PEM_TEXT (PKCS#1, PKCS#8 or SEC1)."""
    if not pem_text or "PRIVATE KEY-----" not in pem_text:
        raise TLSCheckError("the private key holds no PEM private key (-----BEGIN ... PRIVATE KEY-----)")
    try:
        return serialization.load_pem_private_key(
            pem_text.encode("ascii"), password=passphrase.encode() if passphrase else None
        )
    except (ValueError, TypeError) as exc:
        # The message of cryptography never contains key material.
        raise TLSCheckError(f"the private key cannot be loaded: {exc}") from None


# ---------------------------------------------------------------- facts
def not_before(cert):
    value = getattr(cert, "not_valid_before_utc", None)
    return value if value is not None else cert.not_valid_before.replace(tzinfo=UTC)


def not_after(cert):
    value = getattr(cert, "not_valid_after_utc", None)
    return value if value is not None else cert.not_valid_after.replace(tzinfo=UTC)


def subject_alt_names(cert):
    """(dns names, ip addresses as strings) of the subjectAltName extension."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    dns = [name.lower() for name in ext.get_values_for_type(x509.DNSName)]
    ips = [str(ip) for ip in ext.get_values_for_type(x509.IPAddress)]
    return dns, ips


def describe(cert):
    return cert.subject.rfc4514_string() or "(empty subject)"


def fingerprint(cert):
    return cert.fingerprint(hashes.SHA256()).hex()


def _public_der(key):
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_matches(cert, private_key):
    """True when PRIVATE_KEY is the key of CERT."""
    return _public_der(cert.public_key()) == _public_der(private_key.public_key())


def signed_by(cert, issuer):
    """True when ISSUER's key made CERT's signature and the names chain."""
    if cert.issuer != issuer.subject:
        return False
    key = issuer.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), cert.signature_hash_algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
        elif isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            key.verify(cert.signature, cert.tbs_certificate_bytes)
        else:
            return False
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def is_ca(cert):
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


# ---------------------------------------------------------------- checks
def name_matches(name, pattern):
    """RFC 6125 matching: a wildcard only as the whole leftmost label."""
    name = name.lower().rstrip(".")
    pattern = pattern.lower().rstrip(".")
    if not pattern.startswith("*."):
        return name == pattern
    head, _dot, rest = name.partition(".")
    return bool(head) and rest == pattern[2:]


def uncovered_names(names, dns_sans, ip_sans):
    """The NAMES no subjectAltName entry covers (IP names need an IP entry)."""
    missing = []
    for name in names:
        try:
            ip = ipaddress.ip_address(name)
        except ValueError:
            if not any(name_matches(name, pattern) for pattern in dns_sans):
                missing.append(name)
            continue
        if str(ip) not in ip_sans:
            missing.append(name)
    return missing


def build_chain(leaf, intermediates, roots):
    """The path from LEAF to one of ROOTS through INTERMEDIATES.

    Returns (path, error): path is the list of certificates from the leaf to the
    root (the root included) when one was found, error says where it broke.
    """
    path = [leaf]
    current = leaf
    for _depth in range(MAX_CHAIN_DEPTH):
        for root in roots:
            if signed_by(current, root):
                return path + ([root] if root != current else []), None
        issuers = [c for c in intermediates if c not in path and signed_by(current, c)]
        if not issuers:
            return path, (
                f"no certificate in the chain or the CA bundle signed {describe(current)} "
                f"(its issuer is {current.issuer.rfc4514_string()})"
            )
        current = issuers[0]
        path.append(current)
    return path, f"the chain is longer than {MAX_CHAIN_DEPTH} certificates"


def check_certificate(
    certificate_pem,
    private_key_pem,
    ca_pem,
    names,
    chain_pem=None,
    passphrase=None,
    warn_days=30,
    now=None,
):
    """Check a server certificate the way a client and the ingress will use it.

    CERTIFICATE_PEM is the leaf, optionally followed by intermediates;
    CHAIN_PEM adds intermediates; CA_PEM holds the roots clients trust.
    Returns a dict: errors (what makes it unusable), warnings, and facts about
    the leaf. Raises TLSCheckError for input that is not PEM at all.
    """
    now = now or datetime.datetime.now(UTC)
    certs = load_certificates(certificate_pem, "certificate")
    leaf, intermediates = certs[0], certs[1:]
    if chain_pem and chain_pem.strip():
        intermediates += load_certificates(chain_pem, "chain")
    roots = load_certificates(ca_pem, "CA bundle")
    key = load_private_key(private_key_pem, passphrase)

    errors = []
    warnings = []
    dns_sans, ip_sans = subject_alt_names(leaf)
    expires = not_after(leaf)
    days_left = (expires - now).total_seconds() / 86400.0

    if not key_matches(leaf, key):
        errors.append(
            f"the private key does not match the certificate {describe(leaf)} (their public keys differ): "
            "give the key the certificate was issued for"
        )

    path, chain_error = build_chain(leaf, intermediates, roots)
    if chain_error:
        errors.append(f"the chain does not verify to the CA: {chain_error}")
    for cert in path[1:]:
        if not is_ca(cert):
            errors.append(f"{describe(cert)} signs the chain but is not a CA (basicConstraints CA:FALSE or missing)")

    # Without names (a CA checked on its own) there is nothing to cover.
    if names:
        if not dns_sans and not ip_sans:
            errors.append(
                f"the certificate {describe(leaf)} has no subjectAltName; clients ignore the common name, "
                f"so it covers none of {', '.join(names)}"
            )
        else:
            missing = uncovered_names(names, dns_sans, ip_sans)
            if missing:
                errors.append(
                    "the certificate does not cover {} (its names: {})".format(
                        ", ".join(missing), ", ".join(dns_sans + ip_sans)
                    )
                )

        try:
            usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            if ExtendedKeyUsageOID.SERVER_AUTH not in usages:
                errors.append("the certificate's extendedKeyUsage does not allow serverAuth (TLS server)")
        except x509.ExtensionNotFound:
            pass

    for cert in path:
        label = "the certificate" if cert is leaf else describe(cert)
        if not_before(cert) > now:
            errors.append(f"{label} is not valid before {not_before(cert).isoformat()}")
        if not_after(cert) <= now:
            errors.append(f"{label} expired on {not_after(cert).isoformat()}")
        elif (not_after(cert) - now).total_seconds() < warn_days * 86400:
            left = (not_after(cert) - now).total_seconds() / 86400
            warnings.append(
                f"{label} expires on {not_after(cert).isoformat()} ({left:.0f} days left, under {warn_days} days): renew it"
            )

    return {
        "errors": errors,
        "warnings": warnings,
        "subject": describe(leaf),
        "issuer": leaf.issuer.rfc4514_string(),
        "dns_names": dns_sans,
        "ip_addresses": ip_sans,
        "not_before": not_before(leaf).isoformat(),
        "not_after": expires.isoformat(),
        "days_left": math.floor(days_left),
        "fingerprint_sha256": fingerprint(leaf),
        "chain": [describe(c) for c in path],
    }
