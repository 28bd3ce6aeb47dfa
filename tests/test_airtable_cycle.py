"""The full cycle with the hub on Airtable (the local fake): `cantines init airtable --with-demo-data`,
then the same data problems, reminders, messages and journal as on the workbook for the same data."""

from __future__ import annotations

import datetime as dt
import email
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email import policy
from pathlib import Path

import pytest
from click.testing import CliRunner

from automations.cycle.backends import open_tables
from automations.cli import cli
from automations.demo import demo_rows, fill_tables
from automations.domain.model import DOMAIN_TABLES
from automations.cycle.run import ReadAhead, RunReport, read_tables, run_cycle
from automations.settings import Settings, load_settings
from connectors.tables.airtable.http import Pacer

from .conftest import PARIS, write_config
from .fakes.airtable import BASE_ID, TOKEN, UNPACED, FakeAirtable

TODAY = dt.date(2026, 11, 24)


def clock() -> dt.datetime:
    return dt.datetime(2026, 11, 24, 7, 30, tzinfo=PARIS)


@dataclass
class Initialised:
    fake: FakeAirtable
    settings: Settings
    output: str


@pytest.fixture(scope="module")
def initialised(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Initialised]:
    """One base set up by `cantines init airtable --with-demo-data`."""
    with FakeAirtable(rate_limit=None) as fake:  # the fake does not limit: pacing is tested elsewhere
        environ = airtable_environ(fake)
        path = write_config(tmp_path_factory.mktemp("airtable"), tables='backend = "airtable"', airtable=UNPACED)
        result = CliRunner().invoke(cli, ["init", "airtable", "--config", str(path), "--with-demo-data",
                                          "--today", TODAY.isoformat()], env=environ)
        assert result.exit_code == 0, result.output
        yield Initialised(fake, load_settings(path, environ), result.output)


def airtable_environ(fake: FakeAirtable) -> dict[str, str]:
    return {"AIRTABLE_TOKEN": TOKEN, "AIRTABLE_BASE_ID": BASE_ID, "AIRTABLE_ENDPOINT_URL": fake.url}


def comparable_problems(report: RunReport) -> Counter:
    """Problems without where the rows are (row numbers in a workbook, record ids in Airtable)."""
    where = re.compile(r"de la ligne \d+|de l'enregistrement rec\w+")
    return Counter((p.table, p.column, p.value, where.sub("de #", p.message)) for p in report.problems)


def sent(settings: Settings) -> dict[str, tuple[str, str]]:
    folder: Path = settings.mail.outbox_dir
    found = {}
    for path in folder.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        if str(message["X-Cantines-Kind"]) == "brouillon-bilan":
            continue  # drafts carry a .docx whose bytes hold timestamps
        found[str(message["X-Cantines-Key"])] = (str(message["Subject"]), message.get_body(("plain",)).get_content())
    return found


def test_init_airtable_creates_the_schema_then_fills_the_demo_data(initialised: Initialised) -> None:
    fake, settings = initialised.fake, initialised.settings
    assert initialised.output.count("Créée : table") == len(settings.schema)
    assert "Données de démonstration du 24/11/2026 chargées." in initialised.output
    assert "ligne non chargée" in initialised.output  # values Airtable's typed fields refuse are said
    assert len(fake.rows("Cantines")) == 31  # 29 cantines and two deliberate problems
    fake.reset_counts()
    again = CliRunner().invoke(cli, ["init", "airtable", "--config", str(settings.path)], env=airtable_environ(fake))
    assert again.exit_code == 0 and "Créée" not in again.output and "Schéma à jour." in again.output
    assert fake.count("create-table") == 0 and fake.count("create-field") == 0 and fake.count("schema") >= 1


