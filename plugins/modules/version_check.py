# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: version_check
short_description: Read the real version of a W&B dependency and check it against a policy
version_added: 0.1.0
description:
  - Reads the version of a component from the running service or the installed binary and compares it with a
    version policy (series, minimum, maximum, recommended).
  - V(mysql) runs the SQL query SELECT VERSION() (plus SHOW VARIABLES LIKE 'aurora_version' to recognise Amazon Aurora)
    with PyMySQL when it is importable on the target, otherwise with the C(mysql) command line client.
    MariaDB and TiDB are always rejected, whatever the policy says.
  - V(redis) speaks the Redis protocol over a plain or TLS socket (C(AUTH), then C(INFO server)).
  - V(kubernetes) reads C(gitVersion) from the C(/version) endpoint of the API server.
  - V(helm) runs C(helm version --template '{{.Version}}') (falling back to C(helm version --short)).
  - V(minio) runs C(minio --version). Source builds report C(DEVELOPMENT.<timestamp>) and are treated as a
    release of that date (see O(allow_development)).
  - V(os) reads C(/etc/os-release).
  - When O(version) is given nothing is probed and only the policy is evaluated.
  - Falling below O(recommended) emits a warning, not a failure.
  - Never changes anything on the host.
options:
  component:
    description:
      - The component to check.
    type: str
    required: true
    choices: [mysql, redis, kubernetes, helm, minio, os]
  version:
    description:
      - A version that is already known. When set, nothing is probed.
      - Use the component's own notation, for example V(8.0.44), V(8.0.mysql_aurora.3.05.2), V(v1.34.1+k3s1),
        V(RELEASE.2025-09-07T16-13-09Z).
      - For O(component=os) use C(ID:VERSION_ID) such as V(debian:12) or V(ubuntu:24.04), or C(ID:CODENAME) such as
        V(debian:forky/sid) for a release without C(VERSION_ID).
    type: str
  minimum:
    description:
      - The lowest accepted version (inclusive), in the component's notation.
      - For V(minio), a release tag such as V(RELEASE.2025-04-22T22-12-26Z) or a date V(2025-04-22).
      - Not applied to Amazon Aurora (which is checked with O(aurora_minimum)) nor to unversioned OS releases.
    type: str
  recommended:
    description:
      - Versions below this one pass with a warning and RV(meets_recommended=false).
    type: str
  maximum_exclusive:
    description:
      - Versions equal to or above this one fail, for example V(9.0) to keep MySQL below 9.
    type: str
  series:
    description:
      - The version must belong to one of these series, compared part by part from the left, so V(8.0) accepts
        V(8.0.44) but not V(8.4.6), and V(3) accepts any Helm 3 release.
    type: list
    elements: str
  aurora_minimum:
    description:
      - The lowest accepted Amazon Aurora MySQL version, used instead of O(minimum) and O(recommended) when the server
        is Aurora (C(8.0.mysql_aurora.3.05.2) form).
    type: str
    default: 3.05.2
  allow_development:
    description:
      - For O(component=minio), accept C(DEVELOPMENT.<timestamp>) source builds. They are compared by their build
        timestamp and reported with RV(development_build=true).
      - A C(DEVELOPMENT.GOGET) build has no date and fails when O(minimum), O(maximum_exclusive) or O(recommended)
        is set.
    type: bool
    default: true
  os_allowed:
    description:
      - For O(component=os), the accepted operating systems.
      - Each entry is a string C(ID), C(ID:VERSION) or C(ID:CODENAME) (V(debian:12), V(ubuntu:24.04),
        V(debian:bookworm), V(debian)) or a dict with key C(id) and C(version) or C(versions).
      - A version matches by series, so V(debian:12) accepts C(VERSION_ID) V(12). An entry with only an ID accepts
        every versioned release of that OS.
      - An empty list accepts any OS (the other policy options still apply).
    type: list
    elements: raw
  os_allow_unversioned:
    description:
      - For O(component=os), accept a release without C(VERSION_ID) (Debian testing or sid) when its ID is in
        O(os_allowed). An entry naming the codename, V(sid) or V(testing) accepts it as well.
    type: bool
    default: false
  policy_hint:
    description:
      - A sentence appended to the failure message that tells the user what to change, for example
        V(Set mysql_version or preflight_version_policy.mysql.).
    type: str
  login_host:
    description:
      - Host of the MySQL or Redis server.
      - Defaults to the MySQL client default (C(localhost)) for V(mysql) and to V(127.0.0.1) for V(redis).
    type: str
  login_port:
    description:
      - Port of the MySQL or Redis server. Defaults to V(3306) for V(mysql) and V(6379) for V(redis).
    type: int
  login_user:
    description:
      - MySQL user, or Redis ACL user (used with O(login_password) in C(AUTH)).
    type: str
  login_password:
    description:
      - MySQL or Redis password. Never returned nor shown in messages.
    type: str
  login_unix_socket:
    description:
      - For V(mysql), the path of the server's unix socket.
    type: path
  mysql_binary:
    description:
      - The MySQL command line client used when PyMySQL is not importable on the target (or failed). A name looked up
        in E(PATH), or an absolute path.
    type: str
    default: mysql
  tls:
    description:
      - For V(redis), connect with TLS.
    type: bool
    default: false
  ca_cert:
    description:
      - CA bundle that signs the server certificate (V(redis) with O(tls=true), V(kubernetes)).
    type: path
    aliases: [ca_path]
  validate_certs:
    description:
      - Verify the server certificate (V(redis) with O(tls=true), V(kubernetes)).
    type: bool
    default: true
  client_cert:
    description:
      - Client certificate (PEM) for mutual TLS (V(redis), V(kubernetes)).
    type: path
  client_key:
    description:
      - Private key (PEM) of O(client_cert).
    type: path
  api_url:
    description:
      - For V(kubernetes), the API server URL, for example V(https://127.0.0.1:6443). Required to probe Kubernetes.
    type: str
  api_key:
    description:
      - For V(kubernetes), a bearer token. The C(/version) endpoint is usually readable anonymously.
    type: str
  kubeconfig:
    description:
      - For V(kubernetes), a kubeconfig on the target to take the API server URL, its CA and the credentials from
        (client certificate and key, or a bearer token), instead of O(api_url), O(ca_cert), O(client_cert),
        O(client_key) and O(api_key).
      - Reading a YAML kubeconfig needs PyYAML on the target (JSON kubeconfigs do not). Contexts whose user
        authenticates with an exec plugin or an auth provider are probed anonymously.
    type: path
  kube_context:
    description: For O(kubeconfig), the context to use instead of its current-context.
    type: str
  binary:
    description:
      - For V(helm) and V(minio), the binary to run, a name looked up in E(PATH) (plus C(/usr/local/bin)) or an
        absolute path. Defaults to the component name.
    type: str
  timeout:
    description:
      - Connection timeout in seconds for V(mysql), V(redis) and V(kubernetes).
    type: int
    default: 5
extends_documentation_fragment:
  - onprem.wandb.attributes
  - onprem.wandb.attributes.no_diff
requirements:
  - For O(component=mysql), either PyMySQL (C(python3-pymysql)) on the target or a C(mysql) client binary.
notes:
  - Probes are read-only, so the module runs unchanged in check mode.
  - Secrets are passed to the C(mysql) client through a temporary C(0600) C(--defaults-extra-file), never on the
    command line, and are masked in every message.
seealso:
  - module: onprem.wandb.arch_check
author:
  - onprem.wandb maintainers (@onprem-wandb)
"""

EXAMPLES = r"""
- name: Check the MySQL server W&B will use
  onprem.wandb.version_check:
    component: mysql
    login_host: 10.0.0.5
    login_user: wandb
    login_password: "{{ mysql_password }}"
    series: ['8.0', '8.4']
    minimum: 8.0.32
    recommended: 8.0.44
    policy_hint: Set mysql_version or preflight_version_policy.mysql.

- name: Check Redis over TLS with an ACL user
  onprem.wandb.version_check:
    component: redis
    login_host: redis.example.internal
    login_port: 6380
    login_user: wandb
    login_password: "{{ redis_password }}"
    tls: true
    ca_cert: /etc/ssl/certs/internal-ca.pem
    minimum: 7.0.0
    maximum_exclusive: '8.0'

- name: Check the Kubernetes API server of a local k3s
  onprem.wandb.version_check:
    component: kubernetes
    api_url: https://127.0.0.1:6443
    ca_cert: /var/lib/rancher/k3s/server/tls/server-ca.crt
    minimum: '1.30'

- name: Check helm and minio binaries
  onprem.wandb.version_check:
    component: "{{ item.component }}"
    binary: "{{ item.binary }}"
    minimum: "{{ item.minimum }}"
  loop:
    - {component: helm, binary: helm, minimum: 3.14.0}
    - {component: minio, binary: /usr/local/bin/minio, minimum: RELEASE.2025-04-22T22-12-26Z}

- name: Check the API server a kubeconfig points at
  onprem.wandb.version_check:
    component: kubernetes
    kubeconfig: /root/.kube/config
    minimum: 1.34.0

- name: Check the operating system (accept Debian testing/sid in a lab)
  onprem.wandb.version_check:
    component: os
    os_allowed: ['debian:12', 'debian:13', 'ubuntu:22.04', 'ubuntu:24.04']
    os_allow_unversioned: true

- name: Evaluate a known version without probing
  onprem.wandb.version_check:
    component: kubernetes
    version: "{{ k8s_version }}"
    series: ['1.33', '1.34']
  register: k8s_check
"""

RETURN = r"""
component:
  description: The checked component.
  returned: always
  type: str
  sample: mysql
version:
  description:
    - The normalised version (no leading V(v), no distribution suffix).
    - V(8.0.mysql_aurora.3.05.2) for Aurora, the release tag for MinIO, C(VERSION_ID) (or the codename of an
      unversioned release) for the OS.
  returned: when a version was read
  type: str
  sample: 8.0.44
raw:
  description: The version string as reported by the component (or given in O(version)).
  returned: when a version was read
  type: str
  sample: 8.0.44-0ubuntu0.24.04.1
flavor:
  description:
    - The product behind the version. V(mysql), V(aurora), V(mariadb), V(tidb) for O(component=mysql);
      V(redis) or V(valkey); V(kubernetes), V(k3s), V(rke2), V(k0s), V(eks), V(gke), V(aks), V(microk8s);
      V(helm); V(minio); the os-release C(ID) for O(component=os).
  returned: when a version was read
  type: str
  sample: mysql
series:
  description: The C(major.minor) series (the year for MinIO, C(VERSION_ID) for the OS, empty when unknown).
  returned: when a version was read
  type: str
  sample: '8.0'
prerelease:
  description: Pre-release tag (V(alpha.0) for Kubernetes, V(rc.1) for Helm, V(unstable) for Redis 255.255.255).
  returned: when a version was read
  type: str
  sample: ''
build:
  description: Build or vendor suffix that does not affect ordering (V(k3s1), V(eks-a737599), V(g3d8990f)).
  returned: when a version was read
  type: str
  sample: 0ubuntu0.24.04.1
development_build:
  description: True for MinIO C(DEVELOPMENT.*) source builds.
  returned: when a version was read
  type: bool
  sample: false
meets_recommended:
  description:
    - False when O(recommended) is set and the version is below it; when the policy is otherwise met a warning is
      emitted as well.
    - True when no recommendation applies (none set, Aurora, undated MinIO build, unversioned OS).
  returned: when a version was read
  type: bool
  sample: true
aurora_version:
  description: The Amazon Aurora MySQL version.
  returned: when O(component=mysql) and the server is Aurora
  type: str
  sample: 3.05.2
os_id:
  description: The C(ID) of os-release.
  returned: when O(component=os)
  type: str
  sample: debian
os_codename:
  description: The C(VERSION_CODENAME) of os-release (for Debian sid, the codename of the next release).
  returned: when O(component=os)
  type: str
  sample: bookworm
os_pretty_name:
  description: The C(PRETTY_NAME) of os-release.
  returned: when O(component=os)
  type: str
  sample: Debian GNU/Linux 12 (bookworm)
source:
  description: Where the version was read, for example C(10.0.0.5:3306), C(/usr/local/bin/helm),
    C(/etc/os-release) or C(version option).
  returned: when a version was read
  type: str
  sample: 10.0.0.5:3306
policy:
  description: The normalised policy that was applied.
  returned: always
  type: dict
  contains:
    minimum:
      description: O(minimum).
      type: str
    recommended:
      description: O(recommended).
      type: str
    maximum_exclusive:
      description: O(maximum_exclusive).
      type: str
    series:
      description: O(series).
      type: list
      elements: str
    aurora_minimum:
      description: O(aurora_minimum).
      type: str
    allow_development:
      description: O(allow_development).
      type: bool
    os_allowed:
      description: O(os_allowed), normalised to C(ID) or C(ID:VERSION) strings.
      type: list
      elements: str
    os_allow_unversioned:
      description: O(os_allow_unversioned).
      type: bool
  sample:
    minimum: 8.0.32
    recommended: 8.0.44
    maximum_exclusive: null
    series: ['8.0']
    aurora_minimum: 3.05.2
    allow_development: true
    os_allowed: []
    os_allow_unversioned: false
errors:
  description: The policy violations (empty on success).
  returned: when a version was read
  type: list
  elements: str
  sample: []
msg:
  description: What was found, where, and the verdict. On failure it also states what is required and what to do.
  returned: always
  type: str
  sample: >-
    mysql 9.7.4 found on 10.0.0.5:3306; required: series 8.0, minimum 8.0.32 (recommended 8.0.44).
    9.7.4 is not in series 8.0. Set mysql_version or preflight_version_policy.mysql.
"""

import os  # noqa: E402 - ansible modules import after their documentation

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.onprem.wandb.plugins.module_utils import kubeconfig, probes, versions  # noqa: E402

try:
    import pymysql
except ImportError:
    pymysql = None

DEFAULT_PORTS = {"mysql": 3306, "redis": 6379}
EXTRA_BIN_DIRS = ["/usr/local/bin"]


def _find_binary(module, name):
    if os.path.isabs(name):
        return name if os.path.isfile(name) and os.access(name, os.X_OK) else None
    return module.get_bin_path(name, opt_dirs=EXTRA_BIN_DIRS)


def _probe_mysql(module):
    p = module.params
    host = p["login_host"]
    port = p["login_port"] or DEFAULT_PORTS["mysql"]
    where = p["login_unix_socket"] or "{}:{}".format(host or "localhost", port)
    creds = {
        "host": host,
        "port": port,
        "user": p["login_user"],
        "password": p["login_password"],
        "unix_socket": p["login_unix_socket"],
        "timeout": p["timeout"],
    }
    failures = []
    if pymysql is not None:
        try:
            return probes.probe_mysql_pymysql(pymysql, **creds), where
        except probes.ProbeError as exc:
            failures.append(f"PyMySQL: {exc}")
    binary = _find_binary(module, p["mysql_binary"])
    if binary is None:
        if not failures:
            failures.append(
                "neither PyMySQL nor the {} client is available on the host; install python3-pymysql (or a MySQL "
                "client), or pass the version option".format(p["mysql_binary"])
            )
        raise probes.ProbeError("; ".join(failures))
    try:
        return probes.probe_mysql_client(module.run_command, binary, tmpdir=module.tmpdir, **creds), where
    except probes.ProbeError as exc:
        failures.append(f"{exc}")
        raise probes.ProbeError("; ".join(failures)) from None


def _kube_connection(module):
    """probe_kubernetes arguments from the kubeconfig option; data blobs go to private files."""
    p = module.params
    path = p["kubeconfig"]
    where = f"kubeconfig {path}"
    try:
        with open(path, encoding="utf-8") as fh:
            config = kubeconfig.parse(fh.read())
        conn = kubeconfig.connection(config, p["kube_context"], base_dir=os.path.dirname(path))
    except OSError as exc:
        raise probes.ProbeError(f"cannot read {where}: {exc.strerror} (set wandb_kubeconfig)") from None
    except kubeconfig.KubeconfigError as exc:
        raise probes.ProbeError(f"{where}: {exc}") from None

    def blob(name, data):
        target = os.path.join(module.tmpdir, name)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return target

    token = conn.get("token")
    if conn.get("token_file"):
        try:
            with open(conn["token_file"], encoding="utf-8") as fh:
                token = fh.read().strip()
        except OSError as exc:
            raise probes.ProbeError(f"{where}: cannot read tokenFile {conn['token_file']}: {exc.strerror}") from None
    if token:
        module.no_log_values.add(token)
    return {
        "api_url": conn["server"],
        "api_key": token,
        "ca_cert": blob("ca.crt", conn["ca_data"]) if "ca_data" in conn else conn.get("ca_file"),
        "validate_certs": not conn["insecure"] and p["validate_certs"],
        "client_cert": blob("client.crt", conn["client_cert_data"])
        if "client_cert_data" in conn
        else conn.get("client_cert_file"),
        "client_key": blob("client.key", conn["client_key_data"])
        if "client_key_data" in conn
        else conn.get("client_key_file"),
    }


def _probe(module, component):
    """Return (raw version, source, probe details)."""
    p = module.params
    if component == "mysql":
        data, where = _probe_mysql(module)
        return data["raw"], where, data
    if component == "redis":
        host = p["login_host"] or "127.0.0.1"
        port = p["login_port"] or DEFAULT_PORTS["redis"]
        data = probes.probe_redis(
            host=host,
            port=port,
            password=p["login_password"],
            user=p["login_user"],
            tls=p["tls"],
            ca_cert=p["ca_cert"],
            validate_certs=p["validate_certs"],
            client_cert=p["client_cert"],
            client_key=p["client_key"],
            timeout=p["timeout"],
        )
        return data["raw"], f"{host}:{port}", data
    if component == "kubernetes":
        conn = _kube_connection(module) if p["kubeconfig"] else None
        if conn is None and not p["api_url"]:
            raise probes.ProbeError(
                "api_url or kubeconfig is required to probe kubernetes (or pass the version option)"
            )
        conn = conn or {
            "api_url": p["api_url"],
            "api_key": p["api_key"],
            "ca_cert": p["ca_cert"],
            "validate_certs": p["validate_certs"],
            "client_cert": p["client_cert"],
            "client_key": p["client_key"],
        }
        data = probes.probe_kubernetes(timeout=p["timeout"], **conn)
        return data["raw"], conn["api_url"], data
    if component in ("helm", "minio"):
        name = p["binary"] or component
        binary = _find_binary(module, name)
        if binary is None:
            raise probes.ProbeError(
                f"{component} binary {name} not found on the host (set binary to its path, or pass the version option)"
            )
        probe = probes.probe_helm if component == "helm" else probes.probe_minio
        data = probe(module.run_command, binary)
        return data["raw"], binary, data
    path, text = probes.read_os_release()
    return text, path, {"os_release": versions.parse_os_release(text)}


def main():
    module = AnsibleModule(
        argument_spec={
            "component": {"type": "str", "required": True, "choices": list(versions.COMPONENTS)},
            "version": {"type": "str"},
            "minimum": {"type": "str"},
            "recommended": {"type": "str"},
            "maximum_exclusive": {"type": "str"},
            "series": {"type": "list", "elements": "str"},
            "aurora_minimum": {"type": "str", "default": versions.DEFAULT_AURORA_MINIMUM},
            "allow_development": {"type": "bool", "default": True},
            "os_allowed": {"type": "list", "elements": "raw"},
            "os_allow_unversioned": {"type": "bool", "default": False},
            "policy_hint": {"type": "str"},
            "login_host": {"type": "str"},
            "login_port": {"type": "int"},
            "login_user": {"type": "str"},
            "login_password": {"type": "str", "no_log": True},
            "login_unix_socket": {"type": "path"},
            "mysql_binary": {"type": "str", "default": "mysql"},
            "tls": {"type": "bool", "default": False},
            "ca_cert": {"type": "path", "aliases": ["ca_path"]},
            "validate_certs": {"type": "bool", "default": True},
            "client_cert": {"type": "path"},
            "client_key": {"type": "path", "no_log": False},
            "api_url": {"type": "str"},
            "api_key": {"type": "str", "no_log": True},
            "kubeconfig": {"type": "path"},
            "kube_context": {"type": "str"},
            "binary": {"type": "str"},
            "timeout": {"type": "int", "default": 5},
        },
        supports_check_mode=True,
    )
    p = module.params
    component = p["component"]
    secrets = [p["login_password"], p["api_key"]]

    try:
        policy = versions.normalize_policy(
            component,
            minimum=p["minimum"],
            recommended=p["recommended"],
            maximum_exclusive=p["maximum_exclusive"],
            series=p["series"],
            aurora_minimum=p["aurora_minimum"],
            allow_development=p["allow_development"],
            os_allowed=p["os_allowed"],
            os_allow_unversioned=p["os_allow_unversioned"],
        )
    except versions.VersionError as exc:
        module.fail_json(
            msg=f"Invalid version policy for {component}: {exc}",
            component=component,
            changed=False,
        )

    result = {"changed": False, "component": component, "policy": policy}

    details = {}
    if p["version"]:
        raw = p["version"]
        source = "version option"
        where = "given in the version option"
    else:
        try:
            raw, source, details = _probe(module, component)
        except probes.ProbeError as exc:
            module.fail_json(
                msg=versions.mask_secrets(f"Could not read the {component} version: {exc}", secrets),
                **result,
            )
        preposition = "at" if component in ("helm", "minio", "os") else "on"
        where = f"found {preposition} {source}"

    try:
        if component == "os" and not p["version"]:
            parsed = versions.os_version_from_release(details["os_release"])
            raw = parsed.raw
        else:
            parsed = versions.parse_version(component, raw)
            if details.get("flavor"):
                parsed.flavor = details["flavor"]
    except versions.VersionError as exc:
        result.update(raw=raw, source=source)
        module.fail_json(
            msg=versions.mask_secrets(f"Could not parse the {component} version {where}: {exc}", secrets),
            **result,
        )

    ok, errors, warnings = versions.evaluate_policy(parsed, policy)
    for warning in warnings:
        module.warn(warning)

    result.update(
        version=parsed.normalized,
        raw=parsed.raw,
        flavor=parsed.flavor,
        series=parsed.series,
        prerelease=parsed.prerelease,
        build=parsed.build,
        development_build=parsed.development,
        meets_recommended=versions.meets_recommended(parsed, policy),
        source=source,
        errors=errors,
        msg=versions.mask_secrets(versions.format_result(parsed, where, policy, errors, p["policy_hint"]), secrets),
    )
    if parsed.flavor == "aurora":
        result["aurora_version"] = parsed.extra.get("aurora_version")
    if component == "os":
        result.update(
            os_id=parsed.extra.get("os_id"),
            os_codename=parsed.extra.get("os_codename"),
            os_pretty_name=parsed.extra.get("os_pretty_name"),
        )

    if not ok:
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
