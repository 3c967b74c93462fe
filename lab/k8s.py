# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab's Kubernetes cluster: a test fixture, not a product feature.

The collection installs onto a site's existing cluster; the lab needs a real one
to prove that. Inventory hosts with `lab_k8s: control-plane` (exactly one) or
`lab_k8s: worker` become its nodes: privileged podman hosts on the lab network
running Debian's containerd, runc and CNI plugins, and the Kubernetes, etcd,
CoreDNS and Traefik the lab builds from the Go module proxy (pinned once, in
lab/mirror.yml `cluster:`; kept by version under $WANDB_LAB_CACHE/go/).

No container registry is reachable here, as at an air-gapped site: the images
the cluster runs are built locally (lab/images/), carried by the lab's bundle
and loaded by playbooks/mirror.yml into the registry on the mirror host (Debian's
docker-registry, HTTPS with a certificate from the lab CA), and the nodes'
containerd pulls from that registry and from nothing else.

lab.py calls in: prepare() before the hosts start (builds), node_run_args() for
a node's container, up() once every host has booted (and the mirror host serves),
status(), and release() before a node is removed.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import ssl
import string
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import lab

HERE = Path(__file__).resolve().parent
NODE_SCRIPTS = HERE / "k8s"  # run inside the nodes, copied to /opt/lab-k8s
IMAGE_SOURCES = HERE / "images"  # lab/images/<name>/Containerfile (+ the lab's Go programs)
NODE_LABEL = f"{lab.LABEL}.k8s"  # marks node containers
IN_NODE = "/opt/lab-k8s"
KUBE_COMMANDS = ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl"]


def cluster_spec() -> dict:
    return lab.lab_recipes()["cluster"]


def nodes_of(hosts: dict) -> dict[str, dict]:
    """The inventory's cluster nodes, the control plane first: {host: vars}."""
    nodes = {h: hv for h, hv in hosts.items() if hv.get("lab_k8s")}
    roles = [hv["lab_k8s"] for hv in nodes.values()]
    if nodes and (roles.count("control-plane") != 1 or set(roles) - {"control-plane", "worker"}):
        sys.exit(f"lab: lab_k8s must be control-plane (exactly one host) or worker, found {sorted(roles)}")
    for host, hv in nodes.items():
        if not hv.get("lab_ip"):
            sys.exit(f"lab: the Kubernetes node {host} needs a fixed lab_ip")
    return dict(sorted(nodes.items(), key=lambda item: item[1]["lab_k8s"] != "control-plane"))


def container(host: str, hv: dict) -> str:
    return hv.get("ansible_host", host)


def node_name(host: str, hv: dict) -> str:
    return hv.get("lab_hostname", host)


# ---------------------------------------------------------------- Go builds
def go_build(name: str, version: str, build: Callable[[Path, dict], None]) -> Path:
    """CACHE/go/NAME-VERSION/, filled once by BUILD(directory, environment) and then kept."""
    out = lab.CACHE / "go" / f"{name}-{version}"
    if out.is_dir():
        return out
    with lab.cache_lock(out.parent / f".{out.name}.lock"):
        if out.is_dir():
            return out
        part = out.with_name(out.name + ".part")
        shutil.rmtree(part, ignore_errors=True)
        part.mkdir()
        lab.log(f"building {name} {version} with Go (kept by version in {out})")
        start = time.monotonic()
        build(part, lab.go_env())  # the pinned toolchain, its caches in the lab cache
        part.rename(out)
        lab.log(f"built {name} {version} in {time.monotonic() - start:.0f}s")
    return out


def go(env: dict, *args: str, cwd: Path | None = None, timed: str = "") -> str:
    start = time.monotonic()
    out = lab.run(["go", *args], env=env, cwd=cwd, capture=True).stdout
    if timed:
        lab.log(f"  {timed}: {time.monotonic() - start:.0f}s")
    return out


def module_dir(env: dict, module: str, version: str) -> dict:
    """Download MODULE@VERSION into the module cache; its `go mod download -json` record."""
    return json.loads(go(env, "mod", "download", "-json", f"{module}@{version}", cwd=lab.CACHE / "go"))


