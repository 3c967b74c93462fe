# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime
import json

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.onprem.wandb.plugins.modules import certificate_check
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

FQDN = "wandb.example.internal"


def _cert(name, key, issuer=None, issuer_key=None, ca=False, dns=(), days=90):
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if dns:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]), critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256())


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _key_pem(key):
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture(scope="module")
def pki():
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("CA", ca_key, ca=True, days=3650)
    key = ec.generate_private_key(ec.SECP256R1())
    return {
        "ca": _pem(ca),
        "ca_obj": ca,
        "ca_key": ca_key,
        "cert": _pem(_cert(FQDN, key, ca, ca_key, dns=[FQDN])),
        "key": _key_pem(key),
    }


def run(capsys, args):
    with patch_module_args(args), pytest.raises(SystemExit) as exc_info:
        certificate_check.main()
    text = capsys.readouterr().out
    return exc_info.value.code, json.loads(text), text


def test_good_certificate_passes(capsys, pki):
    code, out, text = run(
        capsys, {"certificate": pki["cert"], "private_key": pki["key"], "ca": pki["ca"], "names": [FQDN]}
    )
    assert code == 0, out["msg"]
    assert out["usable"] is True and out["needs_renewal"] is False and out["changed"] is False
    assert out["dns_names"] == [FQDN]
    assert "BEGIN PRIVATE KEY" not in text


def test_paths_are_read_on_the_target(capsys, pki, tmp_path):
    for name in ("cert", "key", "ca"):
        (tmp_path / name).write_text(pki[name])
    args = {
        "certificate_path": str(tmp_path / "cert"),
        "private_key_path": str(tmp_path / "key"),
        "ca_path": str(tmp_path / "ca"),
        "names": [FQDN],
    }
    code, out, _text = run(capsys, args)
    assert code == 0, out["msg"]


def test_wrong_name_fails_with_the_hint(capsys, pki):
    code, out, text = run(
        capsys,
        {
            "certificate": pki["cert"],
            "private_key": pki["key"],
            "ca": pki["ca"],
            "names": ["other.example.internal"],
            "variable_hint": "Fix certificates_cert.",
        },
    )
    assert code == 1
    assert out["usable"] is False
    assert "does not cover other.example.internal" in out["msg"]
    assert out["msg"].endswith("Fix certificates_cert.")
    assert "BEGIN PRIVATE KEY" not in text


def test_report_without_failing(capsys, pki):
    key = _key_pem(ec.generate_private_key(ec.SECP256R1()))
    code, out, _text = run(
        capsys,
        {"certificate": pki["cert"], "private_key": key, "ca": pki["ca"], "names": [FQDN], "fail_on_error": False},
    )
    assert code == 0
    assert out["usable"] is False and out["needs_renewal"] is True
    assert any("does not match" in e for e in out["errors"])


def test_expiring_certificate_warns_and_asks_for_renewal(capsys, pki):
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _pem(_cert(FQDN, key, pki["ca_obj"], pki["ca_key"], dns=[FQDN], days=10))
    code, out, _text = run(
        capsys, {"certificate": cert, "private_key": _key_pem(key), "ca": pki["ca"], "names": [FQDN]}
    )
    assert code == 0
    assert out["needs_renewal"] is True
    assert any("under 30 days" in w for w in out["expiry_warnings"])
    assert any("under 30 days" in str(w) for w in out["warnings"])


@pytest.mark.parametrize(
    "args, message",
    [
        ({"certificate": "garbage"}, "holds no PEM certificate"),
        ({"certificate": ""}, "certificate (or certificate_path) is required"),
        ({"ca_path": "/nonexistent/ca.pem", "ca": None}, "cannot read ca_path /nonexistent/ca.pem"),
    ],
)
def test_unreadable_input(capsys, pki, args, message):
    base = {"certificate": pki["cert"], "private_key": pki["key"], "ca": pki["ca"], "names": [FQDN]}
    base.update(args)
    base = {k: v for k, v in base.items() if v is not None}
    code, out, _text = run(capsys, base)
    assert code == 1
    assert message in out["msg"]
