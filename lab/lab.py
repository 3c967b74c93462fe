# SPDX-License-Identifier: GPL-3.0-or-later
"""The onprem.wandb lab: podman containers that behave like hosts.

Hosts, their images, addresses and networks come from an Ansible inventory
(inventories/lab by default, or a Molecule scenario's inventory), so the lab,
the main job and the tests share one description.

Run it as `python3 lab/lab.py COMMAND` (it re-runs itself with the project's .venv):

  lab.py toolchain         install (or reuse) the pinned Go toolchain
  lab.py images            build (or reuse) the base images
  lab.py mirror            build (or reuse) the bundle the lab's mirror hosts serve
  lab.py builds            build (or reuse) the Kubernetes cluster's Go builds
  lab.py up                images + bundle + networks + hosts + mirror, idempotent
  lab.py status            what runs, what is missing; exit 1 when not all up
  lab.py down              remove the hosts and networks (caches are kept)

Every expensive product is cached under $WANDB_LAB_CACHE (default
/var/cache/onprem-wandb), keyed by a hash of its recipe, so a second `up`
takes seconds and a changed recipe rebuilds only what changed.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "plugins" / "plugin_utils"))
import artifacts  # noqa: E402  (the collection's artifact manifest)

CACHE = Path(os.environ.get("WANDB_LAB_CACHE", "/var/cache/onprem-wandb"))
LABEL = "io.onprem-wandb.lab"
DEBIAN_MIRROR = os.environ.get("WANDB_LAB_DEBIAN_MIRROR", "http://deb.debian.org/debian")
ULIMITS = ["--ulimit", "nofile=16384:16384", "--ulimit", "nproc=4096:4096"]

# Base images: what every lab host starts from. python3-apt lets Ansible's apt
# module run without bootstrapping; iproute2 serves socket checks in tests;
# openssh-server and sudo: Ansible reaches a lab host as it reaches a site's,
# over SSH as a non-root user with sudo (prepare_ssh).
BASE_PACKAGES = [
    "systemd",
    "systemd-sysv",
    "dbus",
    "python3",
    "python3-apt",
    "iproute2",
    "ca-certificates",
    "gpg",
    "procps",
    "curl",
    "netbase",
    "openssh-server",
    "sudo",
]
IMAGES = {
    "bookworm": {"suite": "bookworm", "packages": BASE_PACKAGES},
    "sid": {"suite": "sid", "packages": BASE_PACKAGES},
    "trixie": {"suite": "trixie", "packages": BASE_PACKAGES},
    # A lab's mirror host (playbooks/mirror.yml): the web server and the registry, which the
    # mirror role would install from the bundle, are there already (skopeo it installs).
    "mirror": {"suite": "bookworm", "packages": BASE_PACKAGES + ["nginx-light", "docker-registry"]},
    # Kubernetes nodes (lab/k8s.py): Debian's container runtime and CNI plugins.
    "k8s-node": {
        "suite": "bookworm",
        "packages": BASE_PACKAGES + ["containerd", "runc", "containernetworking-plugins", "iptables", "conntrack"],
    },
}
RECIPE_VERSION = "1"
# Images carry no SSH host keys (each host makes its own when sshd first
# starts); Debian's ssh.service only checks them (sshd -t), so it makes them first.
SSH_HOST_KEYS_DROPIN = """[Service]
ExecStartPre=
ExecStartPre=/usr/bin/ssh-keygen -A
ExecStartPre=/usr/sbin/sshd -t
"""

# lab/k8s.py (the lab's Kubernetes cluster) imports this module as `lab`.
sys.modules.setdefault("lab", sys.modules[__name__])
import k8s  # noqa: E402
import wandb_images  # noqa: E402


def log(msg: str) -> None:
    print(f"lab: {msg}", flush=True)


def run(cmd: list[str], check: bool = True, capture: bool = False, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        cmd,
        check=check,
        text=True,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.PIPE if capture else None,
        **kw,
    )


def podman(*args: str, check: bool = True, capture: bool = True) -> subprocess.CompletedProcess:
    return run(["podman", *args], check=check, capture=capture)


def recipe_key(obj) -> str:
    data = json.dumps(obj, sort_keys=True).encode()
    return hashlib.sha256(data).hexdigest()[:12]


# ---------------------------------------------------------------- inventory
def load_inventory(inventory: str) -> dict:
    """Return {host: vars} for every inventory host that has a lab_image."""
    ansible_inventory = str(Path(sys.executable).parent / "ansible-inventory")
    out = run([ansible_inventory, "-i", inventory, "--list"], capture=True).stdout
    data = json.loads(out)
    hostvars = data.get("_meta", {}).get("hostvars", {})
    groups: dict[str, list[str]] = {}

    def walk(group: str) -> list[str]:
        node = data.get(group, {})
        hosts = list(node.get("hosts", []))
        for child in node.get("children", []):
            hosts += walk(child)
        return hosts

    for host in walk("all"):
        groups.setdefault(host, [])
    hosts = {}
    for host in sorted(groups):
        hv = hostvars.get(host, {})
        if "lab_image" not in hv:
            continue
        hosts[host] = hv
    if not hosts:
        sys.exit(f"lab: inventory {inventory} defines no host with lab_image")
    return hosts


def lab_settings(hosts: dict) -> dict:
    first = next(iter(hosts.values()))
    return {
        "name": first.get("lab_name", "wandb-lab"),
        "network": first.get("lab_network", "wandb-lab"),
        "subnet": first.get("lab_subnet", "10.89.40.0/24"),
        "extra_hosts": first.get("lab_extra_hosts", {}),
    }


# ---------------------------------------------------------------- Go toolchain
# Every Go build of the lab uses the toolchain the collection's artifact
# manifest pins (meta/artifacts.yml, toolchains/go: version, URL, sha256) and
# no other: the Go module proxy serves each Go release as the module
# golang.org/toolchain (the zip the go command itself fetches when it switches
# toolchains). scripts/bootstrap installs it (`lab.py toolchain`) under
# CACHE/toolchains, the layout of a Go module cache.
GO = artifacts.resolve(artifacts.manifest(), "toolchains/go")
GO_VERSION = GO["version"]
_GO_MODULE_VERSION = f"v0.0.1-go{GO_VERSION}.linux-amd64"


def go_root() -> Path:
    """Where the pinned toolchain lives: the module's own directory name, as in a Go module cache."""
    return CACHE / "toolchains" / "golang.org" / f"toolchain@{_GO_MODULE_VERSION}"


