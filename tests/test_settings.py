"""Settings: one clear line per problem, secrets only from the environment, paths from the file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from automations.settings import Settings, load_settings
from connectors.errors import ConfigurationError

from .conftest import REPO, write_config


def problems_of(
    tmp_path: Path, extra: str = "", *, environ: dict[str, str] | None = None, network: str | None = None,
    **sections: str,
) -> list[str]:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(write_config(tmp_path, extra, network=network, **sections), environ or {})
    return caught.value.problems


def test_shipped_configs_are_valid() -> None:
    demo = load_settings(REPO / "config" / "demo.toml", {})
    assert demo.workbook.path == REPO / "demo" / "hub.xlsx"  # relative to the config file, not the cwd
    assert demo.mail.backend == "outbox"
    example = load_settings(REPO / "config" / "example.toml", {"AIRTABLE_TOKEN": "pat.test"})
    assert example.backend_for("cantines") == "airtable" and example.airtable.base_id.startswith("app")
    assert {r.id for r in example.rules} >= {"echeance-rapport", "candidature", "question-ouverte"}
    assert len(example.schema) == 16
    assert example.reference.departement("2A").region == "Corse"


def test_defaults_fill_what_is_not_said(settings: Settings) -> None:
    assert settings.network.timezone == "Europe/Paris"
    assert settings.tables.backend == "workbook"
    assert settings.backend_for("cantines") == "workbook"
    assert settings.database_url is None


def test_every_problem_is_reported_at_once_one_line_each(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path,
        '[surprise]\nx = 1\n',
        reminders="catch_up_dayz = 3",
        mail='bakend = "outbox"',
        network='coordinator_email = 42\nsender = "pas-une-adresse"\n',
    )
    text = "\n".join(problems)
    assert "unknown section [surprise]" in text
    assert "[mail] unknown key 'bakend' (did you mean 'backend'?)" in text
    assert "[reminders] unknown key 'catch_up_dayz' (did you mean 'catch_up_days'?)" in text
    assert "[network] coordinator_email: expected text, got int 42" in text
    assert "[network] sender: 'pas-une-adresse' is not a valid email address" in text
    assert all("\n" not in p for p in problems)
    assert len(problems) >= 4


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        pytest.param({"mail": 'backend = "pigeon"'}, "[mail] backend: 'pigeon' is not one of outbox", id="unknown-backend"),
        pytest.param({"reminders": 'catch_up_days = "sept"'}, "[reminders] catch_up_days: expected a whole number, got str", id="bad-number"),
        pytest.param({"reminders": "catch_up_days = true"}, "expected a whole number, got bool", id="bool-is-not-number"),
        pytest.param({"extra": '[tables.bindings]\ncantine = "workbook"\n'}, "unknown table 'cantine' (did you mean 'cantines'?)", id="unknown-table"),
        pytest.param({"network": ""}, "[network] coordinator_email: missing (required)", id="missing-required"),
    ],
)
def test_one_problem_one_clear_line(tmp_path: Path, extra: dict[str, str], expected: str) -> None:
    problems = problems_of(tmp_path, **extra)
    assert any(expected in p for p in problems), problems


def test_a_missing_secret_is_named_by_its_variable(tmp_path: Path) -> None:
    path = write_config(tmp_path, state='backend = "postgresql"')
    with pytest.raises(ConfigurationError) as caught:
        load_settings(path, {})
    assert caught.value.problems == ["[state] backend = 'postgresql' needs the DATABASE_URL environment variable"]
    settings = load_settings(path, {"SCALINGO_POSTGRESQL_URL": "postgres://u:secret@db:5432/app"})
    assert settings.database_url == "postgres://u:secret@db:5432/app"
    assert "secret" not in repr(settings.secrets)


def test_database_url_is_ignored_when_sqlite_is_chosen(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    path = write_config(tmp_path / "lite", state='backend = "sqlite"')
    assert load_settings(path, {"DATABASE_URL": "postgres://x@y/z"}).database_url is None
    assert make_settings(environ={"DATABASE_URL": "postgres://x@y/z"}).database_url == "postgres://x@y/z"


def test_a_missing_file_and_invalid_toml_are_one_line_each(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="configuration file not found"):
        load_settings(tmp_path / "nope.toml", {})
    broken = tmp_path / "broken.toml"
    broken.write_text("[network\nname = 1\n")
    with pytest.raises(ConfigurationError, match="invalid TOML"):
        load_settings(broken, {})


def test_a_broken_schema_is_reported_with_the_table_and_column(tmp_path: Path) -> None:
    schema = tmp_path / "schema.toml"
    schema.write_text(
        '[tables.cantines]\nname = "Cantines"\ncolumns = [\n'
        '  { name = "Nom", type = "texte" },\n'
        '  { name = "Ville", type = "link", table = "villes" },\n]\n'
    )
    path = write_config(tmp_path / "cfg")
    path.write_text(path.read_text().replace(str(REPO / "config" / "schema.toml"), str(schema)))
    with pytest.raises(ConfigurationError) as caught:
        load_settings(path, {})
    text = "\n".join(caught.value.problems)
    assert "[tables.cantines] column 1 (Nom): type must be one of" in text
    assert "column 'Ville' links to unknown table 'villes'" in text


def test_unknown_timezone_is_reported(tmp_path: Path) -> None:
    network = 'coordinator_email = "a@example.org"\nsender = "b@example.org"\ntimezone = "Europe/Lyon"\n'
    assert problems_of(tmp_path, network=network) == [
        "[network] timezone: unknown time zone 'Europe/Lyon' (e.g. 'Europe/Paris')"
    ]


def test_matching_settings_are_checked(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path, "[matching.weights]\nthemes = 40\ntheme = 3\nneeds = -1\n", matching="threshold = 120"
    )
    assert "[matching] threshold: expected a score from 0 to 100, got 120" in problems
    assert any(p.startswith("[matching.weights] unknown criterion 'theme'") for p in problems)
    assert "[matching.weights] needs: expected a whole number ≥ 0, got -1" in problems


def test_matching_weights_override_the_defaults(make_settings: Callable[..., Settings]) -> None:
    from automations.domain.matching import MatchingRules

    rules = MatchingRules.from_settings(make_settings(extra="[matching.weights]\nthemes = 50\n").matching)
    assert rules.weights == {"themes": 50, "needs": 20, "amount": 20, "time": 10, "history": 15}
    assert rules.total_weight == 115


@pytest.mark.parametrize(
    ("backend", "environ", "expected"),
    [
        pytest.param("smtp", {}, "[mail] backend = 'smtp' needs the SMTP_URL environment variable", id="smtp-without-url"),
        pytest.param("sendgrid", {}, "[mail] backend = 'sendgrid' needs the SENDGRID_API_KEY environment variable", id="sendgrid-without-key"),
        pytest.param("smtp", {"SMTP_URL": "http://user:s3cret@host"}, "SMTP_URL must start with smtp://", id="smtp-bad-scheme"),
    ],
)
def test_a_mail_provider_needs_its_secret(tmp_path: Path, backend: str, environ: dict[str, str], expected: str) -> None:
    problems = problems_of(tmp_path, mail=f'backend = "{backend}"', environ=environ)
    assert any(expected in p for p in problems), problems
    assert all("s3cret" not in p for p in problems)


def test_mail_backends_are_opened_from_the_environment(make_settings: Callable[..., Settings]) -> None:
    from automations.cycle.backends import open_mail
    from connectors.mail import OutboxBackend, SendGridBackend, SmtpBackend

    assert isinstance(open_mail(make_settings()), OutboxBackend)  # nothing is sent unless a provider is set
    smtp = open_mail(make_settings(mail='backend = "smtp"', environ={"SMTP_URL": "smtps://u:p%40ss@mail.example.org"}, folder="a"))
    assert isinstance(smtp, SmtpBackend) and "p@ss" not in repr(smtp)
    grid = open_mail(make_settings(mail='backend = "sendgrid"\nsendgrid_sandbox = true', folder="b",
                                   environ={"SENDGRID_API_KEY": "SG.key", "SENDGRID_HOST": "http://127.0.0.1:9"}))
    assert isinstance(grid, SendGridBackend) and grid.sandbox and grid.host == "http://127.0.0.1:9"
    assert "SG.key" not in repr(grid)


def test_an_airtable_hub_needs_its_token_and_base(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, tables='backend = "airtable"')
    assert "tables in Airtable need the AIRTABLE_TOKEN environment variable (a personal access token)" in problems
    assert "tables in Airtable need [airtable] base_id or the AIRTABLE_BASE_ID environment variable" in problems
    settings = load_settings(write_config(tmp_path / "ok", tables='backend = "airtable"'),
                             {"AIRTABLE_TOKEN": "pat.secret", "AIRTABLE_BASE_ID": "appAAAAAAAAAAAAAA"})
    assert settings.backend_for("echeances") == "airtable" and "pat.secret" not in repr(settings)


@pytest.mark.parametrize(
    ("sections", "expected"),
    [
        pytest.param({"aides_territoires": 'import_at = "6h30"'}, "[aides_territoires] import_at: '6h30' is not a time", id="import-time"),
        pytest.param({"aides_territoires": 'import_days = "mondays"'}, "[aides_territoires] import_days:", id="import-days"),
        pytest.param({"tables": 'backend = "sheets"', "sheets": 'spreadsheet = "https://docs.google.com/spreadsheets/d/1AbC/edit"'},
                     "[sheets] spreadsheet: give the key", id="sheet-url-not-key"),
        pytest.param({"extra": '[[syncs]]\nname = "x"\nsource = { spreadsheet = "https://docs.google.com/d/1A/edit", tab = "T" }\n'
                               'target = "indicateurs"\nkey = ["Mois"]\n'}, "spreadsheet must be the key", id="sync-sheet-url"),
    ],
)
def test_times_and_spreadsheet_keys_are_checked(tmp_path: Path, sections: dict[str, str], expected: str) -> None:
    problems = problems_of(tmp_path, environ={"GOOGLE_SERVICE_ACCOUNT_JSON": "{}"}, **sections)
    assert any(expected in p for p in problems), problems
