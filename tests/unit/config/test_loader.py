"""The loader reports every problem at once, each with its file and key path, and nothing twice."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import BaseModel

from router.config import ProfileFile, load_profiles
from router.config.common import Tls
from router.errors import ConfigError, Problem, ProfileValidationError
from tests.unit.config.conftest import BASE_FILES, write_profiles


def _problems(directory: Path) -> list[Problem]:
    with pytest.raises(ProfileValidationError) as caught:
        load_profiles(directory)
    return caught.value.problems


def _keys(problems: list[Problem]) -> set[tuple[str, str]]:
    return {(Path(p.file).name, p.key) for p in problems}


def test_base_directory_loads_and_resolves_mailboxes(profiles_dir: Path) -> None:
    ps = load_profiles(profiles_dir)
    alice, support = ps.mailboxes()
    assert (alice.incoming_profile, alice.outgoing_profile, alice.deployment) == ("in", "out", "main")
    assert (support.incoming_profile, support.outgoing_profile) == ("in", None)
    assert alice.incoming_credential == "svc"


def test_problems_in_several_files_are_all_reported(profiles_dir: Path) -> None:
    write_profiles(profiles_dir, {
        "broken.toml": "[profiles.x\ndirection = ",
        "typo.toml": '[profiles.typo]\ndirection = "incoming"\nserver_type = "exchange_se"\n'
                     'ews_ur = "https://a.test/EWS/Exchange.asmx"\nauth = "ntlm"\n'
                     'credentials = "local_system"\n',
        "types.toml": '[settings]\nmax_threads = "many"\nlog_level = 7\n',
        "bad-users.toml": '[[users]]\naddress = "not-an-address"\nincoming_profile = "nowhere"\n',
    })
    problems = _problems(profiles_dir)
    keys = _keys(problems)
    assert ("broken.toml", "") in keys
    assert ("typo.toml", "profiles.typo.ews_ur") in keys
    assert ("types.toml", "settings.max_threads") in keys and ("types.toml", "settings.log_level") in keys
    assert ("bad-users.toml", "users[0].address") in keys
    typo = next(p for p in problems if p.key == "profiles.typo.ews_ur")
    assert "did you mean 'ews_url'" in typo.message
    broken = next(p for p in problems if Path(p.file).name == "broken.toml")
    assert "not valid TOML" in broken.message and "line" in broken.message


def test_dangling_references_are_reported(profiles_dir: Path) -> None:
    write_profiles(profiles_dir, {"mailboxes.toml": """
[[users]]
address = "alice@example.test"
incoming_profile = "nowhere"
deployment = "elsewhere"