def ensure_go() -> Path:
    """Download, verify and unpack the pinned Go toolchain unless it is there; return its GOROOT."""
    root = go_root()
    stamp = root / ".sha256"  # written last: the zip this tree was unpacked from, verified
    if (root / "bin" / "go").exists() and stamp.exists() and stamp.read_text().split() == [GO["sha256"]]:
        return root
    url = GO["url"]
    log(f"downloading the Go toolchain go{GO_VERSION} from {url}")
    root.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root.parent) as tmp:
        archive = Path(tmp) / "toolchain.zip"
        digest = hashlib.sha256()
        with urllib.request.urlopen(url, timeout=60) as resp, open(archive, "wb") as fh:
            while chunk := resp.read(1 << 20):
                digest.update(chunk)
                fh.write(chunk)
        if digest.hexdigest() != GO["sha256"]:
            sys.exit(f"lab: {url} has sha256 {digest.hexdigest()}, meta/artifacts.yml pins {GO['sha256']}")
        unpacked = Path(tmp) / "unpacked"
        prefix = f"golang.org/toolchain@{_GO_MODULE_VERSION}/"
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                if not info.filename.startswith(prefix) or ".." in Path(info.filename).parts:
                    sys.exit(f"lab: unexpected path {info.filename!r} in {url}")
                path = Path(zf.extract(info, unpacked))
                # zipfile drops the permissions the archive records (bin/go, pkg/tool/*).
                if not info.is_dir():
                    path.chmod((info.external_attr >> 16) & 0o777 or 0o644)
        old = Path(tmp) / "old"
        if root.exists():
            root.rename(old)
        (unpacked / prefix).rename(root)
        stamp.write_text(GO["sha256"] + "\n")
    return root