def wrapper_module(
    env: dict, name: str, require: dict[str, str], replace: dict[str, str], imports: list[str], main: str = ""
) -> Path:
    """A module that only requires REQUIRE (with REPLACE) so that the commands IMPORTS build
    with the versions those modules pin: the way to build modules whose own go.mod has
    replace directives, which `go install module@version` refuses. MAIN, when given, is the
    module's own main package instead."""
    src = lab.CACHE / "go" / "src" / name
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    lines = [f"module {name}", "", "go 1.24.0", "", "require ("]
    lines += [f"\t{mod} {ver}" for mod, ver in require.items()] + [")", ""]
    if replace:
        lines += ["replace ("] + [f"\t{mod} => {to}" for mod, to in replace.items()] + [")", ""]
    (src / "go.mod").write_text("\n".join(lines))
    if main:
        (src / "main.go").write_text(main)
    else:
        body = "".join(f'\t_ "{imp}"\n' for imp in imports)
        (src / "tools.go").write_text(f"//go:build tools\n\npackage tools\n\nimport (\n{body})\n")
    go(env, "mod", "tidy", cwd=src, timed="go mod tidy")
    return src


def version_ldflags(packages: list[str], version: str) -> str:
    """-X flags that make Kubernetes report VERSION (as a release build's do)."""
    major, minor = version.lstrip("v").split(".")[:2]
    flags = ["-s", "-w"]
    for pkg in packages:
        for var, value in (
            ("gitVersion", version),
            ("gitMajor", major),
            ("gitMinor", minor),
            ("gitTreeState", "clean"),
            ("gitCommit", f"goproxy-{version}"),
            ("buildDate", "2026-01-01T00:00:00Z"),
        ):
            flags.append(f"-X {pkg}.{var}={value}")
    return " ".join(flags)


def build_kubernetes(version: str) -> Path:
    """kube-apiserver, -controller-manager, -scheduler, kubelet, kube-proxy and kubectl: one
    wrapper module around k8s.io/kubernetes with its staging modules at their v0 twins."""

    def build(out: Path, env: dict) -> None:
        gomod = Path(module_dir(env, "k8s.io/kubernetes", version)["GoMod"]).read_text()
        staging = "v0." + version.split(".", 1)[1]
        replace = {m: f"{m} {staging}" for m in re.findall(r"^\s*(k8s\.io/[a-z0-9-]+) => \./staging", gomod, re.M)}
        imports = [f"k8s.io/kubernetes/cmd/{cmd}" for cmd in KUBE_COMMANDS]
        src = wrapper_module(env, f"k8swrap-{version}", {"k8s.io/kubernetes": version}, replace, imports)
        ldflags = version_ldflags(["k8s.io/component-base/version", "k8s.io/client-go/pkg/version"], version)
        for cmd in KUBE_COMMANDS:
            go(
                env,
                "build",
                "-ldflags",
                ldflags,
                "-o",
                str(out / cmd),
                f"k8s.io/kubernetes/cmd/{cmd}",
                cwd=src,
                timed=cmd,
            )

    return go_build("kubernetes", version, build)


def build_etcd(version: str) -> Path:
    def build(out: Path, env: dict) -> None:
        module = "go.etcd.io/etcd/server/v3"
        src = wrapper_module(env, f"etcdwrap-{version}", {module: version}, {}, [module])
        ldflags = f"-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=goproxy-{version}"
        go(env, "build", "-ldflags", ldflags, "-o", str(out / "etcd"), module, cwd=src, timed="etcd")

    return go_build("etcd", version, build)


COREDNS_MAIN = """\
// CoreDNS with only the plugins the lab needs (written by lab/k8s.py).
package main

import (
\t"github.com/coredns/coredns/core/dnsserver"
\t"github.com/coredns/coredns/coremain"
%(imports)s)

func init() {
\t// CoreDNS's own plugin order, less the plugins not built in.
\tbuilt := map[string]bool{%(names)s}
\tvar directives []string
\tfor _, d := range dnsserver.Directives {
\t\tif built[d] {
\t\t\tdirectives = append(directives, d)
\t\t}
\t}
\tdnsserver.Directives = directives
}

func main() {
\tcoremain.Run()
}
"""


