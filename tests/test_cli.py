"""The command line: help everywhere, exit codes that tell configuration errors from data problems."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from automations.cli import cli
from automations.demo import write_demo_workbook
from automations.settings import load_settings

from .conftest import write_config

TODAY = "2026-11-24"


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found.extend(all_commands(command, (*prefix, name)))
    return found


@pytest.mark.parametrize("path", all_commands(cli), ids=lambda p: " ".join(p))
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    command = cli
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    assert command.help and len(command.help.strip()) > 20
    assert "Example" in result.output


def test_the_group_has_help() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in ("run", "check", "init", "demo"):
        assert name in result.output


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = write_config(tmp_path)
    write_demo_workbook(load_settings(path, {}), dt.date.fromisoformat(TODAY))
    return path


def test_check_lists_data_problems_and_exits_zero(config: Path) -> None:
    before = (config.parent / "hub.xlsx").read_bytes()
    result = CliRunner().invoke(cli, ["check", "--config", str(config), "--today", TODAY])
    assert result.exit_code == 0, result.output
    assert "Configuration OK" in result.output
    assert "Problèmes de données (8)" in result.output and "Contrôles des subventions (4)" in result.output
    assert "« 99 » inconnu" in result.output
    assert (config.parent / "hub.xlsx").read_bytes() == before  # check writes nothing
    assert not (config.parent / "state.sqlite").exists()


def test_check_exits_two_on_a_configuration_error(tmp_path: Path) -> None:
    path = write_config(tmp_path, mail='backend = "pigeon"')
    result = CliRunner().invoke(cli, ["check", "--config", str(path)])
    assert result.exit_code == 2
    assert "[mail] backend: 'pigeon' is not one of outbox" in result.output


def test_check_exits_one_when_a_table_cannot_be_read(config: Path) -> None:
    import openpyxl

    book = openpyxl.load_workbook(config.parent / "hub.xlsx")
    del book["Visites"]
    book.save(config.parent / "hub.xlsx")
    result = CliRunner().invoke(cli, ["check", "--config", str(config), "--today", TODAY])
    assert result.exit_code == 1
    assert "Visites : lecture impossible" in result.output


@pytest.mark.parametrize("command", ["check", "run", "preview"])
def test_a_missing_workbook_is_one_error_and_nothing_is_created(tmp_path: Path, command: str) -> None:
    path = write_config(tmp_path)  # [workbook] path = "hub.xlsx", which does not exist
    extra = ["--out", str(tmp_path / "apercu")] if command == "preview" else []
    result = CliRunner().invoke(cli, [command, "--config", str(path), "--today", TODAY, *extra])
    assert result.exit_code != 0
    assert result.output.count("Classeur absent") == 1, result.output
    assert "hub.xlsx n'existe pas" in result.output and "cantines init workbook" in result.output
    assert "Onglet" not in result.output  # not twelve missing tabs
    assert not (tmp_path / "hub.xlsx").exists()  # no empty hub created in its place
    assert not list((tmp_path / "outbox").glob("*.eml")) if (tmp_path / "outbox").exists() else True


def test_init_creates_the_missing_workbook(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    result = CliRunner().invoke(cli, ["init", "workbook", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "hub.xlsx").exists()
    again = CliRunner().invoke(cli, ["check", "--config", str(path), "--today", TODAY])
    assert again.exit_code == 0, again.output


def test_run_prints_a_summary_and_sends_once(config: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(cli, ["run", "--config", str(config), "--today", TODAY])
    assert first.exit_code == 0, first.output
    assert "Cycle du mardi 24 novembre 2026 : Avertissements" in first.output
    assert "32 mis en file, 0 déjà traité auparavant, 32 envoyés" in first.output  # see test_run.DEMO_MESSAGES
    second = runner.invoke(cli, ["run", "--config", str(config), "--today", TODAY])
    assert "0 mis en file, 27 déjà traités auparavant, 0 envoyé" in second.output


def test_run_dry_run_lists_what_would_be_sent(config: Path) -> None:
    result = CliRunner().invoke(cli, ["run", "--config", str(config), "--today", TODAY, "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "Messages qui seraient envoyés : 27" in result.output
    assert not (config.parent / "outbox").exists()


def test_a_malformed_today_is_refused(config: Path) -> None:
    result = CliRunner().invoke(cli, ["run", "--config", str(config), "--today", "24/11/2026"])
    assert result.exit_code == 2
    assert "24/11/2026" in result.output


def test_init_creates_the_tabs_and_is_idempotent(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    runner = CliRunner()
    first = runner.invoke(cli, ["init", "--config", str(path)])
    assert first.exit_code == 0, first.output
    assert first.output.count("Créé : onglet") == len(load_settings(path, {}).schema)
    second = runner.invoke(cli, ["init", "--config", str(path)])
    assert "Créé" not in second.output and "Schéma à jour." in second.output


def test_demo_generates_once_per_day_and_runs(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    runner = CliRunner()
    first = runner.invoke(cli, ["demo", "--config", str(path), "--today", TODAY])
    assert first.exit_code == 0, first.output
    assert "Classeur de démonstration créé" in first.output and "32 envoyés" in first.output
    second = runner.invoke(cli, ["demo", "--config", str(path), "--today", TODAY])
    assert "Classeur de démonstration :" in second.output and "0 mis en file" in second.output


def test_preview_renders_what_would_be_sent_and_queues_nothing(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "apercu"
    result = CliRunner().invoke(cli, ["preview", "--config", str(config), "--today", TODAY, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert len(list(out.glob("*.eml"))) == 27
    assert all(p.name.startswith(f"{TODAY}-") for p in out.glob("*.eml"))  # named after the day played
    assert "27 messages" in (out / "index.html").read_text()
    assert not (config.parent / "state.sqlite").exists() and not (config.parent / "outbox").exists()
    CliRunner().invoke(cli, ["run", "--config", str(config), "--today", TODAY])
    after = CliRunner().invoke(cli, ["preview", "--config", str(config), "--today", TODAY, "--out", str(tmp_path / "again")])
    assert "0, 27 déjà envoyés auparavant" in after.output


@pytest.mark.parametrize(
    ("today", "explicit", "expected"),
    [
        pytest.param(dt.date(2026, 11, 24), False, dt.date(2026, 11, 24), id="a-tuesday"),
        pytest.param(dt.date(2026, 11, 28), False, dt.date(2026, 11, 30), id="saturday-plays-monday"),
        pytest.param(dt.date(2026, 12, 25), False, dt.date(2026, 12, 28), id="christmas-plays-monday"),
        pytest.param(dt.date(2026, 11, 28), True, dt.date(2026, 11, 28), id="an-asked-saturday-is-kept"),
    ],
)
def test_demo_day(today: dt.date, explicit: bool, expected: dt.date) -> None:
    from automations.demo import demo_day

    day, note = demo_day(today, explicit=explicit)
    assert day == expected
    assert (note is None) == (day == today)
    if note:
        assert f"--today {expected.isoformat()}" in note


def test_run_exits_three_when_the_run_is_incomplete(config: Path) -> None:
    import openpyxl

    hub = config.parent / "hub.xlsx"
    book = openpyxl.load_workbook(hub)
    del book["Échéances"]  # a table the run needs cannot be read
    book.save(hub)
    result = CliRunner().invoke(cli, ["run", "--config", str(config), "--today", TODAY])
    assert result.exit_code == 3, result.output
    assert "Incomplet" in result.output


def test_run_exits_four_when_delivery_failed(tmp_path: Path) -> None:
    from .fakes.sendgrid import FakeSendGrid

    with FakeSendGrid(api_key="SG.right") as fake:
        path = write_config(tmp_path, mail='backend = "sendgrid"')
        environ = {"SENDGRID_API_KEY": "SG.wrong", "SENDGRID_HOST": fake.url}
        write_demo_workbook(load_settings(path, environ), dt.date.fromisoformat(TODAY))
        result = CliRunner().invoke(cli, ["run", "--config", str(path), "--today", TODAY], env=environ)
    assert result.exit_code == 4, result.output  # every send failed: not a success
    assert "0 envoyé, 1 en échec" in result.output and "En attente d'envoi : 32" in result.output
    assert "SG.wrong" not in result.output


def test_release_of_an_unknown_key_fails_and_names_it(config: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["run", "--config", str(config), "--today", TODAY]).exit_code == 0
    result = runner.invoke(cli, ["release", "--config", str(config), "nimportequoi"])
    assert result.exit_code == 1
    assert "0 message remis en file" in result.output and "« nimportequoi »" in result.output
