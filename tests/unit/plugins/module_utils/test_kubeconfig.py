# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import base64

import pytest
from ansible_collections.onprem.wandb.plugins.module_utils import kubeconfig

CA = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
B64 = base64.b64encode(CA).decode()

ADMIN = f"""
apiVersion: v1
kind: Config
current-context: kubernetes-admin@lab
clusters:
- name: lab
  cluster:
    server: https://10.89.40.60:6443
    certificate-authority-data: {B64}
- name: other
  cluster:
    server: https://other:6443
    certificate-authority: pki/ca.crt
    insecure-skip-tls-verify: true
contexts:
- name: kubernetes-admin@lab
  context: {{cluster: lab, user: admin}}
- name: other
  context: {{cluster: other, user: robot}}
- name: sso
  context: {{cluster: lab, user: sso}}
users:
- name: admin
  user:
    client-certificate-data: {B64}
    client-key-data: {B64}
- name: robot
  user:
    tokenFile: token
- name: sso
  user:
    exec: {{command: kubelogin}}
"""


@pytest.fixture
def config():
    return kubeconfig.parse(ADMIN)


def test_current_context_with_inline_data(config):
    conn = kubeconfig.connection(config)
    assert conn["server"] == "https://10.89.40.60:6443"
    assert conn["context"] == "kubernetes-admin@lab"
    assert conn["ca_data"] == CA
    assert conn["client_cert_data"] == CA and conn["client_key_data"] == CA
    assert conn["insecure"] is False
    assert "token" not in conn and "unsupported_auth" not in conn


def test_named_context_with_relative_files(config):
    conn = kubeconfig.connection(config, "other", base_dir="/root/.kube")
    assert conn["ca_file"] == "/root/.kube/pki/ca.crt"
    assert conn["token_file"] == "/root/.kube/token"
    assert conn["insecure"] is True


def test_exec_plugin_is_reported(config):
    assert kubeconfig.connection(config, "sso")["unsupported_auth"] == "exec"


@pytest.mark.parametrize(
    "text, context, message",
    [
        (ADMIN, "nope", "context nope not found (contexts: kubernetes-admin@lab, other, sso)"),
        ("clusters: []\ncontexts: []\n", None, "no context given and no current-context set (contexts: none)"),
        (
            "current-context: x\ncontexts: [{name: x, context: {cluster: gone, user: u}}]\n",
            None,
            "names cluster gone, which has no server",
        ),
        ("- just\n- a list\n", None, "top level is not a mapping"),
        ("key: [unclosed\n", None, "not valid"),
    ],
)
def test_errors(text, context, message):
    with pytest.raises(kubeconfig.KubeconfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        kubeconfig.connection(kubeconfig.parse(text), context)