def go_env(**extra: str) -> dict[str, str]:
    """The environment of a Go build: the pinned toolchain first on PATH and nothing else
    (GOTOOLCHAIN=local: no switching; GOENV=off: no user settings), its caches in CACHE (an
    empty CACHE is a truly cold build), static binaries without build paths; EXTRA on top."""
    root = ensure_go()
    env = dict(os.environ)
    env.update(
        PATH=f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        GOROOT=str(root),
        GOTOOLCHAIN="local",
        GOENV="off",
        GOPATH=str(CACHE / "go"),
        GOCACHE=str(CACHE / "go" / "buildcache"),
        GOMODCACHE=str(CACHE / "go" / "modcache"),
        # -modcacherw: the module cache stays removable with rm -r, like the rest of CACHE;
        # -buildvcs=false: builds from a directory carry no VCS stamp either.
        GOFLAGS="-trimpath -modcacherw -buildvcs=false",
        CGO_ENABLED="0",
    )
    env.update(extra)
    return env


# ---------------------------------------------------------------- images
def image_ref(name: str) -> str:
    spec = IMAGES[name]
    return f"localhost/onprem-wandb-lab/{name}:{recipe_key([RECIPE_VERSION, spec])}"


def image_exists(ref: str) -> bool:
    return podman("image", "exists", ref, check=False).returncode == 0


@contextlib.contextmanager
def cache_lock(path: Path):
    """Hold the lock file PATH: one builder at a time of a cached product, however many
    labs and scenarios ask for it at once (the others wait, then find it built)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def build_image(name: str) -> str:
    ref = image_ref(name)
    tarball = CACHE / "images" / f"{name}-{ref.rsplit(':', 1)[1]}.tar"
    # podman's copy counts only with the cache's tarball: an empty cache is a cold build.
    if tarball.exists() and image_exists(ref):
        return ref
    with cache_lock(tarball.parent / f".{tarball.name}.lock"):
        if not tarball.exists():
            debootstrap_image(name, ref, tarball)
        log(f"importing {tarball.name}")
        podman("import", "--change", "CMD=/sbin/init", str(tarball), ref)
    return ref


def debootstrap_image(name: str, ref: str, tarball: Path) -> None:
    """TARBALL: the root file system of image NAME, made with debootstrap."""
    spec = IMAGES[name]
    log(f"building image {ref} with debootstrap ({spec['suite']})")
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        rootfs = Path(tmp) / "rootfs"
        run(
            [
                "debootstrap",
                "--variant=minbase",
                "--include=" + ",".join(spec["packages"]),
                spec["suite"],
                str(rootfs),
                DEBIAN_MIRROR,
            ],
            capture=True,
        )
        # Sid's Release file in the frozen archive is past Valid-Until.
        (rootfs / "etc/apt/apt.conf.d/99lab").write_text(
            'Acquire::Check-Valid-Until "false";\nAPT::Install-Recommends "false";\n'
        )
        (rootfs / "etc/hostname").write_text("localhost\n")
        # A lab host must never fetch from the internet behind our back:
        # its only sources are the ones the roles configure (the mirror).
        (rootfs / "etc/apt/sources.list").write_text("")
        # Every host makes its own SSH host keys when it first starts.
        for key in (rootfs / "etc/ssh").glob("ssh_host_*"):
            key.unlink()
        dropin = rootfs / "etc/systemd/system/ssh.service.d/lab-host-keys.conf"
        dropin.parent.mkdir(parents=True, exist_ok=True)
        dropin.write_text(SSH_HOST_KEYS_DROPIN)
        for unit in ("systemd-timesyncd.service", "getty@tty1.service"):
            link = rootfs / "etc/systemd/system" / unit
            if not link.exists():
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to("/dev/null")
        shutil.rmtree(rootfs / "var/lib/apt/lists", ignore_errors=True)
        (rootfs / "var/lib/apt/lists/partial").mkdir(parents=True, exist_ok=True)
        for deb in (rootfs / "var/cache/apt/archives").glob("*.deb"):
            deb.unlink()
        part = tarball.with_suffix(".part")
        run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(part), "."])
        part.rename(tarball)


# ---------------------------------------------------------------- the lab's mirror
# Made as a site makes its own: playbooks/bundle.yml with the lab inventory builds the bundle
# (once for every lab and scenario of this machine, in CACHE/bundle); playbooks/mirror.yml
# against each lab's mirror host serves it (the bundle mounted read-only where a site copies
# it) and runs the registry the cluster pulls from. The lab's own sources are only the lab
# inventory's substitutions (group_vars/all/artifacts.yml): Debian's archive, Go builds, the
# charts kept in shared/artifacts.
LAB_INVENTORY = ROOT / "inventories" / "lab"
# The lab inventory's bundle_dir (group_vars/all/bundle.yml), and where a mirror host finds it
# (the mirror role's mirror_bundle_dir).
BUNDLE = CACHE / "bundle"
BUNDLE_MOUNT = "/var/lib/onprem-wandb/bundle"
# What makes the bundle and what serves it: a change here runs the playbook again.
BUNDLE_INPUTS = ["meta", "playbooks/bundle.yml", "roles", "plugins", "inventories/lab/group_vars"]
MIRROR_INPUTS = ["playbooks/mirror.yml", "roles/mirror", "inventories/lab/group_vars"]
# Kept on a mirror host: the recipe of what it serves.
MIRROR_STAMP = "/var/lib/onprem-wandb/lab-mirror.recipe"


def lab_recipes() -> dict:
    """lab/mirror.yml: what the lab builds beyond a site's artifacts (its cluster, W&B's images)."""
    import yaml  # PyYAML comes with ansible-core in the project's venv

    with open(ROOT / "lab" / "mirror.yml") as fh:
        return yaml.safe_load(fh) or {}


def tree_digest(paths: list[str]) -> str:
    """A digest of the names and contents of every file under PATHS (relative to the checkout)."""
    digest = hashlib.sha256()
    for rel in paths:
        top = ROOT / rel
        for path in sorted([top] if top.is_file() else (p for p in top.rglob("*") if p.is_file())):
            if "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def ansible_playbook(playbook: str, inventory: Path, extra_vars: dict | None = None) -> None:
    """Run PLAYBOOK of this checkout with INVENTORY, as the checkout's own ansible-playbook
    whoever calls lab.py (a Molecule scenario's create step sets ANSIBLE_* and MOLECULE_* for
    its own run). EXTRA_VARS go through a file, never the command line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "MOLECULE_"))}
    env.update(ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), str(ROOT / playbook)]
    start = time.monotonic()
    with tempfile.NamedTemporaryFile("w", suffix=".json", dir=CACHE) as fh:
        if extra_vars:
            json.dump(extra_vars, fh)
            fh.flush()
            cmd += ["-e", f"@{fh.name}"]
        if run(cmd, check=False, cwd=ROOT, env=env).returncode != 0:
            sys.exit(f"lab: {playbook} -i {inventory} failed (its output above)")
    log(f"{playbook}: {time.monotonic() - start:.0f}s")