def build_coredns(version: str, plugins: list[str]) -> Path:
    """CoreDNS with PLUGINS only: its own main package imports every plugin, most of them
    for clouds and backends a cluster's DNS does not need here (and most of its build)."""
    module = "github.com/coredns/coredns"

    def build(out: Path, env: dict) -> None:
        main = COREDNS_MAIN % {
            "imports": "".join(f'\t_ "{module}/plugin/{p}"\n' for p in plugins),
            "names": ", ".join(f'"{p}": true' for p in plugins),
        }
        src = wrapper_module(env, f"corednswrap-{version}", {module: version}, {}, [], main=main)
        ldflags = f"-s -w -X {module}/coremain.GitCommit=goproxy-{version}"
        go(env, "build", "-ldflags", ldflags, "-o", str(out / "coredns"), ".", cwd=src, timed="coredns")

    return go_build("coredns", f"{version}-{lab.recipe_key(plugins)}", build)


def build_traefik(version: str) -> Path:
    """Traefik as the main module (a copy of the module out of the module cache), so that
    its own replace directives apply. Traefik v3.7 cannot build this way: it replaces a
    nested module that the proxy's zip lacks."""

    def build(out: Path, env: dict) -> None:
        module = "github.com/traefik/traefik/v3"
        src = lab.CACHE / "go" / "src" / f"traefik-{version}"
        if not (src / "go.mod").exists():
            shutil.rmtree(src, ignore_errors=True)
            lab.run(["cp", "-r", "--no-preserve=mode", module_dir(env, module, version)["Dir"], str(src)])
        pkg = f"{module}/pkg/version"
        ldflags = f"-s -w -X {pkg}.Version={version} -X {pkg}.Codename=lab"
        go(env, "build", "-ldflags", ldflags, "-o", str(out / "traefik"), "./cmd/traefik", cwd=src, timed="traefik")

    return go_build("traefik", version, build)


def build_lab_programs() -> Path:
    """The lab's own Go programs in lab/images (pause, the stand-in web backend), kept by a
    hash of their sources."""
    sources = sorted(IMAGE_SOURCES.glob("*/*.go")) + [IMAGE_SOURCES / "go.mod"]
    key = lab.recipe_key([[str(p.relative_to(IMAGE_SOURCES)), p.read_text()] for p in sources])

    def build(out: Path, env: dict) -> None:
        for program in sorted({p.parent.name for p in sources if p.suffix == ".go"}):
            go(env, "build", "-ldflags", "-s -w", "-o", str(out / program), f"./{program}", cwd=IMAGE_SOURCES)

    return go_build("lab-programs", key, build)


def build_binaries(spec: dict) -> dict[str, Path]:
    """Every Go build the cluster needs: {name: directory with its binaries}, one per
    component and one per image of spec["images"]."""
    images = {
        "pause": lambda image: build_lab_programs(),
        "web": lambda image: build_lab_programs(),
        "coredns": lambda image: build_coredns(image["version"], image["plugins"]),
        "traefik": lambda image: build_traefik(image["version"]),
    }
    builds = {"kubernetes": build_kubernetes(spec["kubernetes"]), "etcd": build_etcd(spec["etcd"])}
    return builds | {name: images[name](image) for name, image in spec["images"].items()}


# ---------------------------------------------------------------- images
def image_ref(spec: dict, name: str, registry: str = "localhost/onprem-wandb-lab") -> str:
    image = spec["images"][name]
    return f"{registry}/{image['repository']}:{image['version']}"


