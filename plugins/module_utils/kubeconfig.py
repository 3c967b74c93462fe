# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Read the connection of one context out of a kubeconfig (pure functions).

Covers what admin kubeconfigs of kubeadm, k3s, RKE2 and kubespray hold: a
server URL, the CA (file or data), client certificate and key (file or data),
a bearer token (inline or file), insecure-skip-tls-verify. Exec plugins and
auth providers are reported as unsupported here (kubernetes.core handles them).
"""

from __future__ import annotations

import base64
import json
import os

try:
    import yaml
except ImportError:  # pragma: no cover - JSON kubeconfigs still work
    yaml = None


class KubeconfigError(Exception):
    """The kubeconfig cannot give a connection; the message says why."""


def parse(text):
    """The kubeconfig TEXT as a dict (YAML, or JSON when PyYAML is missing)."""
    try:
        data = yaml.safe_load(text) if yaml is not None else json.loads(text)
    except ValueError as exc:
        raise KubeconfigError(f"not valid JSON (PyYAML is not installed for YAML): {exc}") from None
    except Exception as exc:  # noqa: BLE001 - yaml.YAMLError and friends
        raise KubeconfigError(f"not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise KubeconfigError("not a kubeconfig (the top level is not a mapping)")
    return data


def _named(items, name, what):
    for item in items or []:
        if isinstance(item, dict) and item.get("name") == name:
            return item.get(what) or {}
    return None


def _decode(value, what):
    try:
        return base64.b64decode(value, validate=False)
    except (ValueError, TypeError):
        raise KubeconfigError(f"{what} is not valid base64") from None


def connection(config, context=None, base_dir=""):
    """The connection settings of CONTEXT (default: current-context).

    Returns a dict with server, context, cluster, user, insecure and, when
    set: ca_data / ca_file, client_cert_data / client_cert_file,
    client_key_data / client_key_file, token. Relative file paths are
    resolved against BASE_DIR (the kubeconfig's directory), as kubectl does.
    """
    contexts = [c.get("name") for c in config.get("contexts") or [] if isinstance(c, dict)]
    name = context or config.get("current-context")
    if not name:
        raise KubeconfigError(
            "no context given and no current-context set (contexts: {})".format(", ".join(contexts) or "none")
        )
    ctx = _named(config.get("contexts"), name, "context")
    if ctx is None:
        raise KubeconfigError("context {} not found (contexts: {})".format(name, ", ".join(contexts) or "none"))
    cluster = _named(config.get("clusters"), ctx.get("cluster"), "cluster")
    if not cluster or not cluster.get("server"):
        raise KubeconfigError(f"context {name} names cluster {ctx.get('cluster')}, which has no server")
    user = _named(config.get("users"), ctx.get("user"), "user") or {}

    def path(value):
        return value if os.path.isabs(value) or not base_dir else os.path.join(base_dir, value)

    out = {
        "context": name,
        "cluster": ctx.get("cluster"),
        "user": ctx.get("user"),
        "server": cluster["server"],
        "insecure": bool(cluster.get("insecure-skip-tls-verify", False)),
    }
    for key, prefix, source in (
        ("certificate-authority", "ca", cluster),
        ("client-certificate", "client_cert", user),
        ("client-key", "client_key", user),
    ):
        if source.get(key + "-data"):
            out[prefix + "_data"] = _decode(source[key + "-data"], key + "-data")
        elif source.get(key):
            out[prefix + "_file"] = path(source[key])
    if user.get("token"):
        out["token"] = user["token"]
    elif user.get("tokenFile"):
        out["token_file"] = path(user["tokenFile"])
    if not any(k in out for k in ("client_cert_data", "client_cert_file", "token", "token_file")):
        if user.get("exec") or user.get("auth-provider"):
            out["unsupported_auth"] = "exec" if user.get("exec") else "auth-provider"
    return out