# LAB ONLY: what the charts render that cannot be had here (no registry is reachable, and they do
# not build from the Go module proxy): cert-manager's (the lab checks its objects without its
# controller), W&B's application images and what the platform chart runs beside them.
UNOBTAINABLE_IMAGES = [
    "cert-manager-.*",
    "wandb-(local|console|megabinary|weave-python)",
    "otel-collector",
    "alpine-k8s",
]


def build_bundle(hosts: dict) -> Path:
    """CACHE/bundle: playbooks/bundle.yml with the lab inventory, run again only when what makes
    it changed (the manifest, the roles and plugins, the lab inventory, the upstream sources).
    For a lab with a cluster, with the images the lab builds (its cluster's, and the W&B ones it
    can make), each from podman's storage here; a lab without one takes the bundle with or
    without them, and never waits for the cluster's builds."""
    recipe = recipe_key([RECIPE_VERSION, tree_digest(BUNDLE_INPUTS), str(artifacts_dir())])
    stamp = CACHE / ".bundle.recipe"  # beside the bundle: SHA256SUMS covers every file in it
    with cache_lock(CACHE / ".bundle.lock"):  # one builder of the bundle and its images at a time
        images = {}
        if k8s.nodes_of(hosts):
            spec = k8s.cluster_spec()
            images = k8s.build_images(spec, k8s.build_binaries(spec)) | wandb_images.build()
        try:
            made = json.loads(stamp.read_text()) if (BUNDLE / "SHA256SUMS").exists() else {}
        except (OSError, ValueError):
            made = {}
        if made.get("recipe") == recipe and (not images or made.get("images") == images):
            return BUNDLE
        log(f"building the lab's bundle in {BUNDLE} with playbooks/bundle.yml")
        extra = {"lab_artifacts": str(artifacts_dir()), "bundle_extra_images": [], "bundle_skip_images": [".*"]}
        if images:
            extra.update(
                lab_image_sources={name: f"containers-storage:{ref}" for name, ref in images.items()},
                # The cluster's own images and the verify probe, which no chart renders.
                bundle_extra_images=sorted(set(images) - {"traefik", "wandb-controller"}),
                bundle_skip_images=UNOBTAINABLE_IMAGES,
            )
        ansible_playbook("playbooks/bundle.yml", LAB_INVENTORY, extra)
        part = stamp.with_name(stamp.name + ".part")  # replaced, never rewritten: caches may share files
        part.write_text(json.dumps({"recipe": recipe, "images": images or None}))
        part.rename(stamp)
    return BUNDLE