def build_container_image(
    name: str, containerfile: Path, files: list[Path], build_args: dict | None = None
) -> tuple[str, str]:
    """Build image NAME from CONTAINERFILE with FILES as its context (and BUILD_ARGS), unless
    an image was built from exactly these already; return its local reference and ID. The
    reference's tag is the recipe's hash: labs of other checkouts on this machine never retag
    each other's."""
    stats = [[f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in files]
    args = [f"--build-arg={k}={v}" for k, v in sorted((build_args or {}).items())]
    recipe = lab.recipe_key([containerfile.read_text(), stats] + ([args] if args else []))
    ref = f"localhost/onprem-wandb-lab/{name}-{recipe}"
    if not lab.image_exists(ref):
        lab.log(f"building image {ref}")
        with tempfile.TemporaryDirectory(dir=lab.CACHE) as context:
            for f in files:
                os.link(f, Path(context) / f.name)
            # --timestamp: the same files make the same image (and digest), whoever builds it.
            lab.podman("build", "-q", "--timestamp", "0", *args, "-f", str(containerfile), "-t", ref, context)
    return ref, lab.podman("image", "inspect", "--format", "{{.Id}}", ref).stdout.strip()


def registry_ca() -> Path:
    """The lab CA that signs the registry's certificate (made once, kept in CACHE)."""
    ca = lab.CACHE / "registry" / "ca"
    if not (ca / "ca.crt").exists():
        ca.mkdir(parents=True, exist_ok=True, mode=0o700)
        lab.run(
            [
                "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-days", "3650", "-subj", "/CN=onprem.wandb lab registry CA",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                "-keyout", str(ca / "ca.key"), "-out", str(ca / "ca.crt"),
            ],
            capture=True,
        )  # fmt: skip
    return ca


def registry_dir(lab_name: str) -> Path:
    """What the registry of lab LAB_NAME keeps in CACHE: its storage (mounted into the mirror
    host, so that it outlives `down`) and the mirror's certificate. One per lab: the registry
    rewrites files in place, which must not reach another lab's (or a hard-linked copy's)."""
    return lab.CACHE / "registry" / lab_name


class Registry:
    """The registry on the mirror host of a lab (playbooks/mirror.yml's, loaded with the bundle's
    images): NAME (host:port) is how the nodes pull, ADDRESS (ip:port) how this machine asks."""

    def __init__(self, hosts: dict):
        mirror = [(h, hv) for h, hv in hosts.items() if hv.get("lab_serves_mirror")]
        if not mirror:
            sys.exit("lab: a Kubernetes cluster needs the mirror host (lab_serves_mirror) for its registry")
        host, hv = mirror[0]
        port = cluster_spec()["registry_port"]
        self.name = f"{(hv.get('lab_aliases') or [container(host, hv)])[0]}:{port}"
        self.address = f"{hv['lab_ip']}:{port}"
        self.ca = registry_ca() / "ca.crt"

    def digest(self, repository: str, tag: str) -> str | None:
        """The digest the registry holds for REPOSITORY:TAG, or None."""
        req = urllib.request.Request(f"https://{self.address}/v2/{repository}/manifests/{tag}", method="HEAD")
        req.add_header(
            "Accept",
            "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json",
        )
        context = ssl.create_default_context(cafile=str(self.ca))
        try:
            with urllib.request.urlopen(req, context=context, timeout=10) as resp:
                return resp.headers.get("Docker-Content-Digest")
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return None
            raise


def build_images(spec: dict, binaries: dict[str, Path]) -> dict[str, str]:
    """Every image of mirror.yml's cluster.images, built here: {name: local reference}. The
    lab's bundle carries them (lab.build_bundle) and its mirror's registry serves them."""
    return {
        name: build_container_image(
            f"{image['repository']}:{image['version']}", IMAGE_SOURCES / name / "Containerfile", [binaries[name] / name]
        )[0]
        for name, image in spec["images"].items()
    }


# ---------------------------------------------------------------- the registry on the mirror host
def registry_storage(lab_name: str) -> Path:
    """Where the registry on lab LAB_NAME's mirror host keeps its blobs."""
    path = registry_dir(lab_name) / "storage"
    path.mkdir(parents=True, exist_ok=True)
    return path


def put_file(name: str, path: str, content: str, mode: str, owner: str = "root:root") -> bool:
    """Write CONTENT to PATH in container NAME unless it is there already; True if written."""
    if lab.podman("exec", name, "cat", path, check=False).stdout == content:
        return False
    script = f'umask 077; mkdir -p "$(dirname {path})"; cat > {path}; chown {owner} {path}; chmod {mode} {path}'
    lab.run(["podman", "exec", "-i", name, "sh", "-c", script], input=content, capture=True)
    return True


# ---------------------------------------------------------------- nodes
def prepare(hosts: dict) -> None:
    """Before the hosts start: the builds the nodes mount (nothing without nodes)."""
    if nodes_of(hosts):
        build_binaries(cluster_spec())


def node_run_args(name: str) -> list[str]:
    """podman run arguments of a node container NAME. cgroup v1 here: a private cgroup
    namespace and podman's systemd mode assembled by hand (its own mode would expose the
    machine's systemd hierarchy; the host's namespace breaks runc's cgroup paths)."""
    spec = cluster_spec()
    return [
        "--privileged",
        "--cgroupns=private",
        "--systemd=false",
        "-e", "container=podman",
        "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp",
        "--stop-signal", "SIGRTMIN+3",
        "--label", f"{NODE_LABEL}=node",
        # containerd's overlayfs cannot stack on the container's own overlay: a volume.
        "-v", "/var/lib/containerd",
        "-v", f"{lab.CACHE / 'go' / ('kubernetes-' + spec['kubernetes'])}:{IN_NODE}/bin:ro",
        "-v", f"{lab.CACHE / 'go' / ('etcd-' + spec['etcd'])}:{IN_NODE}/etcd:ro",
    ]  # fmt: skip


def kubectl(cp: str, *args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess:
    """kubectl as the cluster admin, in the control-plane container CP."""
    cmd = ["podman", "exec", *(["-i"] if stdin is not None else []), cp, f"{IN_NODE}/bin/kubectl", *args]
    return lab.run(cmd, check=check, capture=True, input=stdin)


def cluster_env(settings: dict, spec: dict, registry: Registry, refs: dict) -> dict[str, str]:
    service_net = ipaddress.ip_network(spec["service_cidr"])
    return {
        "CLUSTER": settings["name"],
        "SERVICE_CIDR": spec["service_cidr"],
        "POD_CIDR": spec["pod_cidr"],
        "API_SERVICE_IP": str(service_net[1]),
        "CLUSTER_DNS": str(service_net[10]),
        "GATEWAY": str(ipaddress.ip_network(settings["subnet"])[1]),
        "REGISTRY": registry.name,
        "MIRRORED_REGISTRIES": " ".join(spec["mirrored_registries"]),
        "SANDBOX_IMAGE": refs["pause"],
    }


def env_args(env: dict[str, str]) -> list[str]:
    return [arg for k, v in sorted(env.items()) for arg in ("-e", f"{k}={v}")]


def cgroup_root(name: str) -> str:
    """The kubelet's cgroup root in node container NAME: unique on the machine."""
    return f"/lab-k8s-{name}"


def exec_script(name: str, script: str, args: list[str], env: dict[str, str]) -> str:
    """Run lab/k8s/SCRIPT in container NAME with ENV; its output."""
    cmd = ["podman", "exec", *env_args(env), name, "bash", f"{IN_NODE}/{script}", *args]
    res = lab.run(cmd, check=False, capture=True)
    if res.returncode != 0:
        sys.exit(f"lab: {script} {' '.join(args)} failed in {name}:\n{res.stdout}{res.stderr}")
    return res.stdout


def cluster_recipe(nodes: dict, env: dict, refs: dict) -> str:
    """What the running cluster was made from: nodes, settings, images and node scripts."""
    scripts = {p.name: p.read_text() for p in sorted(NODE_SCRIPTS.iterdir())}
    layout = {h: [hv["lab_k8s"], hv["lab_ip"], container(h, hv)] for h, hv in nodes.items()}
    return lab.recipe_key([layout, env, refs, scripts, cluster_spec()])


def healthy(cp: str, nodes: dict, recipe: str) -> bool:
    """The cluster runs as RECIPE describes: every node Ready, CoreDNS available."""
    if lab.podman("exec", cp, "cat", "/etc/lab-k8s/recipe", check=False).stdout.strip() != recipe:
        return False
    if ready_nodes(cp) != {node_name(h, hv) for h, hv in nodes.items()}:
        return False
    dns = kubectl(cp, "-n", "kube-system", "get", "deploy", "coredns", "-o", "jsonpath={.status.availableReplicas}")
    return dns.stdout.strip() not in ("", "0")


def ready_nodes(cp: str) -> set[str] | None:
    """The names of the Ready nodes; None when the API server does not answer."""
    res = kubectl(cp, "get", "nodes", "-o", "json", check=False)
    if res.returncode != 0:
        return None
    return {
        n["metadata"]["name"]
        for n in json.loads(res.stdout)["items"]
        if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"])
    }


def up(hosts: dict, settings: dict) -> None:
    """Bring the cluster up on the booted node containers (idempotent: a healthy cluster
    made from the same recipe is left alone), then hand its admin kubeconfig to the hosts
    that ask for it (lab_kubeconfig)."""
    nodes = nodes_of(hosts)
    if not nodes:
        return
    start = time.monotonic()
    spec = cluster_spec()
    registry = Registry(hosts)
    refs = {name: image_ref(spec, name, registry.name) for name in spec["images"]}
    images = spec["images"].values()
    missing = [
        f"{i['repository']}:{i['version']}" for i in images if not registry.digest(i["repository"], i["version"])
    ]
    if missing:
        sys.exit(f"lab: the registry {registry.name} lacks {', '.join(missing)}, which the lab's bundle carries")
    env = cluster_env(settings, spec, registry, refs)
    recipe = cluster_recipe(nodes, env, refs)
    cp_host, cp_vars = next(iter(nodes.items()))
    cp = container(cp_host, cp_vars)
    if not healthy(cp, nodes, recipe):
        lab.log(f"setting up Kubernetes {spec['kubernetes']} on {', '.join(nodes)}")
        for host, hv in nodes.items():
            lab.podman("exec", container(host, hv), "mkdir", "-p", IN_NODE, "/etc/lab-k8s", "/etc/kubernetes")
            for script in sorted(NODE_SCRIPTS.glob("*.sh")):
                lab.podman("cp", str(script), f"{container(host, hv)}:{IN_NODE}/{script.name}")
            put_file(container(host, hv), "/etc/lab-k8s/registry-ca.crt", registry.ca.read_text(), "0644")
        lab.log(exec_script(cp, "control-plane.sh", ["up"], dict(env, NODE_IP=cp_vars["lab_ip"])).strip())
        for host, hv in nodes.items():
            name = container(host, hv)
            join_node(cp, name, node_name(host, hv), hv["lab_ip"], env_args(dict(env, NODE_IP=cp_vars["lab_ip"])))
            node_env = dict(env, NODE_NAME=node_name(host, hv), NODE_IP=hv["lab_ip"], CGROUP_ROOT=cgroup_root(name))
            lab.log(exec_script(name, "node.sh", ["up"], node_env).strip())
        route_pod_networks(cp, nodes)
        kubectl(cp, "apply", "-f", "-", stdin=addons(env, refs))
        wait_ready(cp, nodes)
        for host, hv in nodes.items():
            kubectl(
                cp, "label", "--overwrite", "node", node_name(host, hv), f"node-role.kubernetes.io/{hv['lab_k8s']}="
            )
        lab.podman("exec", cp, "sh", "-c", f"echo {recipe} > /etc/lab-k8s/recipe")
    share_kubeconfig(cp, hosts)
    lab.log(f"Kubernetes {spec['kubernetes']}: {len(nodes)} nodes Ready ({time.monotonic() - start:.0f}s)")


def join_node(cp: str, name: str, node: str, ip: str, cp_env: list[str]) -> None:
    """Issue NODE's credentials on the control plane CP and unpack them in container NAME
    (the CA key never leaves the control plane)."""
    issue = subprocess.Popen(
        ["podman", "exec", *cp_env, cp, "bash", f"{IN_NODE}/control-plane.sh", "join", node, ip],
        stdout=subprocess.PIPE,
    )
    unpack = subprocess.run(
        ["podman", "exec", "-i", name, "tar", "-C", "/etc/kubernetes", "--no-same-owner", "-x"],
        stdin=issue.stdout,
        check=False,
    )
    issue.stdout.close()
    if issue.wait() != 0 or unpack.returncode != 0:
        sys.exit(f"lab: could not hand node {node} its credentials from {cp}")


def node_list(cp: str) -> list[dict]:
    return json.loads(kubectl(cp, "get", "nodes", "-o", "json").stdout)["items"]


def route_pod_networks(cp: str, nodes: dict) -> None:
    """Static routes to every other node's pod network (all nodes share one network)."""
    by_name = {}
    for n in node_list(cp):
        ip = next(a["address"] for a in n["status"]["addresses"] if a["type"] == "InternalIP")
        by_name[n["metadata"]["name"]] = (n["spec"].get("podCIDR"), ip)
    for host, hv in nodes.items():
        routes = "".join(
            f"{cidr} {ip}\n" for name, (cidr, ip) in sorted(by_name.items()) if name != node_name(host, hv)
        )
        put_file(container(host, hv), "/etc/lab-k8s/routes", routes, "0644")
        lab.podman("exec", container(host, hv), "/usr/local/sbin/lab-k8s-net")


def addons(env: dict, refs: dict) -> str:
    """The cluster add-ons (CoreDNS), lab/k8s/addons.yaml.tmpl with this cluster's values."""
    template = string.Template((NODE_SCRIPTS / "addons.yaml.tmpl").read_text())
    return template.substitute(cluster_dns=env["CLUSTER_DNS"], coredns_image=refs["coredns"])


def wait_ready(cp: str, nodes: dict, timeout: float = 180) -> None:
    """Wait until every node is Ready and CoreDNS is available."""
    deadline = time.monotonic() + timeout
    want = {node_name(h, hv) for h, hv in nodes.items()}
    while (ready := ready_nodes(cp) or set()) != want:
        if time.monotonic() > deadline:
            sys.exit(f"lab: nodes not Ready after {timeout:.0f}s: {sorted(want - ready)} (journalctl -u kubelet there)")
        time.sleep(1)
    rollout = kubectl(
        cp, "-n", "kube-system", "rollout", "status", "deploy/coredns", f"--timeout={timeout:.0f}s", check=False
    )
    if rollout.returncode != 0:
        pods = kubectl(cp, "-n", "kube-system", "describe", "pods", "-l", "k8s-app=kube-dns", check=False).stdout
        sys.exit(f"lab: CoreDNS is not available:\n{pods[-3000:]}")


def share_kubeconfig(cp: str, hosts: dict) -> None:
    """Copy the admin kubeconfig to every host with lab_kubeconfig (its path), root-only."""
    config = None
    for host, hv in hosts.items():
        if not hv.get("lab_kubeconfig"):
            continue
        if config is None:
            config = lab.podman("exec", cp, "cat", "/etc/kubernetes/admin.conf").stdout
        if put_file(container(host, hv), hv["lab_kubeconfig"], config, "0600"):
            lab.log(f"admin kubeconfig written to {host}:{hv['lab_kubeconfig']}")


def status(hosts: dict) -> bool:
    """Print the cluster's nodes; False when it is not fully up."""
    nodes = nodes_of(hosts)
    if not nodes:
        return True
    cp = container(*next(iter(nodes.items())))
    if lab.container_state(cp) != "running" or (ready := ready_nodes(cp)) is None:
        print(f"kubernetes: the API server does not answer in {cp}")
        return False
    print(kubectl(cp, "get", "nodes", "-o", "wide").stdout.rstrip())
    return ready == {node_name(h, hv) for h, hv in nodes.items()}


def release(name: str) -> None:
    """Before node container NAME is removed: stop its pods, give back their cgroups and
    mounts (in some cgroup v1 hierarchies they are the machine's). Other hosts: nothing."""
    res = lab.podman(
        "container", "inspect", "--format", f'{{{{index .Config.Labels "{NODE_LABEL}"}}}}', name, check=False
    )
    if res.returncode != 0 or not res.stdout.strip() or lab.container_state(name) != "running":
        return
    script = (NODE_SCRIPTS / "node.sh").read_text()
    res = lab.run(
        ["podman", "exec", "-i", *env_args({"CGROUP_ROOT": cgroup_root(name)}), name, "bash", "-s", "release"],
        input=script,
        check=False,
        capture=True,
    )
    if res.returncode != 0:
        lab.log(f"warning: {name} did not release its pods cleanly: {res.stderr.strip()[-500:]}")