def test_the_cycle_on_airtable_matches_the_workbook(initialised: Initialised, make_settings: Callable[..., Settings]) -> None:
    fake, on_airtable = initialised.fake, initialised.settings
    # the same data in a workbook: what Airtable holds (it refused the values its typed fields cannot hold)
    on_workbook = make_settings(folder="workbook")
    airtable_tables = open_tables(on_airtable, airtable_options={"pacer": Pacer(1000, 1.0)})  # the fake does not limit
    rows = {code: [dict(r.fields) for r in airtable_tables[code].read()] for code in DOMAIN_TABLES}
    workbook_tables = open_tables(on_workbook, create=True)
    for table in workbook_tables.values():
        table.ensure_schema()
    assert fill_tables(workbook_tables, rows) == []

    fake.reset_counts()
    airtable_report = run_cycle(on_airtable, today=TODAY, clock=clock, tables=airtable_tables)
    workbook_report = run_cycle(on_workbook, today=TODAY, clock=clock)
    assert not airtable_report.errors and not workbook_report.errors
    assert comparable_problems(airtable_report) == comparable_problems(workbook_report)
    assert airtable_report.reminders == workbook_report.reminders > 0
    assert airtable_report.digests == workbook_report.digests > 0
    assert (airtable_report.queued, airtable_report.sent) == (workbook_report.queued, workbook_report.sent)
    on_airtable_sent = sent(on_airtable)
    # the same messages, but for the links to Airtable records that only the Airtable run can give
    record_link = re.compile(r"\r?\n *https://airtable\.com/app[A-Za-z0-9]+/tbl[A-Za-z0-9]+/rec[A-Za-z0-9]+")
    assert any(record_link.search(text) for _, text in on_airtable_sent.values())
    assert {k: (subject, record_link.sub("", text)) for k, (subject, text) in on_airtable_sent.items()} == sent(on_workbook)
    assert airtable_report.calls == {"airtable": len(fake.log)} and workbook_report.calls == {}  # every request counted
    assert {k: v for k, v in airtable_report.counts.items() if k != "appels_airtable"} == workbook_report.counts
    journal = [dict(r.fields) for r in airtable_tables["journal"].read()]
    assert journal[-1]["Emails envoyés"] == airtable_report.sent and journal[-1]["Résultat"] == "Avertissements"

    # a second cycle with nothing new writes nothing to Airtable but its journal line
    fake.reset_counts()
    second = run_cycle(on_airtable, today=TODAY, clock=clock, tables=airtable_tables)
    assert second.rows_written == 0
    writes = [r for r in fake.log if r.kind in ("create", "update", "upsert", "delete")]
    assert [(r.kind, r.table) for r in writes] == [("create", "Journal")]  # only its journal line


def test_a_field_renamed_in_airtable_is_one_problem_and_matching_waits(initialised: Initialised) -> None:
    fake, settings = initialised.fake, initialised.settings
    tables = open_tables(settings, airtable_options={"pacer": Pacer(1000, 1.0)})
    with fake._lock:  # a staff member renames « Date limite » in Airtable's interface
        field = fake._table(fake.bases[BASE_ID], "Opportunités").field("Date limite")
        assert field is not None
        field.name = "Date limite AAP"
    try:
        before = fake.rows("Correspondances")
        report = run_cycle(settings, today=TODAY, clock=clock, tables=tables)
        (problem,) = [p for p in report.problems if p.row == "en-têtes"]
        assert (problem.table, problem.column) == ("Opportunités", "Date limite")
        assert problem.message.startswith("colonne « Date limite » absente de Opportunités")
        assert report.result == "Incomplet" and not report.fatal and report.matches == []
        assert fake.rows("Correspondances") == before  # nothing recomputed nor marked « ne correspond plus »
        assert not [p for p in report.problems if "Date limite" in p.message and p.row != "en-têtes"]
    finally:
        with fake._lock:
            field.name = "Date limite"


# -- the matching's write-back, sent from a thread while the mail is rendered and sent ---------------