def artifacts_dir() -> Path:
    """The upstream sources kept beside the project (shared/artifacts), or WANDB_LAB_ARTIFACTS."""
    if os.environ.get("WANDB_LAB_ARTIFACTS"):
        return Path(os.environ["WANDB_LAB_ARTIFACTS"])
    for parent in ROOT.parents:
        if (parent / "shared" / "artifacts").is_dir():
            return parent / "shared" / "artifacts"
    sys.exit("lab: shared/artifacts (the upstream charts) not found beside the project: set WANDB_LAB_ARTIFACTS")


def mirror_certificate(lab_name: str, name: str, hv: dict) -> Path:
    """The certificate of lab LAB_NAME's mirror host NAME (nginx and the registry) for its names
    and address, signed by the lab CA the cluster's nodes trust (k8s.registry_ca), in
    CACHE/registry/<lab>/tls (the lab inventory's group_vars/wandb_mirror reads it). Made again
    when the names or the CA change."""
    ca = k8s.registry_ca()
    names = [*hv.get("lab_aliases", []), name]
    sans = ",".join([f"DNS:{n}" for n in names] + [f"IP:{hv['lab_ip']}"])
    tls = k8s.registry_dir(lab_name) / "tls"
    recipe = recipe_key([sans, (ca / "ca.crt").read_text()])
    if (tls / ".recipe").exists() and (tls / ".recipe").read_text() == recipe:
        return tls
    tls.mkdir(parents=True, exist_ok=True, mode=0o700)
    with tempfile.TemporaryDirectory(dir=tls) as tmp:
        work = Path(tmp)
        run(
            [
                "openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-subj", f"/CN={names[0]}", "-keyout", str(work / "tls.key"), "-out", str(work / "tls.csr"),
            ],
            capture=True,
        )  # fmt: skip
        (work / "tls.ext").write_text(f"subjectAltName={sans}\nextendedKeyUsage=serverAuth\n")
        run(
            [
                "openssl", "x509", "-req", "-in", str(work / "tls.csr"), "-CA", str(ca / "ca.crt"),
                "-CAkey", str(ca / "ca.key"), "-CAcreateserial", "-days", "825",
                "-extfile", str(work / "tls.ext"), "-out", str(work / "tls.crt"),
            ],
            capture=True,
        )  # fmt: skip
        for file in ("tls.key", "tls.crt"):
            (work / file).rename(tls / file)
        (work / ".recipe").write_text(recipe)
        (work / ".recipe").rename(tls / ".recipe")
    return tls


