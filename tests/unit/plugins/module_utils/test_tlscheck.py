# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime
import ipaddress

import pytest
from ansible_collections.onprem.wandb.plugins.module_utils import tlscheck
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime.datetime(2026, 11, 30, 12, 0, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)
FQDN = "wandb.example.internal"


def make_key(kind="ec"):
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(ec.SECP256R1())


def make_cert(name, key, issuer=None, issuer_key=None, ca=False, dns=(), ips=(), start=-1, days=90, eku=None):
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW + start * DAY)
        .not_valid_after(NOW + days * DAY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    sans = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    signer = issuer_key or key
    algorithm = None if isinstance(signer, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(signer, algorithm)


def pem(*certs):
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certs)


def key_pem(key, passphrase=None):
    enc = serialization.BestAvailableEncryption(passphrase.encode()) if passphrase else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc).decode()


@pytest.fixture(scope="module")
def pki():
    ca_key = make_key("rsa")
    ca = make_cert("Site Root CA", ca_key, ca=True, days=3650)
    inter_key = make_key()
    inter = make_cert("Site Issuing CA", inter_key, issuer=ca, issuer_key=ca_key, ca=True, days=1000)
    leaf_key = make_key()
    leaf = make_cert(
        FQDN, leaf_key, issuer=inter, issuer_key=inter_key, dns=[FQDN], eku=[ExtendedKeyUsageOID.SERVER_AUTH]
    )
    return {"ca": ca, "ca_key": ca_key, "inter": inter, "inter_key": inter_key, "leaf": leaf, "leaf_key": leaf_key}


def check(cert_pem, key, ca_pem, names=(FQDN,), **kw):
    return tlscheck.check_certificate(cert_pem, key_pem(key), ca_pem, list(names), now=NOW, **kw)


def test_good_chain_through_an_intermediate(pki):
    out = check(pem(pki["leaf"]), pki["leaf_key"], pem(pki["ca"]), chain_pem=pem(pki["inter"]))
    assert out["errors"] == []
    assert out["warnings"] == []
    assert out["dns_names"] == [FQDN]
    assert out["chain"] == ["CN=" + FQDN, "CN=Site Issuing CA", "CN=Site Root CA"]
    assert out["days_left"] == 90


def test_intermediate_may_follow_the_leaf_in_one_pem(pki):
    out = check(pem(pki["leaf"], pki["inter"]), pki["leaf_key"], pem(pki["ca"]))
    assert out["errors"] == []


def test_key_mismatch_is_an_error(pki):
    out = check(pem(pki["leaf"]), make_key(), pem(pki["ca"]), chain_pem=pem(pki["inter"]))
    assert len(out["errors"]) == 1
    assert "private key does not match" in out["errors"][0]


def test_missing_intermediate_breaks_the_chain(pki):
    out = check(pem(pki["leaf"]), pki["leaf_key"], pem(pki["ca"]))
    assert any("does not verify to the CA" in e and "Site Issuing CA" in e for e in out["errors"])


def test_other_ca_breaks_the_chain(pki):
    other_key = make_key()
    other = make_cert("Site Root CA", other_key, ca=True)  # same name, other key: the signature decides
    out = check(pem(pki["leaf"]), pki["leaf_key"], pem(other), chain_pem=pem(pki["inter"]))
    assert any("does not verify to the CA" in e for e in out["errors"])


def test_ca_bundle_with_several_roots(pki):
    other = make_cert("Other CA", make_key(), ca=True)
    out = check(pem(pki["leaf"]), pki["leaf_key"], pem(other, pki["ca"]), chain_pem=pem(pki["inter"]))
    assert out["errors"] == []


def test_self_signed_leaf_trusted_as_itself():
    # Clients that trust the certificate itself accept it (curl --cacert, Python's ssl).
    key = make_key()
    cert = make_cert(FQDN, key, dns=[FQDN])
    out = check(pem(cert), key, pem(cert))
    assert out["errors"] == []
    assert out["chain"] == ["CN=" + FQDN]


def test_signer_that_is_not_a_ca_is_refused():
    key = make_key()
    fake_ca = make_cert("Not a CA", key, ca=False, dns=["x"])
    leaf_key = make_key()
    leaf = make_cert(FQDN, leaf_key, issuer=fake_ca, issuer_key=key, dns=[FQDN])
    out = check(pem(leaf), leaf_key, pem(fake_ca))
    assert any("is not a CA" in e for e in out["errors"])


@pytest.mark.parametrize("kind", ["rsa", "ec", "ed25519"])
def test_key_types(kind):
    ca_key = make_key(kind)
    ca = make_cert("CA " + kind, ca_key, ca=True)
    leaf_key = make_key(kind)
    leaf = make_cert(FQDN, leaf_key, issuer=ca, issuer_key=ca_key, dns=[FQDN])
    assert check(pem(leaf), leaf_key, pem(ca))["errors"] == []


@pytest.mark.parametrize(
    "sans, names, missing",
    [
        ([FQDN], [FQDN], []),
        (["WANDB.example.internal"], [FQDN], []),
        (["*.example.internal"], [FQDN], []),
        (["*.example.internal"], ["example.internal"], ["example.internal"]),
        (["*.example.internal"], ["a.wandb.example.internal"], ["a.wandb.example.internal"]),
        (["other.example.internal"], [FQDN], [FQDN]),
        ([FQDN], [FQDN, "s3.example.internal"], ["s3.example.internal"]),
    ],
)
def test_name_coverage(pki, sans, names, missing):
    leaf_key = make_key()
    leaf = make_cert("x", leaf_key, issuer=pki["ca"], issuer_key=pki["ca_key"], dns=sans)
    out = check(pem(leaf), leaf_key, pem(pki["ca"]), names=names)
    if missing:
        assert len(out["errors"]) == 1
        assert "does not cover " + ", ".join(missing) in out["errors"][0]
    else:
        assert out["errors"] == []