@pytest.fixture
def demo_base(make_settings: Callable[..., Settings]) -> Iterator[tuple[FakeAirtable, Settings]]:
    """A fresh base holding the demo data (loaded at full speed), 50 ms of latency on every request."""
    with FakeAirtable(rate_limit=None) as fake:
        settings = make_settings(environ=airtable_environ(fake), tables='backend = "airtable"')
        tables = open_tables(settings, airtable_options={"pacer": Pacer(10_000, 1.0)})
        tables["cantines"].base.ensure_all()  # type: ignore[attr-defined]
        fill_tables(tables, demo_rows(TODAY))
        fake.reset_counts()
        fake.latency = 0.05
        yield fake, settings


def writes(fake: FakeAirtable) -> list[tuple[str, str | None]]:
    return [(r.kind, r.table) for r in fake.log if r.kind in ("create", "update", "upsert", "delete")]


def test_a_write_back_that_fails_fails_the_run_and_the_next_one_writes_it(demo_base: tuple[FakeAirtable, Settings]) -> None:
    fake, settings = demo_base
    fake.fail_next(500, method="POST")  # the first write (a create is not sent twice: no retry)
    tables = open_tables(settings, airtable_options={"pacer": Pacer(1000, 1.0)})
    report = run_cycle(settings, today=TODAY, clock=clock, tables=tables)
    (failed,) = [r for r in fake.log if r.status == 500]
    assert failed.table == "Correspondances"  # the thread's first request
    assert report.fatal and report.result == "Échec"
    assert any("Correspondances" in error for error in report.errors)
    # the mail did not wait for the hub: the run had rendered, queued and sent it, once
    assert report.sent == report.queued > 0
    # nothing after the failure was written but the run's Envois rows and Journal line
    assert writes(fake)[-1] == ("create", "Journal")
    assert ("create", "Problèmes") not in writes(fake)
    journal = tables["journal"].read()
    assert journal[-1].fields["Résultat"] == "Échec"

    fake.reset_counts()
    again = run_cycle(settings, today=TODAY, clock=clock, tables=open_tables(settings, airtable_options={"pacer": Pacer(1000, 1.0)}))
    assert not again.fatal and again.sent == again.queued == 0 and again.already_queued > 0  # nothing sent twice
    assert len(fake.rows("Correspondances")) == len(again.matches) > 0
    assert ("create", "Problèmes") in writes(fake)


def test_a_stop_during_the_write_back_ends_it_between_two_batches_and_the_next_run_finishes_it(
        demo_base: tuple[FakeAirtable, Settings]) -> None:
    fake, settings = demo_base
    # asked as soon as the write-back has begun (it goes on while the messages are rendered)
    started = lambda: fake.count("create", table="Correspondances") > 0  # noqa: E731
    tables = open_tables(settings, airtable_options={"pacer": Pacer(1000, 1.0)})
    report = run_cycle(settings, today=TODAY, clock=clock, tables=tables, should_stop=started)
    assert report.stopped and not report.fatal and report.result == "Interrompu"
    assert report.sent == 0  # stopped before the mail
    # the write-back stopped between two batches of 10: one batch written, nothing cut in half
    written = len(fake.rows("Correspondances"))
    assert written == 10 < len(report.matches)
    assert ("create", "Problèmes") not in writes(fake) and writes(fake)[-1] == ("create", "Journal")
    assert [t.name for t in threading.enumerate() if t.name == "matching-write-back"] == []  # not left running

    again = run_cycle(settings, today=TODAY, clock=clock, tables=open_tables(settings, airtable_options={"pacer": Pacer(1000, 1.0)}))
    assert not again.stopped and not again.fatal
    assert len(fake.rows("Correspondances")) == len(again.matches) == len(report.matches)  # finished, no duplicate
    assert again.new_matches == len(report.matches) - written


# -- the staff tables read ahead: parsed while the next ones are read ---------------------------------