def serve_mirror(host: str, hv: dict, settings: dict) -> None:
    """playbooks/mirror.yml against the lab's mirror host HOST (group wandb_mirror, the lab
    inventory's group_vars), unless it serves this bundle with this recipe already."""
    import yaml

    name = hv.get("ansible_host", host)
    tls = mirror_certificate(settings["name"], name, hv)
    recipe = recipe_key(
        [RECIPE_VERSION, tree_digest(MIRROR_INPUTS), (BUNDLE / "SHA256SUMS").read_text(), (tls / "tls.crt").read_text()]
    )
    if podman("exec", name, "cat", MIRROR_STAMP, check=False).stdout.strip() == recipe:
        return
    log(f"serving the lab's bundle from {name} with playbooks/mirror.yml")
    with open(LAB_INVENTORY / "hosts.yml") as fh:
        reach = yaml.safe_load(fh)["all"]["children"]["lab"]["vars"]  # how Ansible reaches a lab host
    entry = {"ansible_host": name, "lab_ip": hv["lab_ip"], "lab_name": settings["name"]}
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        inventory = Path(tmp)
        (inventory / "group_vars").symlink_to(LAB_INVENTORY / "group_vars")
        (inventory / "hosts.yml").write_text(
            json.dumps({"all": {"children": {"wandb_mirror": {"hosts": {host: entry}, "vars": reach}}}})
        )
        ansible_playbook("playbooks/mirror.yml", inventory)
    k8s.put_file(name, MIRROR_STAMP, recipe + "\n", "0644")


# ---------------------------------------------------------------- hosts
def container_state(name: str) -> str | None:
    res = podman("container", "inspect", "--format", "{{.State.Status}}", name, check=False)
    if res.returncode != 0:
        return None
    state = res.stdout.strip()
    # After a machine restart podman may still record "running" for a container
    # whose processes are gone; only a working exec proves it is alive.
    if state == "running" and podman("exec", name, "true", check=False).returncode != 0:
        return "dead"
    return state


def remove_container(name: str) -> None:
    # A systemd container can still be shutting down on the first attempt.
    k8s.release(name)
    for _attempt in range(5):
        if podman("rm", "-f", "-v", "-t", "5", name, check=False).returncode == 0 or container_state(name) is None:
            return
        time.sleep(2)
    podman("rm", "-f", "-v", "-t", "5", name)


def container_recipe(name: str) -> str:
    res = podman(
        "container", "inspect", "--format", f'{{{{index .Config.Labels "{LABEL}.recipe"}}}}', name, check=False
    )
    return res.stdout.strip() if res.returncode == 0 else ""


def ensure_network(settings: dict) -> None:
    net = settings["network"]
    if podman("network", "exists", net, check=False).returncode == 0:
        return
    log(f"creating internal network {net} ({settings['subnet']}): no route out, a true air gap")
    podman(
        "network", "create", "--internal", "--subnet", settings["subnet"], "--label", f"{LABEL}={settings['name']}", net
    )


def run_args(host: str, hv: dict, settings: dict, bundle: Path, image: str) -> list[str]:
    name = hv.get("ansible_host", host)
    args = [
        "run",
        "-d",
        "--name",
        name,
        "--hostname",
        hv.get("lab_hostname", host),
        "--network",
        settings["network"],
        "--runtime",
        "runc",
        *ULIMITS,
        "--label",
        f"{LABEL}={settings['name']}",
        "--cap-add",
        "SYS_ADMIN,NET_ADMIN,NET_RAW,SYS_NICE,IPC_LOCK",
    ]
    if hv.get("lab_ip"):
        args += ["--ip", hv["lab_ip"]]
    for alias in hv.get("lab_aliases", []):
        args += ["--network-alias", alias]
    for hname, ip in sorted(settings["extra_hosts"].items()):
        args += ["--add-host", f"{hname}:{ip}"]
    if hv.get("lab_serves_mirror"):
        # The bundle where a site copies it onto its mirror host (read only), and the registry's
        # storage, kept per lab in the cache so that it outlives `down`.
        registry = k8s.registry_storage(settings["name"])
        args += ["-v", f"{bundle}:{BUNDLE_MOUNT}:ro,Z", "-v", f"{registry}:/var/lib/docker-registry:Z"]
    # More directories of this machine, e.g. an air-gap bundle for playbooks/mirror.yml.
    for volume in hv.get("lab_volumes", []):
        Path(volume.split(":", 1)[0]).mkdir(parents=True, exist_ok=True)
        args += ["-v", volume]
    if hv.get("lab_k8s"):
        args += k8s.node_run_args(name)
    elif hv["lab_image"] in ("sid", "trixie"):
        # systemd >= 256 (sid, trixie) needs cgroup v2: give it the host's unified hierarchy.
        args += [
            "--systemd",
            "false",
            "-e",
            "container=podman",
            "-v",
            "/sys/fs/cgroup/unified:/sys/fs/cgroup:rw",
            "--tmpfs",
            "/run",
            "--tmpfs",
            "/run/lock",
            "--tmpfs",
            "/tmp",
            "--stop-signal",
            "SIGRTMIN+3",
        ]
    else:
        args += ["--systemd", "always"]
    return args + [image, "/sbin/init"]