def test_ip_names_need_ip_entries(pki):
    leaf_key = make_key()
    leaf = make_cert("x", leaf_key, issuer=pki["ca"], issuer_key=pki["ca_key"], dns=["10.0.0.5"], ips=["10.0.0.6"])
    assert tlscheck.uncovered_names(["10.0.0.5", "10.0.0.6"], *tlscheck.subject_alt_names(leaf)) == ["10.0.0.5"]


def test_common_name_alone_covers_nothing(pki):
    leaf_key = make_key()
    leaf = make_cert(FQDN, leaf_key, issuer=pki["ca"], issuer_key=pki["ca_key"])
    out = check(pem(leaf), leaf_key, pem(pki["ca"]))
    assert any("no subjectAltName" in e for e in out["errors"])


def test_client_only_usage_is_refused(pki):
    leaf_key = make_key()
    leaf = make_cert(
        FQDN, leaf_key, issuer=pki["ca"], issuer_key=pki["ca_key"], dns=[FQDN], eku=[ExtendedKeyUsageOID.CLIENT_AUTH]
    )
    out = check(pem(leaf), leaf_key, pem(pki["ca"]))
    assert any("serverAuth" in e for e in out["errors"])


@pytest.mark.parametrize(
    "start, days, error, warning",
    [
        (-1, 90, None, None),
        (-1, 31, None, None),
        (-1, 29, None, "29 days left, under 30 days"),
        (-100, -1, "the certificate expired on", None),
        (2, 90, "the certificate is not valid before", None),
    ],
)
def test_validity_period(pki, start, days, error, warning):
    leaf_key = make_key()
    leaf = make_cert(FQDN, leaf_key, issuer=pki["ca"], issuer_key=pki["ca_key"], dns=[FQDN], start=start, days=days)
    out = check(pem(leaf), leaf_key, pem(pki["ca"]))
    if error:
        assert any(e.startswith(error) for e in out["errors"]), out["errors"]
    else:
        assert out["errors"] == []
    if warning:
        assert any(warning in w for w in out["warnings"]), out["warnings"]
    else:
        assert out["warnings"] == []


def test_expiring_ca_is_reported_by_name(pki):
    ca_key = make_key()
    ca = make_cert("Old CA", ca_key, ca=True, days=10)
    leaf_key = make_key()
    leaf = make_cert(FQDN, leaf_key, issuer=ca, issuer_key=ca_key, dns=[FQDN], days=5)
    out = check(pem(leaf), leaf_key, pem(ca))
    assert out["errors"] == []
    assert any(w.startswith("CN=Old CA expires") for w in out["warnings"])


def test_every_problem_is_reported_at_once(pki):
    leaf_key = make_key()
    leaf = make_cert("x", leaf_key, issuer=pki["inter"], issuer_key=pki["inter_key"], dns=["other"], days=-1, start=-9)
    out = check(pem(leaf), make_key(), pem(pki["ca"]))
    text = " | ".join(out["errors"])
    for part in ("does not match", "does not verify", "does not cover", "expired"):
        assert part in text


def test_encrypted_key(pki):
    out = tlscheck.check_certificate(
        pem(pki["leaf"], pki["inter"]),
        key_pem(pki["leaf_key"], "s3cret"),
        pem(pki["ca"]),
        [FQDN],
        passphrase="s3cret",
        now=NOW,
    )
    assert out["errors"] == []


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("cert", "not a certificate", "certificate holds no PEM certificate"),
        ("ca", "", "CA bundle holds no PEM certificate"),
        ("key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "private key cannot be loaded"),
        ("key", "", "holds no PEM private key"),
    ],
)
def test_unreadable_input_raises(pki, field, value, message):
    args = {"cert": pem(pki["leaf"]), "key": key_pem(pki["leaf_key"]), "ca": pem(pki["ca"])}
    args[field] = value
    with pytest.raises(tlscheck.TLSCheckError, match=message):
        tlscheck.check_certificate(args["cert"], args["key"], args["ca"], [FQDN], now=NOW)


@pytest.mark.parametrize(
    "name, pattern, ok",
    [
        ("a.b.c", "a.b.c", True),
        ("a.b.c.", "A.B.C", True),
        ("a.b.c", "*.b.c", True),
        ("b.c", "*.b.c", False),
        ("x.a.b.c", "*.b.c", False),
        ("a.b.c", "a*.b.c", False),
    ],
)
def test_name_matches(name, pattern, ok):
    assert tlscheck.name_matches(name, pattern) is ok


def test_a_ca_alone_without_names(pki):
    out = tlscheck.check_certificate(pem(pki["ca"]), key_pem(pki["ca_key"]), pem(pki["ca"]), [], now=NOW)
    assert out["errors"] == []
    out = tlscheck.check_certificate(pem(pki["ca"]), key_pem(pki["leaf_key"]), pem(pki["ca"]), [], now=NOW)
    assert any("does not match" in e for e in out["errors"])
