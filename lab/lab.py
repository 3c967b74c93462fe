# SPDX-License-Identifier: GPL-3.0-or-later
"""The onprem.wandb lab: podman containers that behave like hosts.

Hosts, their images, addresses and networks come from an Ansible inventory
(inventories/lab by default, or a Molecule scenario's inventory), so the lab,
the main job and the tests share one description.

Run it as `python3 lab/lab.py COMMAND` (it re-runs itself with the project's .venv):

  lab.py toolchain         install (or reuse) the pinned Go toolchain
  lab.py images            build (or reuse) the base images
  lab.py mirror            build (or reuse) the mirror content
  lab.py builds            build (or reuse) the Kubernetes cluster's Go builds
  lab.py up                images + mirror + networks + hosts, idempotent
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
import gzip
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
    # The mirror also serves the lab's container registry (lab/k8s.py).
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


# ---------------------------------------------------------------- mirror
def load_mirror_manifest() -> dict:
    """lab/mirror.yml, with `files:` from the collection's artifact manifest (meta/artifacts.yml):
    every binary built from Go sources there, pinned by version and sha256 once."""
    import yaml  # PyYAML comes with ansible-core in the project's venv

    with open(ROOT / "lab" / "mirror.yml") as fh:
        data = yaml.safe_load(fh) or {}
    data["files"] = [go_file(name, entry) for name, entry in artifacts.manifest()["files"].items() if entry.get("go")]
    return data


def go_file(name: str, entry: dict) -> dict:
    """A Go-built entry of the artifact manifest as build_file() takes it."""
    return {
        "name": name,
        "module": entry["go"]["module"],
        "version": entry["go"]["version"],
        "binary": entry.get("binary") or name,
        "dest": artifacts.file_path(name, entry).removeprefix("files/"),
        "build_flags": [f"-ldflags={entry['go']['ldflags']}"] if entry["go"].get("ldflags") else [],
        "sha256": (entry.get("sha256") or {}).get("amd64", ""),
    }


def build_mirror() -> Path:
    """Fill CACHE/mirror: signed apt repositories, a files area and a chart repository."""
    with cache_lock(CACHE / ".mirror.lock"):
        return fill_mirror(load_mirror_manifest(), CACHE / "mirror")


def fill_mirror(manifest: dict, mirror: Path) -> Path:
    (mirror / "files").mkdir(parents=True, exist_ok=True)
    keyring = CACHE / "gnupg"
    ensure_signing_key(keyring, mirror)
    for suite, packages in sorted((manifest.get("apt") or {}).items()):
        plain = sorted(p for p in packages if isinstance(p, str))
        build_apt_suite(mirror, keyring, suite, plain + [p for p in packages if not isinstance(p, str)])
    for item in manifest.get("files") or []:
        build_file(mirror, item)
    build_charts(mirror, manifest.get("charts") or [], manifest.get("files") or [])
    return mirror


def gpg(keyring: Path, *args: str, capture: bool = True) -> subprocess.CompletedProcess:
    return run(["gpg", "--homedir", str(keyring), "--batch", "--yes", *args], capture=capture)


def ensure_signing_key(keyring: Path, mirror: Path) -> None:
    pub = mirror / "keys" / "mirror.asc"
    if not (keyring / "ready").exists():
        shutil.rmtree(keyring, ignore_errors=True)
        keyring.mkdir(mode=0o700, parents=True)
        log("creating the lab mirror's signing key")
        gpg(
            keyring,
            "--passphrase",
            "",
            "--quick-gen-key",
            "onprem.wandb lab mirror <mirror@wandb-lab.internal>",
            "ed25519",
            "sign",
            "never",
        )
        (keyring / "ready").write_text("")
    pub.parent.mkdir(parents=True, exist_ok=True)
    exported = gpg(keyring, "--armor", "--export").stdout
    if not pub.exists() or pub.read_text() != exported:
        pub.write_text(exported)


def build_apt_suite(mirror: Path, keyring: Path, suite: str, packages: list) -> None:
    """The signed flat repository of SUITE: PACKAGES (names, or name=version) with what they
    need beyond the base image, resolved in SUITE; a {from: OTHER, packages: [...]} entry is
    resolved with OTHER's packages added (a package the site takes from elsewhere)."""
    repo = mirror / "apt" / suite
    key = recipe_key([RECIPE_VERSION, suite, packages, image_ref(suite)])
    stamp = repo / ".recipe"
    if stamp.exists() and stamp.read_text() == key:
        return
    log(f"downloading {len(packages)} packages with dependencies for apt suite {suite}")
    pool = repo / "pool"
    shutil.rmtree(repo, ignore_errors=True)
    pool.mkdir(parents=True)
    image = build_image(suite)
    # Resolve against the base image itself, so the suite holds exactly what a
    # lab host lacks; the default podman network reaches the Debian archive.
    download = "apt-get install -y -qq --download-only -o Dir::Cache::archives=/pool "
    script = (
        f"echo 'deb {DEBIAN_MIRROR} {suite} main' > /etc/apt/sources.list && "
        "apt-get update -qq && " + download + " ".join(p for p in packages if isinstance(p, str))
    )
    for extra in (p for p in packages if not isinstance(p, str)):
        script += (
            f" && echo 'deb {DEBIAN_MIRROR} {extra['from']} main' >> /etc/apt/sources.list && "
            "apt-get update -qq && " + download + " ".join(extra["packages"])
        )
    podman(
        "run", "--rm", "--runtime", "runc", *ULIMITS, "-v", f"{pool}:/pool:Z", image, "sh", "-c", script, capture=False
    )
    shutil.rmtree(pool / "partial", ignore_errors=True)
    (pool / "lock").unlink(missing_ok=True)
    index_apt_suite(repo, keyring, suite)
    stamp.write_text(key)