def wait_booted(name: str, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        res = podman("exec", name, "systemctl", "is-system-running", check=False)
        if res.stdout.strip() in ("running", "degraded"):
            return
        time.sleep(0.5)
    sys.exit(f"lab: {name} did not finish booting in {timeout:.0f}s")


# ---------------------------------------------------------------- SSH
# The lab's SSH client key and the host keys of the lab hosts, in the lab cache.
SSH_DIR = CACHE / "ssh"
SSH_KEY = SSH_DIR / "id_ed25519"
KNOWN_HOSTS = SSH_DIR / "known_hosts"
# Run in a lab host (user name as $1, the client's public key on stdin): the
# user with the key and passwordless sudo; prints the host's public key.
SSH_SETUP = r"""set -eu
user=$1
id -u "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$user"
home=$(getent passwd "$user" | cut -d: -f6)
install -d -m 0700 -o "$user" -g "$user" "$home/.ssh"
cat >"$home/.ssh/authorized_keys.new"
chown "$user:" "$home/.ssh/authorized_keys.new" && chmod 0600 "$home/.ssh/authorized_keys.new"
mv -f "$home/.ssh/authorized_keys.new" "$home/.ssh/authorized_keys"
printf '%s ALL=(ALL:ALL) NOPASSWD: ALL\n' "$user" >/etc/sudoers.d/onprem-wandb-lab
chmod 0440 /etc/sudoers.d/onprem-wandb-lab
systemctl is-active --quiet ssh || systemctl restart ssh
cat /etc/ssh/ssh_host_ed25519_key.pub
"""


def ssh_lock() -> contextlib.AbstractContextManager:
    """Lab runs of several scenarios share the key and known_hosts: one at a time."""
    SSH_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    return cache_lock(SSH_DIR / ".lock")


def ensure_ssh_key() -> str:
    """The lab's SSH client key (made once, kept in the cache); returns its public half."""
    with ssh_lock():
        if not SSH_KEY.exists():
            log(f"creating the lab's SSH key {SSH_KEY}")
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "onprem.wandb lab", "-f", str(SSH_KEY)])
    return SSH_KEY.with_suffix(".pub").read_text()


def prepare_ssh(name: str, hv: dict) -> None:
    """Let Ansible in over SSH as hv's lab_ssh_user, with the lab key and sudo, and record the
    host's key for its lab address in the lab's known_hosts."""
    if not hv.get("lab_ssh_user"):
        return
    if not hv.get("lab_ip"):
        sys.exit(f"lab: {name} needs a lab_ip to be reached over SSH")
    host_key = run(
        ["podman", "exec", "-i", name, "sh", "-c", SSH_SETUP, "sh", hv["lab_ssh_user"]],
        input=ensure_ssh_key(),
        capture=True,
    ).stdout.split()
    entry = f"{hv['lab_ip']} {host_key[0]} {host_key[1]}"
    with ssh_lock():
        lines = KNOWN_HOSTS.read_text().splitlines() if KNOWN_HOSTS.exists() else []
        if entry not in lines:
            kept = [line for line in lines if line.split(" ", 1)[0] != hv["lab_ip"]]
            part = KNOWN_HOSTS.with_suffix(".part")  # replaced, not rewritten: caches may share files
            part.write_text("".join(f"{line}\n" for line in [*kept, entry]))
            part.rename(KNOWN_HOSTS)


