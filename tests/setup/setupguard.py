# SPDX-License-Identifier: GPL-3.0-or-later
"""The setup guard: every program the project runs on this machine must come from a Debian
package that scripts/bootstrap installs (scripts/bootstrap-packages.txt), from Debian's
required packages, from the pinned Go toolchain or from the project's .venv.

A machine that happens to have a tool proves nothing: the guard asks dpkg which package owns
each program (following symlinks and alternatives: iptables -> xtables-nft-multi) and whether
that package is named in the list or pulled in by one named there (Depends and Pre-Depends, as
`apt-get install --no-install-recommends` installs them). What the project runs is read from
its sources: lab/*.py and the Python of the scenarios, tests and benchmarks (argument lists
given to run/Popen/...), the shell scripts (commands in command position), the playbooks
Molecule runs on this machine (command argv) and the Ansible connections in use. What those
programs run in turn (podman -> conmon, runc, netavark -> iptables, aardvark-dns; gpg ->
gpg-agent; debootstrap -> wget, gpgv) cannot be read from the project and is listed below.

  python tests/setup/setupguard.py [--packages FILE]    exit 1 and say why when a check fails
"""

from __future__ import annotations

import argparse
import ast
import functools
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PACKAGES_FILE = ROOT / "scripts" / "bootstrap-packages.txt"
VENV_BIN = ROOT / ".venv" / "bin"

# Programs the project's commands run themselves, and files they read: not visible in the
# project's sources. name -> (who needs it, where it is looked up: None for PATH).
PODMAN_HELPER_DIRS = ["/usr/local/libexec/podman", "/usr/local/lib/podman", "/usr/libexec/podman", "/usr/lib/podman"]
INDIRECT = {
    "conmon": ("podman monitors every container with it", None),
    "runc": ("lab.py starts every container with --runtime runc", None),
    "netavark": ("podman's network backend: the lab's networks", PODMAN_HELPER_DIRS),
    "aardvark-dns": ("netavark runs it for host names on the lab's networks", PODMAN_HELPER_DIRS),
    "iptables": ("netavark writes the networks' NAT and firewall rules with it", None),
    "ip6tables": ("netavark writes the networks' NAT and firewall rules with it", None),
    "gpg-agent": ("gpg runs it to create and use the lab mirror's secret key", None),
    "wget": ("debootstrap downloads the Debian packages with it", None),
    "gpgv": ("debootstrap verifies the Debian archive's Release files with it", None),
    "dpkg-scanpackages": (
        "the apt_bundle module indexes the bundle's apt repositories with it (playbooks/bundle.yml,"
        " which lab.py and molecule/airgap run on this machine)",
        None,
    ),
}
# Ansible connection plugins in use -> the programs they run on the controller.
CONNECTION_PROGRAMS = {
    "containers.podman.podman": ["podman"],
    "podman": ["podman"],
    "ssh": ["ssh", "sftp", "scp"],
    "ansible.builtin.ssh": ["ssh", "sftp", "scp"],
}
# testinfra backends the scenarios' tests use -> the programs they run.
TESTINFRA_PROGRAMS = {"podman://": ["podman"], "ssh://": ["ssh"]}

# Shell words after which the next word is again a command, and how many of their own
# arguments (besides options) to skip first.
SHELL_PREFIXES = {
    "if": 0,
    "then": 0,
    "elif": 0,
    "else": 0,
    "do": 0,
    "while": 0,
    "until": 0,
    "!": 0,
    "time": 0,
    "exec": 0,
    "command": 0,
    "nice": 0,
    "nohup": 0,
    "env": 0,
    "xargs": 0,
    "timeout": 1,
    "flock": 1,
}
SHELL_SKIP = {"case", "for", "select", "function", "local", "declare", "export", "readonly", "[[", "[", "((", "in"}
CALLS_RUNNING_ARGV = {"run", "Popen", "check_output", "check_call", "call"}


@dataclass
class Need:
    """One program (or file) the project needs on this machine."""

    name: str
    why: set[str] = field(default_factory=set)
    search: list[str] | None = None  # directories to look in; None: PATH
    is_file: bool = False


def read_packages(path: Path = PACKAGES_FILE) -> list[str]:
    """The packages named in bootstrap's list (comments and blank lines dropped)."""
    names = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.append(line)
    return names


