# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
---
name: checksum_compare
short_description: Compare restored tables' CHECKSUM TABLE values with those recorded at backup time
version_added: 0.2.0
description:
  - The input is the C(checksums) mapping of a backup manifest (C(schema.table) to the value C(CHECKSUM TABLE) gave on
    the source when the dump was taken); the argument is the output of C(mysql -N -B -e 'CHECKSUM TABLE ...') on the
    restored server, one C(schema.table<TAB>value) line per table.
  - Every table of the manifest is compared; a table the restored server did not report counts as C(missing).
positional: _input, restored
options:
  _input:
    description: Table to checksum recorded on the source.
    type: dict
    required: true
  restored:
    description: Output lines of C(CHECKSUM TABLE) on the restored server.
    type: list
    elements: str
    required: true
author:
  - onprem.wandb maintainers (@onprem-wandb)
"""

EXAMPLES = r"""
- name: Compare the checksums with the source
  ansible.builtin.set_fact:
    __mysql_compare: "{{ __mysql_restore_manifest.checksums | onprem.wandb.checksum_compare(__checksums.stdout_lines) }}"
"""

RETURN = r"""
_value:
  description: The comparison.
  type: dict
  contains:
    tables:
      description: Number of tables the manifest lists.
      type: int
    lines:
      description: One C(<table> <source checksum> <restored checksum>) line per table, sorted by table.
      type: list
      elements: str
    mismatches:
      description: The tables whose checksums differ or that are missing, sorted by table.
      type: list
      elements: dict
      contains:
        table:
          description: C(schema.table).
          type: str
        source:
          description: The checksum recorded on the source.
          type: str
        restored:
          description: The checksum on the restored server, or C(missing).
          type: str
"""

MISSING = "missing"


def parse_checksum_lines(lines):
    """Map schema.table to its checksum from mysql -N -B CHECKSUM TABLE output."""
    restored = {}
    for line in lines:
        fields = line.strip().rsplit(None, 1)
        if len(fields) == 2:
            restored[fields[0]] = fields[1]
    return restored


def checksum_compare(expected, restored_lines):
    if not isinstance(expected, Mapping):
        raise AnsibleFilterError(
            f"checksum_compare expects the manifest's checksums (a mapping), got {type(expected).__name__}"
        )
    if isinstance(restored_lines, str) or not isinstance(restored_lines, (list, tuple)):
        raise AnsibleFilterError("checksum_compare expects the restored server's output as a list of lines")
    restored = parse_checksum_lines(restored_lines)
    lines, mismatches = [], []
    for table in sorted(expected):
        source = str(expected[table])
        got = restored.get(table, MISSING)
        lines.append(f"{table} {source} {got}")
        if got != source:
            mismatches.append({"table": table, "source": source, "restored": got})
    return {"tables": len(expected), "lines": lines, "mismatches": mismatches}


class FilterModule:
    def filters(self):
        return {"checksum_compare": checksum_compare}