def ensure_inotify_instances(minimum: int = 1024) -> None:
    """Every systemd host, containerd and kubelet holds inotify instances, and all lab
    containers are root's: the kernel's default of 128 per user runs out with a few labs
    (kubelet then dies with "inotify_init: too many open files")."""
    path = Path("/proc/sys/fs/inotify/max_user_instances")
    if int(path.read_text()) < minimum:
        log(f"raising fs.inotify.max_user_instances to {minimum}")
        path.write_text(f"{minimum}\n")


def up(args) -> int:
    hosts = load_inventory(args.inventory)
    ensure_inotify_instances()
    settings = lab_settings(hosts)
    for image in sorted({hv["lab_image"] for hv in hosts.values()}):
        build_image(image)
    # The bundle only for a lab with a mirror host (a scenario may serve its own).
    bundle = build_bundle(hosts) if any(hv.get("lab_serves_mirror") for hv in hosts.values()) else BUNDLE
    k8s.prepare(hosts)
    ensure_network(settings)
    for host, hv in hosts.items():
        name = hv.get("ansible_host", host)
        args = run_args(host, hv, settings, bundle, build_image(hv["lab_image"]))
        # The recipe label records how the host was made: a host whose inventory
        # entry (address, aliases, image...) changed since is made again.
        recipe = recipe_key(args)
        args[2:2] = ["--label", f"{LABEL}.recipe={recipe}"]
        state = container_state(name)
        if state is not None and container_recipe(name) != recipe:
            log(f"recreating {name}: its inventory entry changed")
            remove_container(name)
            state = None
        if state == "running":
            continue
        if state is not None and state not in ("created", "configured", "exited", "stopped"):
            # A container left "stopping" or "dead" by a machine restart cannot be started again;
            # recreate it (site.yml converges it again).
            log(f"recreating {name}: it is {state}")
            remove_container(name)
            state = None
        if state is not None:
            podman("start", name)
        else:
            log(f"starting {name} ({hv['lab_image']}{', ' + hv['lab_ip'] if hv.get('lab_ip') else ''})")
            podman(*args)
    for host, hv in hosts.items():
        name = hv.get("ansible_host", host)
        wait_booted(name)
        prepare_ssh(name, hv)
        if hv.get("lab_serves_mirror"):
            serve_mirror(host, hv, settings)
    k8s.up(hosts, settings)
    log(f"up: {len(hosts)} hosts on network {settings['network']}")
    return 0


def down(args) -> int:
    hosts = load_inventory(args.inventory)
    settings = lab_settings(hosts)
    names = [hv.get("ansible_host", h) for h, hv in hosts.items()]
    existing = [n for n in names if container_state(n) is not None]
    for name in existing:
        k8s.release(name)
    if existing:
        podman("rm", "-f", "-v", "-t", "5", *existing)
    if podman("network", "exists", settings["network"], check=False).returncode == 0:
        podman("network", "rm", "-f", settings["network"])
    log(f"down: removed {len(existing)} hosts and network {settings['network']}")
    return 0


def status(args) -> int:
    hosts = load_inventory(args.inventory)
    ok = True
    for host, hv in hosts.items():
        name = hv.get("ansible_host", host)
        state = container_state(name) or "absent"
        ok = ok and state == "running"
        print(f"{host:12} {name:28} {hv['lab_image']:9} {hv.get('lab_ip', ''):15} {state}")
    ok = k8s.status(hosts) and ok
    return 0 if ok else 1


def main() -> int:
    venv_python = ROOT / ".venv" / "bin" / "python"
    if venv_python.exists() and Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        os.execv(str(venv_python), [str(venv_python), *sys.argv])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["toolchain", "images", "mirror", "builds", "up", "down", "status"])
    parser.add_argument("-i", "--inventory", default=str(ROOT / "inventories" / "lab"))
    args = parser.parse_args()
    if args.command == "toolchain":
        ensure_go()
        return 0
    if args.command == "images":
        for name in IMAGES:
            log(f"{build_image(name)}")
        return 0
    if args.command == "builds":  # the cluster's Go builds alone (scripts/test starts them early)
        for name, path in k8s.build_binaries(k8s.cluster_spec()).items():
            log(f"{name}: {path}")
        return 0
    if args.command == "mirror":
        log(f"the lab's bundle is {build_bundle(load_inventory(args.inventory))}")
        return 0
    return {"up": up, "down": down, "status": status}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
