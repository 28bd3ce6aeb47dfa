"""The CLI as staff read it: French errors (never click's "Error:"), placeholders of the example
settings refused by `cantines check`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from automations.cli import cli, french_click_message

from .conftest import REPO

ENV = {"AIRTABLE_TOKEN": "pat.not-a-real-token", "CANTINES_CONFIG": ""}


def copied_example(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "config", tmp_path / "config")
    shutil.copytree(REPO / "templates", tmp_path / "templates")
    return tmp_path / "config" / "production.toml"


def test_check_refuses_the_example_settings_copied_as_they_are(tmp_path: Path) -> None:
    production = copied_example(tmp_path)
    shutil.copy(production.parent / "example.toml", production)
    result = CliRunner().invoke(cli, ["check", "--config", str(production)], env=ENV)
    assert result.exit_code == 2, result.output
    assert "Configuration OK" not in result.output
    assert "Erreurs de configuration" in result.output
    assert "[airtable] base_id : « appXXXXXXXXXXXXXX » est l'exemple" in result.output
    for key in ("coordinator_email", "sender", "reply_to"):
        assert f"[network] {key} : « " in result.output
    assert "Error" not in result.output


def test_check_names_only_what_is_still_a_placeholder(tmp_path: Path) -> None:
    production = copied_example(tmp_path)
    text = (production.parent / "example.toml").read_text(encoding="utf-8")
    production.write_text(text.replace("@example.org", "@petites-cantines.fr"), encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", "--config", str(production)], env=ENV)
    assert result.exit_code == 2
    assert "Erreur de configuration" in result.output and "base_id" in result.output
    assert "[network]" not in result.output


def test_the_demo_settings_keep_their_example_addresses() -> None:
    from automations.settings import load_settings, placeholder_problems

    assert placeholder_problems(load_settings(REPO / "config" / "demo.toml", {})) == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(["run", "--tody", "2026-03-02"], "Erreur : option « --tody » inconnue (vouliez-vous dire « --today » ?)", id="typo"),
        pytest.param(["run", "--today", "2026-13-01"], "Erreur : --today : « 2026-13-01 » n'est pas une date AAAA-MM-JJ", id="bad-date"),
        pytest.param(["nope"], "Erreur : commande « nope » inconnue", id="unknown-command"),
        pytest.param(["preview"], "Erreur : l'option « --out » est obligatoire", id="missing-option"),
        pytest.param(["run", "extra"], "Erreur : argument en trop : « extra »", id="extra-argument"),
    ],
)
def test_usage_errors_are_french(args: list[str], expected: str) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert expected in result.output
    assert "Error:" not in result.output


def test_our_own_failures_are_french(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["release", "--config", str(REPO / "config" / "demo.toml")])
    assert result.exit_code == 2 and result.output.startswith("Erreur : indiquez les messages")


def test_an_unknown_click_message_is_left_as_click_says_it() -> None:
    assert french_click_message("Something new.") == "Something new."


def test_a_damaged_workbook_is_said_in_french(tmp_path: Path) -> None:
    from .conftest import write_config

    path = write_config(tmp_path)
    (tmp_path / "hub.xlsx").write_bytes(b"ceci n'est pas un classeur")
    result = CliRunner().invoke(cli, ["check", "--config", str(path), "--today", "2026-11-24"])
    assert result.exit_code == 1, result.output
    assert "Impossible d'ouvrir le classeur" in result.output
    assert "n'est pas un classeur .xlsx lisible (fichier endommagé ou d'un autre format ; BadZipFile)" in result.output
    assert "Cannot open" not in result.output
