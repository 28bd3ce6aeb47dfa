"""Google Sheets in the cycle (through the local fake): the hub on a spreadsheet set up by
`cantines init sheets --with-demo-data`, and cantines' own spreadsheets synced into the hub, one
batchGet per spreadsheet, one not shared beside the others."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator

import pytest
from click.testing import CliRunner

from automations.cli import cli
from automations.demo import cantine_workbook_rows, write_demo_workbook
from automations.cycle.run import run_cycle
from automations.settings import Settings

from .conftest import PARIS
from .fakes.sheets import FakeSheets, service_account_info

TODAY = dt.date(2026, 11, 24)
ACCOUNT = "cantines-worker@cantines-tests.iam.gserviceaccount.com"
HUB = "1HubCantinesSpreadsheetKey00000000000000000"
COLUMNS = ["Mois", "Repas servis", "Convives", "Bénévoles actifs", "Heures de bénévolat", "Animations", "Produits locaux (%)"]


def clock() -> dt.datetime:
    return dt.datetime(2026, 11, 24, 7, 30, tzinfo=PARIS)


@pytest.fixture
def fake() -> Iterator[FakeSheets]:
    with FakeSheets() as server:
        yield server


def environ(fake: FakeSheets) -> dict[str, str]:
    return {"GOOGLE_SERVICE_ACCOUNT_JSON": json.dumps(service_account_info(ACCOUNT, fake.token_uri)),
            "GOOGLE_SHEETS_ENDPOINT_URL": fake.url}


def test_the_hub_on_a_spreadsheet(fake: FakeSheets, make_settings: Callable[..., Settings]) -> None:
    fake.add_spreadsheet(HUB, title="Hub des cantines", shared_with=[ACCOUNT])
    settings = make_settings(tables='backend = "sheets"', sheets=f'spreadsheet = "{HUB}"', environ=environ(fake))
    result = CliRunner().invoke(cli, ["init", "sheets", "--config", str(settings.path), "--with-demo-data",
                                      "--today", TODAY.isoformat()], env=environ(fake))
    assert result.exit_code == 0, result.output
    assert result.output.count("Créé : onglet") == len(settings.schema)
    assert len(fake.values(HUB, "Cantines")) == 32  # the header and the demo's 31 rows
    fake.reset_counts()
    report = run_cycle(settings, today=TODAY, clock=clock)
    assert not report.errors and len(report.problems) == 12  # the demo's deliberate problems, as on the workbook
    assert report.sent == 32 and report.matches
    assert fake.count("batchGet") == 1  # every tab the run needs, in one request
    # the write-back, the Envois rows and the journal line: at most one batchUpdate of changed cells and
    # one adding rows (to every tab) per spreadsheet and cycle
    writes = {k: n for k, n in fake.counts().items() if k not in ("batchGet", "get", "values.get")}
    assert writes == {"batchUpdate": 1}  # a first cycle only adds rows (changed cells would be one values:batchUpdate)
    (added,) = fake.requests("batchUpdate")
    assert len({r["insertDimension"]["range"]["sheetId"] for r in added.body["requests"] if "insertDimension" in r}) == 6
    journal = fake.values(HUB, "Journal")
    assert len(journal) == 2 and journal[1][2] == "Avertissements"
    fake.reset_counts()
    again = run_cycle(settings, today=TODAY, clock=clock)
    assert again.rows_written == 0 and again.queued == 0
    # nothing new: the Journal line is the only write (a per-record peer would send one too)
    assert {k: n for k, n in fake.counts().items() if k not in ("batchGet", "get", "values.get")} == {"batchUpdate": 1}
    (line,) = fake.requests("batchUpdate")
    assert {next(iter(r)) for r in line.body["requests"]} == {"insertDimension", "updateCells", "repeatCell"}
    assert len(fake.values(HUB, "Journal")) == 3
    fake.reset_counts()  # the next day: messages sent, Envois rows updated, correspondances refreshed
    later = run_cycle(settings, today=TODAY + dt.timedelta(days=1),
                      clock=lambda: clock() + dt.timedelta(days=1))
    assert later.rows_written > 0
    assert {k: n for k, n in fake.counts().items() if k not in ("batchGet", "get", "values.get")} == {
        "values.batchUpdate": 1, "batchUpdate": 1}


def test_cantine_spreadsheets_sync_into_the_hub_one_not_shared(fake: FakeSheets, make_settings: Callable[..., Settings]) -> None:
    keys = {}
    for index, (name, rows) in enumerate(cantine_workbook_rows(TODAY).items()):
        key = f"1Cantine{index}Spreadsheet0000000000000000000"
        keys[name] = key
        fake.add_spreadsheet(key, title=f"Indicateurs – {name}",
                             tabs={"Indicateurs": [COLUMNS, *([r[c] for c in COLUMNS] for r in rows)]},
                             shared_with=[ACCOUNT] if index != 1 else ["quelquun@example.org"])
    syncs = "".join(
        f'\n[[syncs]]\nname = "indicateurs-{index}"\nsource = {{ spreadsheet = "{key}", tab = "Indicateurs" }}\n'
        f'target = "indicateurs"\nkey = ["Cantine", "Mois"]\nconstants = {{ Cantine = "{name}" }}\n'
        for index, (name, key) in enumerate(keys.items())
    )
    settings = make_settings(extra=syncs, environ=environ(fake))
    write_demo_workbook(settings, TODAY)
    fake.reset_counts()
    report = run_cycle(settings, today=TODAY, clock=clock)
    assert len(report.syncs) == 2 and sum(r.created for r in report.syncs) == 2
    (error,) = [e for e in report.errors if "indicateurs-1" in e]
    assert ACCOUNT in error  # says which address to share the spreadsheet with
    assert fake.count("batchGet") == 3  # one per spreadsheet
    run_cycle(settings, today=TODAY, clock=clock)  # the spreadsheets' sheet ids are known by now
    fake.reset_counts()
    again = run_cycle(settings, today=TODAY, clock=clock)
    assert all(r.written == 0 for r in again.syncs)
    assert sum(n for k, n in fake.counts().items() if k not in ("batchGet", "get", "values.get")) == 0
