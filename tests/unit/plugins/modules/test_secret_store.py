# Copyright: onprem.wandb contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# The module runs here as it runs on a host (as root, on real files), through AnsibleModule.

from __future__ import annotations

import json
import os
import stat

import pytest
from ansible.module_utils import basic
from ansible_collections.onprem.wandb.plugins.modules import secret_store


def run(monkeypatch, capsys, check_mode=False, **args):
    """The module's result for ARGS (a dict as the controller would send it)."""
    payload = {"ANSIBLE_MODULE_ARGS": {**args, "_ansible_check_mode": check_mode}}
    monkeypatch.setattr(basic, "_ANSIBLE_ARGS", json.dumps(payload).encode())
    monkeypatch.setattr(basic, "_ANSIBLE_PROFILE", "legacy")
    with pytest.raises(SystemExit):
        secret_store.main()
    out = capsys.readouterr().out
    return json.loads(out), out


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_fresh_host_gets_generated_secrets_in_root_only_files_and_a_rerun_keeps_them(tmp_path, monkeypatch, capsys):
    store = tmp_path / "secrets"
    first, _out = run(monkeypatch, capsys, path=str(store), secrets=[{"name": "a"}, {"name": "b"}], length=24)
    assert first["changed"] and first["sources"] == {"a": "generated", "b": "generated"}
    assert all(len(v) == 24 and v.isalnum() for v in first["values"].values())
    assert first["values"]["a"] != first["values"]["b"]
    assert mode(store) == 0o700 and mode(store / "a") == 0o600
    assert (store / "a").read_text() == first["values"]["a"] + "\n"

    again, _out = run(monkeypatch, capsys, path=str(store), secrets=[{"name": "a"}, {"name": "b"}], length=24)
    assert not again["changed"] and again["written"] == []
    assert again["values"] == first["values"] and again["sources"] == {"a": "stored", "b": "stored"}


def test_a_given_value_wins_is_stored_and_never_returned(tmp_path, monkeypatch, capsys):
    store = tmp_path / "secrets"
    store.mkdir(mode=0o700)
    (store / "a").write_text("the-old-stored-value\n")
    os.chmod(store / "a", 0o600)
    result, out = run(monkeypatch, capsys, path=str(store), secrets=[{"name": "a", "value": "given-by-the-inventory"}])
    assert result["changed"] and result["written"] == [str(store / "a")]
    assert result["sources"] == {"a": "given"} and result["values"] == {}
    assert "given-by-the-inventory" not in out
    assert (store / "a").read_text() == "given-by-the-inventory\n"


def test_without_store_nothing_is_written(tmp_path, monkeypatch, capsys):
    store = tmp_path / "secrets"
    result, _out = run(monkeypatch, capsys, path=str(store), secrets=[{"name": "a"}], store=False)
    assert not result["changed"] and result["sources"] == {"a": "generated"}
    assert not store.exists()


def test_check_mode_names_the_files_and_writes_none(tmp_path, monkeypatch, capsys):
    store = tmp_path / "secrets"
    result, _out = run(monkeypatch, capsys, check_mode=True, path=str(store), secrets=[{"name": "a"}])
    assert result["changed"] and result["written"] == [str(store), str(store / "a")]
    assert not store.exists()


def test_a_file_with_a_loose_mode_is_rewritten_with_its_value(tmp_path, monkeypatch, capsys):
    store = tmp_path / "secrets"
    store.mkdir(mode=0o700)
    (store / "a").write_text("kept-value\n")
    os.chmod(store / "a", 0o644)
    result, _out = run(monkeypatch, capsys, path=str(store), secrets=[{"name": "a"}])
    assert result["changed"] and result["values"] == {"a": "kept-value"}
    assert mode(store / "a") == 0o600 and (store / "a").read_text() == "kept-value\n"


def test_a_file_of_another_group_is_given_back_to_root(tmp_path, monkeypatch, capsys):
    store = tmp_path / "secrets"
    store.mkdir(mode=0o700)
    (store / "a").write_text("kept-value\n")
    os.chmod(store / "a", 0o600)
    os.chown(store / "a", 0, 1)
    result, _out = run(monkeypatch, capsys, path=str(store), secrets=[{"name": "a"}])
    assert result["written"] == [str(store / "a")]
    assert os.stat(store / "a").st_gid == 0 and (store / "a").read_text() == "kept-value\n"


def test_a_loose_directory_is_made_root_only(tmp_path, monkeypatch, capsys):
    store = tmp_path / "secrets"
    store.mkdir(mode=0o755)
    result, _out = run(monkeypatch, capsys, path=str(store), secrets=[{"name": "a", "value": "given-value-1"}])
    assert result["written"] == [str(store), str(store / "a")]
    assert mode(store) == 0o700


def test_without_generation_a_missing_secret_is_empty_and_not_stored(tmp_path, monkeypatch, capsys):
    store = tmp_path / "secrets"
    store.mkdir(mode=0o700)
    result, _out = run(
        monkeypatch,
        capsys,
        path=str(store),
        secrets=[{"name": "a"}, {"name": "b", "generate": True}],
        generate=False,
    )
    assert result["sources"] == {"a": "none", "b": "generated"}
    assert result["values"]["a"] == "" and not (store / "a").exists() and (store / "b").exists()


def test_a_returned_value_that_contains_a_given_one_fails_instead_of_being_masked(tmp_path, monkeypatch, capsys):
    # Ansible masks every no_log input wherever it appears in the result: a stored value that
    # contains a given one would come back masked, and be used as a password.
    store = tmp_path / "secrets"
    store.mkdir(mode=0o700)
    (store / "b").write_text("xxsecretxx\n")
    result, _out = run(monkeypatch, capsys, path=str(store), secrets=[{"name": "a", "value": "secret"}, {"name": "b"}])
    assert result["failed"] and "the value of b contains a value the inventory gives" in result["msg"]
    assert not (store / "a").exists() and result["written"] == []


@pytest.mark.parametrize("name", ["../etc", "a/b", ".hidden", ""])
def test_a_name_that_is_not_a_plain_file_name_is_refused(tmp_path, monkeypatch, capsys, name):
    result, _out = run(monkeypatch, capsys, path=str(tmp_path), secrets=[{"name": name}])
    assert result["failed"] and "plain file names" in result["msg"]
    assert list(tmp_path.iterdir()) == []


def test_choose_takes_given_then_stored_then_generated():
    chosen = secret_store.choose(
        [{"name": "g", "value": "G"}, {"name": "s"}, {"name": "n"}, {"name": "off", "generate": False}],
        {"g": "old", "s": "S"},
        True,
        8,
        new=lambda length: "N" * length,
    )
    assert chosen == {"g": ("G", "given"), "s": ("S", "stored"), "n": ("NNNNNNNN", "generated"), "off": ("", "none")}


def test_given_values_are_no_log_inputs(tmp_path, monkeypatch, capsys):
    # Ansible masks no_log inputs wherever they would appear in the result: proof that the
    # module declared the given values as such (the names are not secret).
    store = tmp_path / "secrets"
    result, out = run(monkeypatch, capsys, path=str(store), secrets=[{"name": "a", "value": "given-value-xyz"}])
    assert result["invocation"]["module_args"]["secrets"] == [
        {"name": "a", "value": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER", "generate": None}
    ]
    assert "given-value-xyz" not in out
