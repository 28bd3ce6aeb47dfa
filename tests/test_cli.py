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
    assert "Problèmes de données (7)" in result.output
    assert "« 99 » inconnu" in result.output
    assert (config.parent / "hub.xlsx").read_bytes() == before  # check writes nothing
    assert not (config.parent / "state.sqlite").exists()


def test_check_exits_two_on_a_configuration_error(tmp_path: Path) -> None:
    path = write_config(tmp_path, mail='backend = "pigeon"')
    result = CliRunner().invoke(cli, ["check", "--config", str(path)])
    assert result.exit_code == 2
    assert "[mail] backend: 'pigeon' is not one of outbox" in result.output


def test_check_exits_one_when_a_table_cannot_be_read(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    result = CliRunner().invoke(cli, ["check", "--config", str(path), "--today", TODAY])
    assert result.exit_code == 1  # no workbook at all: nothing could be read
    assert "lecture impossible" in result.output


def test_run_prints_a_summary_and_sends_once(config: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(cli, ["run", "--config", str(config), "--today", TODAY])
    assert first.exit_code == 0, first.output
    assert "Cycle du mardi 24 novembre 2026 : Avertissements" in first.output
    assert "29 mis en file, 0 déjà traités auparavant, 29 envoyés" in first.output  # see test_run.DEMO_MESSAGES
    second = runner.invoke(cli, ["run", "--config", str(config), "--today", TODAY])
    assert "0 mis en file, 25 déjà traités auparavant, 0 envoyés" in second.output


def test_run_dry_run_lists_what_would_be_sent(config: Path) -> None:
    result = CliRunner().invoke(cli, ["run", "--config", str(config), "--today", TODAY, "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "Messages qui seraient envoyés : 25" in result.output
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
    assert first.output.count("Créé : onglet") == len(load_settings(path, {}).schema) == 15
    second = runner.invoke(cli, ["init", "--config", str(path)])
    assert "Créé" not in second.output and "Schéma à jour." in second.output


def test_demo_generates_once_per_day_and_runs(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    runner = CliRunner()
    first = runner.invoke(cli, ["demo", "--config", str(path), "--today", TODAY])
    assert first.exit_code == 0, first.output
    assert "Classeur de démonstration créé" in first.output and "29 envoyés" in first.output
    second = runner.invoke(cli, ["demo", "--config", str(path), "--today", TODAY])
    assert "Classeur de démonstration :" in second.output and "0 mis en file" in second.output


def test_preview_renders_what_would_be_sent_and_queues_nothing(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "apercu"
    result = CliRunner().invoke(cli, ["preview", "--config", str(config), "--today", TODAY, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert len(list(out.glob("*.eml"))) == 25
    assert all(p.name.startswith(f"{TODAY}-") for p in out.glob("*.eml"))  # named after the day played
    assert "25 messages" in (out / "index.html").read_text()
    assert not (config.parent / "state.sqlite").exists() and not (config.parent / "outbox").exists()
    CliRunner().invoke(cli, ["run", "--config", str(config), "--today", TODAY])
    after = CliRunner().invoke(cli, ["preview", "--config", str(config), "--today", TODAY, "--out", str(tmp_path / "again")])
    assert "0, 25 déjà envoyés auparavant" in after.output


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