def index_apt_suite(repo: Path, keyring: Path, suite: str) -> None:
    packages = run(["dpkg-scanpackages", "--multiversion", "pool", "/dev/null"], capture=True, cwd=repo).stdout
    (repo / "Packages").write_text(packages)
    with gzip.open(repo / "Packages.gz", "wt") as fh:
        fh.write(packages)
    lines = [
        "Origin: onprem-wandb-lab",
        f"Label: onprem-wandb-lab {suite}",
        f"Suite: {suite}",
        f"Codename: {suite}",
        "Architectures: amd64 all",
        "Date: " + time.strftime("%a, %d %b %Y %H:%M:%S UTC", time.gmtime()),
        "SHA256:",
    ]
    for name in ("Packages", "Packages.gz"):
        data = (repo / name).read_bytes()
        lines.append(f" {hashlib.sha256(data).hexdigest()} {len(data)} {name}")
    (repo / "Release").write_text("\n".join(lines) + "\n")
    gpg(keyring, "--clearsign", "-o", str(repo / "InRelease"), str(repo / "Release"))


def build_file(mirror: Path, item: dict) -> None:
    """A binary built from Go sources: go install MODULE@VERSION, kept by version."""
    dest = mirror / "files" / item["dest"]
    if dest.exists():
        return
    gobin = CACHE / "go" / f"{item['name']}-{item['version']}"
    binary = gobin / item["binary"]
    if not binary.exists():
        log(f"building {item['module']}@{item['version']} with Go {GO_VERSION} (cached by version)")
        env = go_env(GOBIN=str(gobin), **item.get("env", {}))
        run(["go", "install", *item.get("build_flags", []), f"{item['module']}@{item['version']}"], env=env)
    digest = hashlib.sha256(binary.read_bytes()).hexdigest()
    if item.get("sha256") and digest != item["sha256"]:
        # The build is reproducible (pinned toolchain, -trimpath, fixed ldflags): another
        # digest means another toolchain or source, never something to serve.
        sys.exit(f"lab: files/{item['name']}: {binary} has sha256 {digest}, meta/artifacts.yml pins {item['sha256']}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(binary, dest)
    (dest.parent / (dest.name + ".sha256")).write_text(f"{digest}  {dest.name}\n")


def artifacts_dir() -> Path:
    """The upstream sources kept beside the project (shared/artifacts), or WANDB_LAB_ARTIFACTS."""
    if os.environ.get("WANDB_LAB_ARTIFACTS"):
        return Path(os.environ["WANDB_LAB_ARTIFACTS"])
    for parent in ROOT.parents:
        if (parent / "shared" / "artifacts").is_dir():
            return parent / "shared" / "artifacts"
    sys.exit("lab: shared/artifacts (the upstream charts) not found beside the project: set WANDB_LAB_ARTIFACTS")


def build_charts(mirror: Path, charts: list[dict], files: list[dict]) -> None:
    """A Helm chart repository under charts/: each chart packaged from its upstream source
    with the mirror's own helm, a .sha256 beside each .tgz, and an index.yaml."""
    if not charts:
        return
    helm = next((mirror / "files" / f["dest"] for f in files if f["name"] == "helm"), None)
    if helm is None or not helm.exists():
        sys.exit("lab: packaging charts needs the mirror's helm (files: name helm in lab/mirror.yml)")
    repo = mirror / "charts"
    repo.mkdir(parents=True, exist_ok=True)
    source_root = artifacts_dir() / "charts"
    for chart in charts:
        source = source_root / chart["source"]
        digest = hashlib.sha256()
        for tree in [source, *(source_root / d for d in chart.get("dependencies", []))]:
            for path in sorted(p for p in tree.rglob("*") if p.is_file()):
                digest.update(str(path.relative_to(tree)).encode() + b"\0" + path.read_bytes())
        tgz = repo / f"{chart['name']}-{chart['version']}.tgz"
        stamp = repo / f".{tgz.name}.recipe"
        key = recipe_key([RECIPE_VERSION, chart, digest.hexdigest()])
        if tgz.exists() and stamp.exists() and stamp.read_text() == key:
            continue
        log(f"packaging chart {chart['name']} {chart['version']} from {source}")
        # helm package stamps the time into the archive: a package is made once
        # per recipe and kept, so its pinned digest stays valid.
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            env = dict(os.environ, HELM_CACHE_HOME=tmp, HELM_CONFIG_HOME=tmp, HELM_DATA_HOME=tmp)
            if chart.get("dependencies"):
                # What `helm dependency build` would fetch, placed under charts/
                # (a copy: the sources stay read-only and untouched).
                work = Path(tmp) / "src" / source.name
                shutil.copytree(source, work)
                for dep in chart["dependencies"]:
                    shutil.copytree(source_root / dep, work / "charts" / Path(dep).name)
                run(["chmod", "-R", "u+w", str(work)])
                source = work
            args = [str(helm), "package", "--version", chart["version"], "-d", tmp, str(source)]
            if chart.get("app_version"):
                args += ["--app-version", chart["app_version"]]
            run(args, capture=True, env=env)
            shutil.move(str(Path(tmp) / tgz.name), tgz)
        (repo / f"{tgz.name}.sha256").write_text(f"{hashlib.sha256(tgz.read_bytes()).hexdigest()}  {tgz.name}\n")
        stamp.write_text(key)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        env = dict(os.environ, HELM_CACHE_HOME=tmp, HELM_CONFIG_HOME=tmp, HELM_DATA_HOME=tmp)
        run([str(helm), "repo", "index", str(repo)], capture=True, env=env)


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


def run_args(host: str, hv: dict, settings: dict, mirror: Path, image: str) -> list[str]:
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
        registry = k8s.registry_storage(settings["name"])
        args += ["-v", f"{mirror}:/srv/mirror:ro,Z", "-v", f"{registry}:/var/lib/docker-registry:Z"]
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


MIRROR_NGINX = """server {
    listen 80 default_server;
    root /srv/mirror;
    autoindex on;
    location / { try_files $uri $uri/ =404; }
}
"""


def configure_mirror_host(name: str) -> None:
    conf = "/etc/nginx/sites-enabled/default"
    current = podman("exec", name, "cat", conf, check=False).stdout
    if current != MIRROR_NGINX:
        with tempfile.NamedTemporaryFile("w", delete=False) as fh:
            fh.write(MIRROR_NGINX)
        podman("cp", fh.name, f"{name}:{conf}")
        os.unlink(fh.name)
        podman("exec", name, "systemctl", "restart", "nginx")


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
    mirror = build_mirror()
    k8s.prepare(hosts)
    ensure_network(settings)
    for host, hv in hosts.items():
        name = hv.get("ansible_host", host)
        args = run_args(host, hv, settings, mirror, build_image(hv["lab_image"]))
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
            configure_mirror_host(name)
            k8s.configure_registry(name, hv)
    k8s.up(hosts, settings)
    wandb_images.publish(hosts)
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
        log(f"mirror content in {build_mirror()}")
        return 0
    return {"up": up, "down": down, "status": status}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