[[users]]
address = "bob@example.test"
outgoing_profile = "in"
""", "deployments.toml": '[deployments.main]\ndefault_incoming_profile = "missing"\n'})
    problems = _problems(profiles_dir)
    assert _keys(problems) == {
        ("mailboxes.toml", "users[0].deployment"),
        ("deployments.toml", "deployments.main.default_incoming_profile"),
        ("mailboxes.toml", "users[1].outgoing_profile"),
        ("mailboxes.toml", "users[1].incoming_profile"),
    }
    wrong_direction = next(p for p in problems if p.key == "users[1].outgoing_profile")
    assert "is incoming" in wrong_direction.message


def test_reference_to_a_broken_entry_is_not_reported_again(profiles_dir: Path) -> None:
    text = BASE_FILES["profiles.toml"].replace('server_type = "exchange_2019"',
                                               'server_type = "exchange_95"', 1)
    write_profiles(profiles_dir, {"profiles.toml": text})
    problems = _problems(profiles_dir)
    assert [p.key for p in problems] == ["profiles.in.server_type"]


def test_duplicates_across_files_and_second_settings(profiles_dir: Path) -> None:
    write_profiles(profiles_dir, {
        "more.toml": BASE_FILES["profiles.toml"].split("[profiles.out]")[0] + "\n[settings]\n",
        "settings.toml": "[settings]\nbatch_size = 3\n",
        "dup-mailbox.toml": '[[queues]]\naddress = "ALICE@example.test"\n',
    })
    problems = _problems(profiles_dir)
    messages = {(Path(p.file).name, p.key): p.message for p in problems}
    assert "defined twice" in messages[("profiles.toml", "profiles.in")]
    assert "appears twice" in messages[("settings.toml", "settings")]
    # Files are read in name order, so the queue in dup-mailbox.toml repeats alice from mailboxes.toml.
    assert "already listed at" in messages[("dup-mailbox.toml", "queues[0].address")]
    assert "mailboxes.toml: users[0]" in messages[("dup-mailbox.toml", "queues[0].address")]


def test_unknown_top_level_key_and_secret_in_a_profile(profiles_dir: Path) -> None:
    text = BASE_FILES["profiles.toml"] + 'password = "oops"\n'
    write_profiles(profiles_dir, {"profiles.toml": text, "extra.toml": "[mailboxes]\nx = 1\n"})
    problems = _problems(profiles_dir)
    secret = next(p for p in problems if p.key == "profiles.out.password")
    assert "never hold secrets" in secret.message and "oops" not in str(ProfileValidationError(problems))
    assert any(p.key == "mailboxes" and "unknown top-level key" in p.message for p in problems)


def test_wrong_shapes_are_reported(profiles_dir: Path) -> None:
    write_profiles(profiles_dir, {"shapes.toml": 'profiles = 3\nusers = "alice"\n'})
    assert {("shapes.toml", "profiles"), ("shapes.toml", "users")} <= _keys(_problems(profiles_dir))


def test_naive_process_from_and_bad_names(profiles_dir: Path) -> None:
    write_profiles(profiles_dir, {"mailboxes.toml": '[[users]]\naddress = "a@example.test"\n'
                                                    "process_from = 2024-05-01T00:00:00\n"
                                                    '[[users]]\naddress = "b@example.test"\n',
                                  "names.toml": '[deployments."bad name"]\n'})
    problems = _problems(profiles_dir)
    naive = next(p for p in problems if p.key == "users[0].process_from")
    assert "UTC offset" in naive.message
    assert any(p.key == 'deployments."bad name"' and "invalid name" in p.message for p in problems)
    several = next(p for p in problems if p.key == "users[1].deployment")
    assert "several deployments" in several.message and "bad name" in several.message


def test_missing_or_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_profiles(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    assert "no *.toml files" in str(_problems(tmp_path / "empty")[0])


def test_no_deployment_is_a_problem(tmp_path: Path) -> None:
    write_profiles(tmp_path / "p", {"profiles.toml": BASE_FILES["profiles.toml"]})
    assert [p.key for p in _problems(tmp_path / "p")] == ["deployments"]


def test_relative_ca_bundle_is_resolved_against_the_directory(profiles_dir: Path) -> None:
    (profiles_dir / "corp-ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    text = BASE_FILES["profiles.toml"] + '\n[profiles.out.tls]\nca_bundle = "corp-ca.pem"\n'
    write_profiles(profiles_dir, {"profiles.toml": text})
    loaded = load_profiles(profiles_dir).profiles["out"].tls.ca_bundle
    assert loaded == (profiles_dir / "corp-ca.pem").resolve()
    (profiles_dir / "corp-ca.pem").unlink()
    assert [p.key for p in _problems(profiles_dir)] == ["profiles.out.tls.ca_bundle"]


def _models(model: type[BaseModel], seen: set[type[BaseModel]]) -> set[type[BaseModel]]:
    from router.config.problems import _unwrap

    seen.add(model)
    for field in model.model_fields.values():
        inner = _unwrap(field.annotation)
        if isinstance(inner, type) and issubclass(inner, BaseModel) and inner not in seen:
            _models(inner, seen)
    return seen


def test_every_field_of_every_model_has_a_description() -> None:
    models = _models(ProfileFile, set())
    assert Tls in models and len(models) >= 10
    for model in models:
        assert model.model_config.get("extra") == "forbid", model
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name}"


def test_symlinks_fifos_and_directories_named_toml_are_refused_with_their_path(
        profiles_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.toml"
    outside.write_text(BASE_FILES["mailboxes.toml"])
    (profiles_dir / "mailboxes.toml").unlink()
    (profiles_dir / "mailboxes.toml").symlink_to(outside)
    os.mkfifo(profiles_dir / "pipe.toml")
    (profiles_dir / "dir.toml").mkdir()
    found = {(Path(p.file).name, p.message.split(" (")[0].split(",")[0]) for p in _problems(profiles_dir)}
    assert ("mailboxes.toml", "is a symbolic link") in found
    assert ("pipe.toml", "is not a regular file") in found and ("dir.toml", "is not a regular file") in found
    messages = " ".join(p.message for p in _problems(profiles_dir))
    assert "a FIFO" in messages and "a directory" in messages
