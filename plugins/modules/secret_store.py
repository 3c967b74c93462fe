# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: secret_store
short_description: Choose a role's secrets (given, stored or generated) and keep them in root-only files
version_added: 0.2.0
description:
  - The one rule for every secret a role keeps on its hosts, in one call, however many secrets there are.
  - For each secret of O(secrets) a value given in O(secrets[].value) wins; otherwise the value stored in the file
    O(path)/O(secrets[].name) is kept; otherwise, when generation is on, a new one of O(length) letters and digits
    (URL-safe) is generated.
  - With O(store) the chosen non-empty values are written to O(path) (directory C(0700), files C(0600), owner root),
    one file per secret, the value and a newline. Files and the directory are written only when their content or
    mode differs.
  - The values of the secrets the inventory gave are never returned (the caller has them); the others are, so the task
    must be C(no_log).
  - This is the module behind the C(secrets) entry point of the collection's C(_common) role.
options:
  path:
    description: The directory that keeps the secrets.
    type: path
    required: true
  secrets:
    description: The secrets.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The secret's name, also its file name in O(path).
        type: str
        required: true
      value:
        description: The value the inventory gives; empty when it gives none.
        type: str
        default: ""
      generate:
        description: Overrides O(generate) for this secret.
        type: bool
  store:
    description: Write the chosen non-empty values to O(path). Without it the module only reads (and generates).
    type: bool
    default: true
  generate:
    description: Generate a value when none is given or stored.
    type: bool
    default: true
  length:
    description: Length of generated values.
    type: int
    default: 32
extends_documentation_fragment:
  - onprem.wandb.attributes
  - onprem.wandb.attributes.no_diff
notes:
  - A secret's name must be a plain file name (letters, digits, C(.), C(_), C(-)).
  - Should a returned value contain a value the inventory gave for another secret (Ansible would mask it in the
    result), the module fails instead of returning a masked value.
author:
  - onprem.wandb maintainers (@onprem-wandb)
"""

EXAMPLES = r"""
- name: Choose the W&B password and the salt secret, and keep them on this host
  onprem.wandb.secret_store:
    path: /etc/mysql/onprem-wandb
    secrets:
      - name: wandb_password
        value: "{{ mysql_wandb_password }}"
      - name: account_salt
  register: __mysql_secrets
  no_log: true
"""

RETURN = r"""
values:
  description: Each secret's value that the inventory did not give (stored or generated; empty when there is none), by
    name. The secrets the inventory gave are not in it.
  returned: always
  type: dict
  sample: {account_salt: "(a secret)"}
sources:
  description: Where each secret's value came from, by name.
  returned: always
  type: dict
  sample: {wandb_password: given, account_salt: stored}
written:
  description: The files that were written (or would be, in check mode), and the directory when it was created or
    its mode fixed.
  returned: always
  type: list
  elements: str
  sample: [/etc/mysql/onprem-wandb/account_salt]