def test_the_tables_read_first_are_there_while_the_next_ones_are_read(demo_base: tuple[FakeAirtable, Settings]) -> None:
    fake, settings = demo_base
    tables = open_tables(settings, airtable_options={"pacer": Pacer(1000, 1.0)})
    report = RunReport(today=TODAY, started_at=clock())
    reading = ReadAhead(tables, report)
    cantines = reading["cantines"]
    lists_when_there = fake.count("list")
    reading.finish(report)
    assert lists_when_there < fake.count("list")  # the parsing could begin: later tables were still being read
    assert not report.errors and not report.problems
    # the same rows as reading them one after the other
    one_by_one = read_tables(open_tables(settings, airtable_options={"pacer": Pacer(1000, 1.0)}), report)
    assert {code: [r.fields for r in rows] for code, rows in reading.items()} == \
        {code: [r.fields for r in rows] for code, rows in one_by_one.items()}
    assert [r.fields for r in cantines] == [r.fields for r in one_by_one["cantines"]]


def test_a_table_deleted_in_airtable_while_reading_ahead_is_said_and_the_rest_goes_on(
        demo_base: tuple[FakeAirtable, Settings]) -> None:
    fake, settings = demo_base
    with fake._lock:  # staff delete the Candidatures table in Airtable's interface
        base = fake.bases[BASE_ID]
        base.tables = [t for t in base.tables if t.name != "Candidatures"]
    report = run_cycle(settings, today=TODAY, clock=clock, tables=open_tables(settings, airtable_options={"pacer": Pacer(1000, 1.0)}))
    assert not report.fatal and report.incomplete
    whole = [p for p in report.problems if p.row == "onglet entier"]
    assert whole[0].table == "Candidatures" and "rien n'est calculé sans elle" in whole[0].message
    assert any(e.startswith("Candidatures : lecture impossible") for e in report.errors)
    # the tables after it were read and parsed: the reminders that do not need it went out
    assert fake.count("list", table="Inscriptions") == 1 and report.rows_read > 0 and report.sent > 0
    # said as reading the tables one after the other says it (Conventions too: it links to Candidatures)
    ahead, one_by_one = RunReport(today=TODAY, started_at=clock()), RunReport(today=TODAY, started_at=clock())
    reading = ReadAhead(open_tables(settings, airtable_options={"pacer": Pacer(1000, 1.0)}), ahead)
    reading.finish(ahead)
    read_tables(open_tables(settings, airtable_options={"pacer": Pacer(1000, 1.0)}), one_by_one)
    assert (ahead.errors, ahead.problems, ahead.incomplete) == (one_by_one.errors, one_by_one.problems, True)
    assert [p.table for p in ahead.problems] == ["Candidatures", "Conventions"]
    assert [(p.table, p.message) for p in whole] == [(p.table, p.message) for p in ahead.problems]


def test_a_token_refused_while_reading_ahead_fails_the_run_once(demo_base: tuple[FakeAirtable, Settings]) -> None:
    fake, settings = demo_base
    tables = open_tables(settings, airtable_options={"pacer": Pacer(1000, 1.0)})
    tables["cantines"].read()  # the schema and the first table read: the token is withdrawn after
    fake.reset_counts()
    fake.fail_next(401, after=3)  # the 4th request of the run's reads
    report = run_cycle(settings, today=TODAY, clock=clock, tables=tables)
    assert report.fatal and report.sent == 0
    assert [e for e in report.errors if "HTTP 401" in e] == report.errors[:1]  # said once, first
    assert fake.count("list") <= 4  # the reads stopped there



def test_a_stop_while_reading_ahead_ends_the_reads_before_the_next_table(demo_base: tuple[FakeAirtable, Settings]) -> None:
    fake, settings = demo_base
    asked = lambda: fake.count("list", table="Opportunités") > 0  # noqa: E731  # SIGTERM once Opportunités is read
    report = run_cycle(settings, today=TODAY, clock=clock, tables=open_tables(settings, airtable_options={"pacer": Pacer(1000, 1.0)}),
                       should_stop=asked)
    assert report.stopped and report.result == "Interrompu" and report.sent == 0 and not report.fatal
    assert fake.count("list", table="Opportunités") == 1 and fake.count("list", table="Candidatures") == 0
    assert [w for w in writes(fake) if w[1] != "Envois"] == [("create", "Journal")]  # nothing computed was written
    assert [t.name for t in threading.enumerate() if t.name == "read-ahead"] == []
