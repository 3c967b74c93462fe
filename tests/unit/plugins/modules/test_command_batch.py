# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# The module runs real commands here, through AnsibleModule, as it does on a host.

from __future__ import annotations

import json

import pytest
from ansible.module_utils import basic
from ansible_collections.onprem.wandb.plugins.modules import command_batch


def run(monkeypatch, capsys, commands, check_mode=False):
    payload = {"ANSIBLE_MODULE_ARGS": {"commands": commands, "_ansible_check_mode": check_mode}}
    monkeypatch.setattr(basic, "_ANSIBLE_ARGS", json.dumps(payload).encode())
    monkeypatch.setattr(basic, "_ANSIBLE_PROFILE", "legacy")
    with pytest.raises(SystemExit):
        command_batch.main()
    return json.loads(capsys.readouterr().out)


def test_each_command_gives_its_exit_code_and_output_in_order(monkeypatch, capsys):
    result = run(monkeypatch, capsys, [["printf", "a\\nb\\n"], ["sh", "-c", "echo oops >&2; exit 3"], ["true"]])
    assert not result["changed"]
    first, second, third = result["results"]
    assert (first["rc"], first["stdout"], first["stdout_lines"]) == (0, "a\nb", ["a", "b"])
    assert (second["rc"], second["stderr"], second["cmd"]) == (3, "oops", ["sh", "-c", "echo oops >&2; exit 3"])
    assert third["rc"] == 0


def test_nothing_goes_through_a_shell(monkeypatch, capsys):
    result = run(monkeypatch, capsys, [["echo", "$HOME", ";", "false"]])
    assert result["results"][0]["stdout"] == "$HOME ; false"


def test_check_mode_runs_the_reads(monkeypatch, capsys):
    result = run(monkeypatch, capsys, [["echo", "read"]], check_mode=True)
    assert result["results"][0]["stdout"] == "read"


def test_a_command_that_cannot_start_fails_naming_it(monkeypatch, capsys):
    result = run(monkeypatch, capsys, [["true"], ["/nonexistent/mc", "ls"]])
    assert result["failed"]
    assert "/nonexistent/mc" in json.dumps(result)


def test_an_empty_command_is_refused(monkeypatch, capsys):
    result = run(monkeypatch, capsys, [["true"], []])
    assert result["failed"] and "empty command" in result["msg"]
