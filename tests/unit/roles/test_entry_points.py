# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every way into a role is a declared entry point, called so that Ansible validates it.

ansible-core looks a role's argument spec up by the literal tasks_from string: tasks_from: restore
validates against the restore spec, tasks_from: restore.yml silently validates nothing. A role
with entry points besides main names every other task file with a leading underscore."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

COLLECTION = Path(__file__).resolve().parents[3]
ROLES = sorted(p.parent.parent for p in COLLECTION.glob("roles/*/meta/argument_specs.yml"))
SOURCES = sorted(
    p
    for pattern in ("roles/*/tasks/*.yml", "roles/*/handlers/*.yml", "playbooks/*.yml", "site.yml")
    for p in COLLECTION.glob(pattern)
)


def entry_points(role):
    return set(yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"])


def role_calls(data):
    """(role name, tasks_from) of every include_role/import_role in a loaded YAML document."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key in ("ansible.builtin.include_role", "ansible.builtin.import_role", "include_role", "import_role"):
                yield value.get("name"), value.get("tasks_from", "main")
            else:
                yield from role_calls(value)
    elif isinstance(data, list):
        for item in data:
            yield from role_calls(item)


def test_the_collection_has_roles_and_sources():
    assert {r.name for r in ROLES} >= {"_common", "mysql", "preflight", "redis", "minio", "common"}
    assert len(SOURCES) > 20


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.name)
def test_every_entry_point_has_its_task_file(role):
    for name in entry_points(role):
        assert (role / "tasks" / f"{name}.yml").is_file(), f"{role.name}: entry point {name} has no tasks/{name}.yml"


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.name)
def test_task_files_are_entry_points_or_visibly_internal(role):
    declared = entry_points(role)
    if declared == {"main"}:
        pytest.skip(f"{role.name} has main only")
    for path in (role / "tasks").glob("*.yml"):
        assert path.stem in declared or path.stem.startswith("_"), (
            f"{role.name}/tasks/{path.name} is neither an entry point in meta/argument_specs.yml nor named _{path.name}"
        )


def test_every_role_call_names_a_declared_entry_point_without_yml():
    specs = {f"onprem.wandb.{r.name}": entry_points(r) for r in ROLES}
    calls = 0
    for path in SOURCES:
        for name, tasks_from in role_calls(yaml.safe_load(path.read_text())):
            calls += 1
            where = f"{path.relative_to(COLLECTION)}: {name} tasks_from {tasks_from}"
            assert name in specs, f"{where}: call the collection's roles by their FQCN"
            assert not re.search(r"\.ya?ml$", tasks_from), f"{where}: drop .yml, or the argument spec is not checked"
            assert tasks_from in specs[name], f"{where}: not an entry point declared in meta/argument_specs.yml"
    assert calls > 10