# ---------------------------------------------------------------- what the project runs
def _lab_module():
    """lab/lab.py, imported as lab/k8s.py imports it."""
    if str(ROOT / "lab") not in sys.path:
        sys.path.insert(0, str(ROOT / "lab"))
    import lab  # noqa: PLC0415 (lab/ is on the path only now)

    return lab


def python_commands(path: Path) -> dict[str, bool]:
    """Commands given as literal argument lists to run/Popen/check_output/... in PATH, each with
    whether every such call passes an environment (env=...: a Go build must pass lab.go_env())."""
    tree = ast.parse(path.read_text(), str(path))
    found: dict[str, bool] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        first = node.args[0]
        if name not in CALLS_RUNNING_ARGV or not isinstance(first, ast.List | ast.Tuple) or not first.elts:
            continue
        head = first.elts[0]
        if isinstance(head, ast.Constant) and isinstance(head.value, str) and "/" not in head.value:
            with_env = any(kw.arg == "env" for kw in node.keywords)
            found[head.value] = found.get(head.value, True) and with_env
    return found


def shell_commands(text: str) -> set[str]:
    """Words in command position in a bash script (quotes dropped, so `bash -c '...'` counts),
    skipping keywords, assignments, variables, the script's own functions and relative paths;
    a function that runs "$@" after `shift`s is a prefix like nice."""
    lines = [re.sub(r"(^|\s)#.*$", "", line) for line in text.splitlines()]
    body = "\n".join(lines)
    functions = set(re.findall(r"^\s*([A-Za-z_][\w-]*)\s*\(\)", body, re.M))
    prefixes = dict(SHELL_PREFIXES)
    for fn in functions:
        m = re.search(rf"^\s*{re.escape(fn)}\s*\(\)\s*\{{(.*?)^\}}", body, re.M | re.S)
        if m and re.search(r'^\s*"\$@"', m.group(1), re.M):
            prefixes[fn] = len(re.findall(r"\bshift\b", m.group(1)))
    found = set()
    flat = body.replace('"', " ").replace("'", " ")
    for segment in re.split(r"\|\||&&|\$\(|<\(|[;|&()`{}\n]", flat):
        words = segment.split()
        i = 0
        while i < len(words):
            w = words[i]
            if re.match(r"^[A-Za-z_]\w*(\[[^]]*\])?\+?=", w) or w.startswith(("<", ">", "2>", "&>")):
                i += 1  # an assignment or a redirection before the command
                continue
            if w in prefixes:
                i += 1
                skip = prefixes[w]
                while i < len(words) and (words[i].startswith("-") or skip > 0):
                    if not words[i].startswith("-"):
                        skip -= 1
                    elif w == "nice" and words[i] == "-n":
                        i += 1
                    i += 1
                continue
            if w == "bash" or w == "sh":
                if i + 1 < len(words) and words[i + 1] == "-c":
                    found.add(w)
                    i += 2
                    continue
            if w in SHELL_SKIP or w in functions or w.startswith(("$", "-", "[", "(", "{")) or "/" in w:
                break
            if re.match(r"^[A-Za-z0-9][\w.+-]*$", w) and shutil.which(w) and not _shell_builtin(w):
                found.add(w)
            break
    return found


@functools.cache
def _bash_builtins() -> frozenset[str]:
    out = subprocess.run(["bash", "-c", "compgen -b; compgen -k"], capture_output=True, text=True, check=True).stdout
    return frozenset(out.split())


def _shell_builtin(word: str) -> bool:
    return word in _bash_builtins()


def yaml_commands(node) -> tuple[set[str], set[str]]:
    """(the programs of every command and shell task, every Ansible connection named) in NODE,
    parsed YAML: argv[0] when it is no template, the commands of a shell script."""
    commands, connections = set(), set()

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("ansible.builtin.command", "command") and isinstance(value, dict):
                    argv = value.get("argv")
                    if isinstance(argv, list) and argv and isinstance(argv[0], str) and "{{" not in argv[0]:
                        commands.add(argv[0])
                if key in ("ansible.builtin.shell", "shell"):
                    script = value.get("cmd", "") if isinstance(value, dict) else value
                    commands.update(shell_commands(re.sub(r"{{.*?}}", "X", str(script))))
                if key in ("ansible_connection", "connection") and isinstance(value, str) and "{{" not in value:
                    connections.add(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, str):
            for m in re.finditer(r"'connection':\s*'([\w.]+)'", node):  # written by a template
                connections.add(m.group(1))

    walk(node)
    return commands, connections