"""

import os  # noqa: E402 - ansible modules import after their documentation
import re  # noqa: E402
import secrets as _random  # noqa: E402
import stat  # noqa: E402
import string  # noqa: E402
import tempfile  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

ALPHABET = string.ascii_letters + string.digits
NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def generated(length: int) -> str:
    """A new secret: LENGTH letters and digits."""
    return "".join(_random.choice(ALPHABET) for _position in range(length))


def choose(wanted: list[dict], stored: dict[str, str], generate: bool, length: int, new=generated) -> dict[str, tuple]:
    """name -> (value, source) for each secret of WANTED: given, else stored, else generated
    (when its own `generate`, or GENERATE, says so), else ('', 'none')."""
    chosen = {}
    for secret in wanted:
        name = secret["name"]
        if secret.get("value"):
            chosen[name] = (secret["value"], "given")
        elif stored.get(name):
            chosen[name] = (stored[name], "stored")
        elif secret.get("generate") if secret.get("generate") is not None else generate:
            chosen[name] = (new(length), "generated")
        else:
            chosen[name] = ("", "none")
    return chosen


def read_stored(path: str, names: list[str]) -> dict[str, str]:
    """The stored value of each of NAMES in PATH (stripped), for the files that exist."""
    stored = {}
    for name in names:
        try:
            with open(os.path.join(path, name), encoding="utf-8") as handle:
                stored[name] = handle.read().strip()
        except FileNotFoundError:
            continue
    return stored


def needs_write(file: str, content: str) -> bool:
    """Whether FILE lacks exactly CONTENT, owner and group root and mode 0600."""
    try:
        info = os.lstat(file)
        with open(file, encoding="utf-8") as handle:
            same = handle.read() == content
    except FileNotFoundError:
        return True
    root_only = stat.S_IMODE(info.st_mode) == 0o600 and info.st_uid == 0 and info.st_gid == 0
    return not (same and stat.S_ISREG(info.st_mode) and root_only)


def write(file: str, content: str) -> None:
    """CONTENT into FILE, root only (0600), replaced atomically."""
    directory = os.path.dirname(file)
    handle, tmp = tempfile.mkstemp(dir=directory, prefix=".secret-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(content)
        os.chown(tmp, 0, 0)
        os.chmod(tmp, 0o600)
        os.replace(tmp, file)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def directory_state(path: str) -> str:
    """'missing', 'ok' (a root-owned 0700 directory) or 'fix' (exists, wrong owner or mode)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return "missing"
    if not stat.S_ISDIR(info.st_mode):
        raise NotADirectoryError(path)
    return "ok" if stat.S_IMODE(info.st_mode) == 0o700 and info.st_uid == 0 and info.st_gid == 0 else "fix"


def leaked(values: dict[str, str], given: list[str]) -> list[str]:
    """The names among VALUES whose value contains one of the GIVEN values (Ansible masks those)."""
    return sorted(name for name, value in values.items() if any(g and g in value for g in given))


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "secrets": {
                "type": "list",
                "elements": "dict",
                "required": True,
                # The values are no_log (below); the names are not secret.
                "no_log": False,
                "options": {
                    "name": {"type": "str", "required": True},
                    "value": {"type": "str", "default": "", "no_log": True},
                    "generate": {"type": "bool"},
                },
            },
            "store": {"type": "bool", "default": True},
            "generate": {"type": "bool", "default": True},
            "length": {"type": "int", "default": 32},
        },
        supports_check_mode=True,
    )
    path, wanted = module.params["path"], module.params["secrets"]
    bad = [s["name"] for s in wanted if not NAME.match(s["name"])]
    if bad:
        module.fail_json(msg=f"secret names must be plain file names (letters, digits, . _ -): {', '.join(bad)}")
    if module.params["length"] < 1:
        module.fail_json(msg=f"length {module.params['length']}: generated secrets need at least one character")

    try:
        state = directory_state(path)
        stored = read_stored(path, [s["name"] for s in wanted])
    except (NotADirectoryError, PermissionError, UnicodeDecodeError) as err:
        module.fail_json(msg=f"cannot read the secrets in {path}: {err}")
    chosen = choose(wanted, stored, module.params["generate"], module.params["length"])
    # Before anything is written: a refusal changes nothing.
    values = {name: value for name, (value, source) in chosen.items() if source != "given"}
    masked = leaked(values, [s["value"] for s in wanted if s["value"]])
    if masked:
        module.fail_json(
            msg=f"the value of {', '.join(masked)} contains a value the inventory gives for another secret; "
            "give longer values so that no secret contains another. Nothing was written.",
            written=[],
        )

    written = []
    if module.params["store"]:
        if state != "ok":
            written.append(path)
        written += [
            os.path.join(path, name)
            for name, (value, _source) in chosen.items()
            if value and needs_write(os.path.join(path, name), value + "\n")
        ]
        if written and not module.check_mode:
            try:
                if state == "missing":
                    os.makedirs(path, mode=0o700)
                os.chown(path, 0, 0)
                os.chmod(path, 0o700)
                for file in written:
                    if file != path:
                        write(file, chosen[os.path.basename(file)][0] + "\n")
            except OSError as err:
                module.fail_json(msg=f"cannot write the secrets in {path}: {err}", written=[])

    module.exit_json(
        changed=bool(written),
        values=values,
        sources={name: chosen[name][1] for name in chosen},
        written=written,
    )


if __name__ == "__main__":
    main()