def _load_yaml(path: Path):
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def _role_files(name: str) -> list[Path]:
    role = ROOT / "roles" / name.removeprefix("onprem.wandb.")
    return sorted([*role.glob("tasks/**/*.yml"), *role.glob("handlers/*.yml")])


def controller_plays(path: Path, seen: set[Path] | None = None) -> dict[Path, object]:
    """{file: parsed tasks} of what the playbook PATH runs on this machine: its plays on
    localhost (or on a host that defaults to localhost, like playbooks/bundle.yml), with their
    roles and the roles those include, following import_playbook."""
    seen = set() if seen is None else seen
    found: dict[Path, object] = {}
    if path in seen or not path.is_file():
        return found
    seen.add(path)
    plays = _load_yaml(path)
    if not (plays and isinstance(plays[0], list)):
        return found
    for play in plays[0]:
        if not isinstance(play, dict):
            continue
        if "import_playbook" in play or "ansible.builtin.import_playbook" in play:
            target = play.get("import_playbook") or play.get("ansible.builtin.import_playbook")
            found.update(controller_plays((path.parent / target).resolve(), seen))
            continue
        hosts = str(play.get("hosts", ""))
        if hosts != "localhost" and "default('localhost')" not in hosts:
            continue
        found[path] = [play.get(k) for k in ("pre_tasks", "tasks", "post_tasks", "handlers")]
        roles = [r if isinstance(r, str) else r.get("role") or r.get("name") for r in play.get("roles") or []]
        while roles:
            for file in _role_files(roles.pop()):
                if file not in found:
                    found[file] = _load_yaml(file)
                    text = file.read_text()
                    roles += re.findall(r"(?:include|import)_role:\s*\n\s*name:\s*(\S+)", text)
    return found


def project_needs() -> dict[str, Need]:
    """Everything the project runs on this machine, with who runs it."""
    needs: dict[str, Need] = {}

    def add(name, why, search=None, is_file=False):
        need = needs.setdefault(name, Need(name, search=search, is_file=is_file))
        need.why.add(why)

    py_files = sorted(
        [*ROOT.glob("lab/**/*.py"), *ROOT.glob("molecule/**/*.py"), *ROOT.glob("benchmarks/*.py")]
        + [*ROOT.glob("tests/setup/*.py"), *ROOT.glob("tests/lab/*.py")]
    )
    for path in py_files:
        rel = path.relative_to(ROOT)
        for cmd, with_env in python_commands(path).items():
            add(cmd, str(rel))
            if cmd == "go" and not with_env:
                add("go-without-go_env", f"{rel} runs go without an environment from lab.go_env()")
        text = path.read_text()
        for scheme, programs in TESTINFRA_PROGRAMS.items():
            if scheme in text and path != Path(__file__).resolve():
                for program in programs:
                    add(program, f"{rel} (testinfra {scheme})")
    for path in sorted([*ROOT.glob("scripts/*"), ROOT / ".ci" / "run"]):
        if path.is_file() and path.read_text().startswith("#!/usr/bin/env bash"):
            for cmd in shell_commands(path.read_text()):
                add(cmd, str(path.relative_to(ROOT)))
    # Playbooks Molecule runs: their plays on this machine (create, destroy, a scenario's
    # localhost plays and what they import); inventories: the connections in use.
    yml_files = {path: _load_yaml(path) for path in sorted(ROOT.glob("inventories/lab/**/*.yml"))}
    for playbook in sorted([*ROOT.glob("molecule/*/*.yml")]):
        if playbook.name != "molecule.yml":
            yml_files.update(controller_plays(playbook.resolve()))
    for path, node in yml_files.items():
        commands, connections = yaml_commands(node)
        rel = str(path.relative_to(ROOT))
        for cmd in commands:
            add(cmd, rel)
        for conn in connections:
            for program in CONNECTION_PROGRAMS.get(conn, [f"unknown-connection:{conn}"]):
                add(program, f"{rel} (Ansible connection {conn})")
    for name, (why, search) in INDIRECT.items():
        add(name, why, search)
    # Files the commands read.
    lab = _lab_module()
    for suite in sorted({spec["suite"] for spec in lab.IMAGES.values()}):
        add(f"/usr/share/debootstrap/scripts/{suite}", f"debootstrap builds the {suite} image", is_file=True)
    add("/usr/share/keyrings/debian-archive-keyring.gpg", "debootstrap verifies the Debian archive", is_file=True)
    # The CA bundle in /etc/ssl/certs is generated from these (update-ca-certificates).
    add("/usr/share/ca-certificates/mozilla", "TLS to the Go module proxy (Go builds, the toolchain)", is_file=True)
    # The .venv's interpreter, and the ensurepip `python3 -m venv` made it with.
    venv_cfg = dict(
        line.split(" = ", 1) for line in (ROOT / ".venv" / "pyvenv.cfg").read_text().splitlines() if " = " in line
    )
    add(venv_cfg["executable"], "scripts/bootstrap: the interpreter of .venv", is_file=True)
    ensurepip = subprocess.run(
        [venv_cfg["executable"], "-c", "import ensurepip; print(ensurepip.__file__)"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    add(ensurepip or "ensurepip (not importable)", "scripts/bootstrap: python3 -m venv", is_file=True)
    return needs


# ---------------------------------------------------------------- what Debian provides
@dataclass
class Dpkg:
    installed: dict[str, list[list[str]]]  # package -> dependency groups (alternatives)
    provides: dict[str, set[str]]  # virtual name -> installed packages providing it
    base: set[str]  # Essential: yes and Priority: required (on every Debian system)

    @classmethod
    @functools.cache
    def load(cls) -> Dpkg:
        fmt = "${db:Status-Abbrev}\t${Package}\t${Essential}\t${Priority}\t${Provides}\t${Pre-Depends}, ${Depends}\n"
        out = subprocess.run(["dpkg-query", "-W", "-f", fmt], capture_output=True, text=True, check=True).stdout
        installed, provides, base = {}, {}, set()
        for line in out.splitlines():
            status, name, essential, priority, prov, deps = (line.split("\t") + [""] * 6)[:6]
            if not status.startswith("ii"):
                continue
            installed[name] = [
                [_dep_name(alt) for alt in group.split("|")] for group in deps.split(",") if group.strip()
            ]
            for p in prov.split(","):
                if p.strip():
                    provides.setdefault(_dep_name(p), set()).add(name)
            if essential == "yes" or priority == "required":
                base.add(name)
        return cls(installed, provides, base)

    def closure(self, roots) -> set[str]:
        """ROOTS and every package apt installs with them (Depends, Pre-Depends). Of alternatives
        (a | b) apt may pick any, depending on what else it installs: they guarantee nothing."""
        seen: set[str] = set()
        todo = list(roots)
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            if name not in self.installed:
                todo.extend(sorted(self.provides.get(name, ())))
                seen.add(name)
                continue
            seen.add(name)
            todo.extend(group[0] for group in self.installed[name] if len(group) == 1)
        return seen


def _dep_name(spec: str) -> str:
    return re.sub(r"\(.*?\)|\[.*?\]|<.*?>", "", spec).strip().split(":")[0]


def owners(paths) -> dict[str, set[str]]:
    """{path: packages that own it} for PATHS, in one dpkg-query call (paths no package owns
    are left out)."""
    res = subprocess.run(["dpkg-query", "-S", *sorted(set(paths))], capture_output=True, text=True, check=False)
    found: dict[str, set[str]] = {}
    for line in res.stdout.splitlines():
        if line.startswith(("diversion by", "local diversion")):
            continue
        head, sep, path = line.partition(": ")
        if sep:
            found.setdefault(path, set()).update(p.strip().split(":")[0] for p in head.split(","))
    return found


def _usrmerge_twins(path: str) -> list[str]:
    for short in ("/bin/", "/sbin/", "/lib/", "/lib64/"):
        if path.startswith("/usr" + short):
            return [path, path[4:]]
        if path.startswith(short):
            return [path, "/usr" + path]
    return [path]


def link_chain(path: str) -> list[str]:
    """PATH, each symlink it goes through (alternatives included), and the file it ends at."""
    chain = [path]
    seen = {path}
    current = path
    for _hop in range(40):
        if not os.path.islink(current):
            break
        target = os.readlink(current)
        current = os.path.normpath(os.path.join(os.path.dirname(current), target))
        if current in seen:
            break
        seen.add(current)
        chain.append(current)
    real = os.path.realpath(path)
    if real not in chain:
        chain.append(real)
    return chain


def locate(need: Need) -> str | None:
    if need.is_file:
        return need.name if os.path.exists(need.name) else None
    if need.search is not None:
        for d in need.search:
            if os.access(os.path.join(d, need.name), os.X_OK):
                return os.path.join(d, need.name)
        return None
    return shutil.which(need.name, path=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', os.defpath)}")


# ---------------------------------------------------------------- the checks
def check_need(need: Need, guaranteed: set[str], packages_file: Path, owned_by: dict[str, set[str]]) -> str | None:
    """None when NEED comes from a guaranteed source, else why not. OWNED_BY: dpkg's owners of
    the paths resolve() gave."""
    what = f"{need.name} (needed by: {'; '.join(sorted(need.why))})"
    if need.name == "go-without-go_env":
        return f"a Go build without the pinned toolchain: {what}"
    if need.name.startswith("unknown-connection:"):
        return f"add the programs of this Ansible connection to CONNECTION_PROGRAMS in {Path(__file__).name}: {what}"
    if need.name == "go":
        return check_go()
    chain = resolve(need)
    if chain is None:
        return f"{what} is not on this machine: is its package missing from {packages_file.name}?"
    if not chain:
        return None  # a Python tool pinned in requirements.txt
    owned = {step: set().union(*(owned_by.get(t, set()) for t in _usrmerge_twins(step))) for step in chain}
    owned = {step: pkgs for step, pkgs in owned.items() if pkgs}
    if not owned:
        return f"{what}: {' -> '.join(chain)} belongs to no Debian package"
    # Each packaged step of the chain must be there: one of its owners guaranteed.
    missing = sorted({" or ".join(sorted(pkgs)) for pkgs in owned.values() if not pkgs & guaranteed})
    if missing:
        return (
            f"{what}: {' -> '.join(chain)} comes from {', '.join(missing)}, which is neither named in "
            f"{packages_file.name} nor pulled in by a package named there (nor required by Debian)"
        )
    return None


def resolve(need: Need) -> list[str] | None:
    """The link chain of NEED's program or file; [] for a tool of .venv; None when absent."""
    path = locate(need)
    if path is None:
        return None
    if Path(os.path.realpath(path)).is_relative_to(VENV_BIN.parent):
        return []
    return link_chain(path)


def check_go() -> str | None:
    """The lab's Go is the toolchain lab.py pins and scripts/bootstrap installs, nothing else."""
    lab = _lab_module()
    env = lab.go_env() if lab.go_root().joinpath(".sha256").exists() else None
    if env is None:
        return f"the pinned Go toolchain go{lab.GO_VERSION} is not installed in {lab.go_root()}: run scripts/bootstrap"
    found = shutil.which("go", path=env["PATH"])
    if found != str(lab.go_root() / "bin" / "go"):
        return f"go resolves to {found}, not to the pinned toolchain in {lab.go_root()}"
    version = subprocess.run([found, "version"], env=env, capture_output=True, text=True, check=False).stdout
    if f"go{lab.GO_VERSION} " not in version:
        return f"{found} reports {version.strip()!r}, not go{lab.GO_VERSION}"
    return None


def guaranteed_packages(packages_file: Path) -> tuple[set[str], list[str]]:
    """(packages a machine has after scripts/bootstrap, problems with the list itself)."""
    dpkg = Dpkg.load()
    listed = read_packages(packages_file)
    problems = [
        f"{p} is named in {packages_file.name} but not installed: run scripts/bootstrap"
        for p in listed
        if p not in dpkg.installed
    ]
    return dpkg.closure(set(listed) | dpkg.base), problems


def run_guard(packages_file: Path = PACKAGES_FILE, needs: dict[str, Need] | None = None) -> list[str]:
    """Every problem found, as messages; empty when the list covers everything."""
    guaranteed, problems = guaranteed_packages(packages_file)
    needs = project_needs() if needs is None else needs
    owned_by = owners(t for n in needs.values() for step in resolve(n) or [] for t in _usrmerge_twins(step))
    for need in needs.values():
        problem = check_need(need, guaranteed, packages_file, owned_by)
        if problem:
            problems.append(problem)
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packages", type=Path, default=PACKAGES_FILE, help="the package list to check")
    args = parser.parse_args()
    problems = run_guard(args.packages)
    for problem in problems:
        print(f"setup guard: {problem}", file=sys.stderr)
    if not problems:
        print(f"setup guard: every program the project runs comes from {args.packages.name} or the pinned tools")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
