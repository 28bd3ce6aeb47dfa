"""The full cycle on a workbook: problems, reminders, journal, idempotent sending, replay by date."""

from __future__ import annotations

import datetime as dt
import email
from collections.abc import Callable
from email import policy
from pathlib import Path

import openpyxl
import pytest

from automations.demo import demo_rows, write_demo_workbook
from automations.cycle.backends import open_tables
from automations.cycle.run import run_cycle
from automations.settings import Settings
from connectors.state import StateStore
from connectors.tables.workbook import WorkbookStore

from .conftest import PARIS

TODAY = dt.date(2026, 11, 24)
# On that day the demo has one échéance at each reminder offset (6), a compte rendu financier due in
# 30 days (its J-30 reminder, and the one asking the cantine for its actual amounts, its budget's
# « Montant réalisé » being still empty), a candidature due in 7 days and a partner action due today.
DEMO_REMINDERS = 10
# 24/11/2026 is the Tuesday of a week whose Monday digest has not gone out yet: 16 cantines have
# something for the week (new matches, échéances coming or overdue, of their own or of their
# conventions, offers, questions), plus the coordinator's digest.
DEMO_DIGESTS = 17
# and five reports due within 45 days (bilans finals come after their convention ends; two comptes
# rendus financiers), whose drafts go to their échéance's Responsable
DEMO_DRAFTS = 5
DEMO_MESSAGES = DEMO_REMINDERS + DEMO_DIGESTS + DEMO_DRAFTS


@pytest.fixture
def demo(settings: Settings) -> Settings:
    write_demo_workbook(settings, TODAY)
    return settings


def clock_at(day: dt.date) -> Callable[[], dt.datetime]:
    return lambda: dt.datetime.combine(day, dt.time(7, 30), tzinfo=PARIS)


def outbox_messages(settings: Settings) -> list[email.message.EmailMessage]:
    folder: Path = settings.mail.outbox_dir
    return [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)  # type: ignore[misc]
        for p in sorted(folder.glob("*.eml"))
    ]


def reminders_about(settings: Settings, title: str) -> list[email.message.EmailMessage]:
    """The reminders (not the report drafts) whose subject names `title`."""
    return [m for m in outbox_messages(settings)
            if title in str(m["Subject"]) and str(m["X-Cantines-Kind"]).startswith("rappel")]


def sheet_rows(settings: Settings, code: str) -> list[dict]:
    return [dict(r.fields) for r in WorkbookStore(settings.workbook.path, timezone=PARIS).table(settings.schema[code]).read()]


def edit_cell(settings: Settings, tab: str, match: Callable[[dict], bool], column: str, value: object) -> None:
    book = openpyxl.load_workbook(settings.workbook.path)
    sheet = book[tab]
    header = [c.value for c in sheet[1]]
    for row in sheet.iter_rows(min_row=2):
        values = dict(zip(header, (c.value for c in row)))
        if match(values):
            row[header.index(column)].value = value
    book.save(settings.workbook.path)


def test_two_runs_send_each_reminder_once(demo: Settings) -> None:
    first = run_cycle(demo, today=TODAY, clock=clock_at(TODAY))
    assert (first.reminders, first.digests) == (DEMO_REMINDERS, DEMO_DIGESTS)
    assert (first.queued, first.sent, first.already_queued) == (DEMO_MESSAGES, DEMO_MESSAGES, 0)
    second = run_cycle(demo, today=TODAY, clock=clock_at(TODAY))
    assert (second.reminders, second.digests) == (DEMO_REMINDERS, DEMO_DIGESTS)
    assert (second.queued, second.sent, second.already_queued) == (0, 0, DEMO_MESSAGES - DEMO_DRAFTS)
    assert (first.drafts, second.drafts) == (DEMO_DRAFTS, 0)  # drafts already sent are not even rendered
    messages = outbox_messages(demo)
    assert len(messages) == DEMO_MESSAGES
    assert len({m["Message-ID"] for m in messages}) == DEMO_MESSAGES
    assert sum(1 for m in messages if str(m["X-Cantines-Kind"]).startswith("rappel-echeance")) == 7
    (actuals,) = [m for m in messages if str(m["X-Cantines-Kind"]) == "rappel-budget-realise"]
    assert "aura besoin des dépenses réalisées" in actuals.get_body(("plain",)).get_content()
    subjects = sorted(str(m["Subject"]) for m in messages)
    assert any(s.startswith("En retard : Bilan final") for s in subjects)
    assert any("Bilan intermédiaire" in s and "dans 30 jours" in s for s in subjects)
    assert (demo.mail.outbox_dir / "index.html").read_text().count('.html">') == DEMO_MESSAGES
    state = StateStore.open(None, sqlite_path=demo.state.path)
    assert state.counts() == {"sent": DEMO_MESSAGES}
    assert [r["result"] for r in state.last_runs()] == ["Avertissements", "Avertissements"]


def test_reminder_goes_to_the_responsable_with_the_right_figures(demo: Settings) -> None:
    run_cycle(demo, today=TODAY, clock=clock_at(TODAY))
    rows = demo_rows(TODAY)["echeances"]
    week = next(r for r in rows if r["Date d'échéance"] == TODAY + dt.timedelta(days=7))
    (message,) = reminders_about(demo, week["Intitulé"])
    assert message["To"] == week["Responsable"]
    text = message.get_body(("plain",)).get_content()
    assert "dans 7 jours, le mardi 1er décembre 2026" in text
    assert week["Convention"] in text
    html = message.get_body(("html",)).get_content()
    assert "<strong>dans 7 jours</strong>" in html


def test_data_problems_are_written_kept_and_removed_when_fixed(demo: Settings) -> None:
    report = run_cycle(demo, today=TODAY, clock=clock_at(TODAY))
    problems = sheet_rows(demo, "problemes")
    # 8 rows that cannot be read (one a budget line of unknown nature) and 4 subsidy checks
    assert len(problems) == len(report.problems) == 12
    assert len(report.checks) == 4
    canal = [p for p in problems if "Cantine du Canal" in p["Ligne"]]
    assert canal and canal[0]["Colonne"] == "Département" and canal[0]["Valeur"] == "99"
    assert all(p["Vu le"] == TODAY for p in problems)

    edit_cell(demo, "Cantines", lambda v: v["Nom"] == "Cantine du Canal", "Département", "69")
    tomorrow = TODAY + dt.timedelta(days=1)
    run_cycle(demo, today=tomorrow, clock=clock_at(tomorrow))
    problems = sheet_rows(demo, "problemes")
    assert len(problems) == 11
    assert not [p for p in problems if "Cantine du Canal" in p["Ligne"]]
    assert all(p["Vu le"] == TODAY for p in problems)  # first seen yesterday, still there


def test_a_run_that_changes_nothing_writes_nothing_but_its_journal(demo: Settings) -> None:
    tables = open_tables(demo)
    run_cycle(demo, today=TODAY, clock=clock_at(TODAY), tables=tables)
    assert tables["journal"].store.saves == 1  # type: ignore[attr-defined]  # the hub saved once, Journal included
    second = run_cycle(demo, today=TODAY, clock=clock_at(TODAY))
    assert second.rows_written == 0
    journal = sheet_rows(demo, "journal")
    assert len(journal) == 2
    assert journal[1]["Résultat"] == "Avertissements"
    assert journal[1]["Problèmes"] == 12
    assert journal[0]["Emails envoyés"] == DEMO_MESSAGES and journal[1]["Emails envoyés"] == 0


def test_moving_a_due_date_makes_new_reminders_and_done_stops_them(demo: Settings) -> None:
    run_cycle(demo, today=TODAY, clock=clock_at(TODAY))
    rows = demo_rows(TODAY)["echeances"]
    week = next(r for r in rows if r["Date d'échéance"] == TODAY + dt.timedelta(days=7))
    month = next(r for r in rows if r["Date d'échéance"] == TODAY + dt.timedelta(days=30))
    next_day = TODAY + dt.timedelta(days=1)
    # the "in 7 days" item is postponed by one day: it is due in 7 days again tomorrow
    edit_cell(demo, "Échéances", lambda v: v["Intitulé"] == week["Intitulé"], "Date d'échéance",
              dt.datetime.combine(week["Date d'échéance"] + dt.timedelta(days=1), dt.time()))
    # the "in 30 days" item is postponed too, but marked as sent: no reminder
    edit_cell(demo, "Échéances", lambda v: v["Intitulé"] == month["Intitulé"], "Date d'échéance",
              dt.datetime.combine(month["Date d'échéance"] + dt.timedelta(days=1), dt.time()))
    edit_cell(demo, "Échéances", lambda v: v["Intitulé"] == month["Intitulé"], "Statut", "Envoyée")
    run_cycle(demo, today=next_day, clock=clock_at(next_day))
    week_messages = reminders_about(demo, week["Intitulé"])
    assert len(week_messages) == 2  # the original reminder and the one for the new date
    assert {str(m["X-Cantines-Key"]).rsplit(":", 2)[1] for m in week_messages} == {
        (week["Date d'échéance"] + dt.timedelta(days=d)).isoformat() for d in (0, 1)
    }
    month_messages = reminders_about(demo, month["Intitulé"])
    assert len(month_messages) == 1  # only yesterday's: done items are not reminded


def test_an_echeance_without_responsable_goes_to_the_others_or_the_coordinator(demo: Settings) -> None:
    rows = demo_rows(TODAY)["echeances"]
    week = next(r for r in rows if r["Date d'échéance"] == TODAY + dt.timedelta(days=7))
    payment = next(r for r in rows if r["Type"] == "Versement" and r["Date d'échéance"] == TODAY + dt.timedelta(days=2))
    for row in (week, payment):
        edit_cell(demo, "Échéances", lambda v, row=row: v["Intitulé"] == row["Intitulé"], "Responsable", None)
    report = run_cycle(demo, today=TODAY, clock=clock_at(TODAY))
    cantine = next(c for c in demo_rows(TODAY)["cantines"] if c["Nom"] == week["Cantine"])
    (message,) = reminders_about(demo, week["Intitulé"])
    assert message["To"] == cantine["Email responsable"]  # the rule's next recipient
    assert "aucun responsable" in message.get_body(("plain",)).get_content()
    (alone,) = reminders_about(demo, payment["Intitulé"])
    assert alone["To"] == demo.network.coordinator_email  # nobody else: the coordinator
    assert sum(1 for p in report.problems if "aucun responsable" in p.message and "rappel" in p.message) == 2
    assert any("brouillon" in p.message for p in report.problems)  # its draft too went to the coordinator


def test_dry_run_computes_but_writes_and_queues_nothing(demo: Settings) -> None:
    before = demo.workbook.path.read_bytes()
    report = run_cycle(demo, today=TODAY, clock=clock_at(TODAY), dry_run=True)
    assert len(report.messages) == DEMO_MESSAGES - DEMO_DRAFTS and report.queued == 0  # drafts are not previewed
    assert demo.workbook.path.read_bytes() == before
    assert not demo.state.path.exists()
    assert not demo.mail.outbox_dir.exists()


def test_an_unreadable_table_is_reported_and_the_rest_goes_on(demo: Settings) -> None:
    book = openpyxl.load_workbook(demo.workbook.path)
    del book["Visites"]
    book.save(demo.workbook.path)
    report = run_cycle(demo, today=TODAY, clock=clock_at(TODAY))
    assert any("Visites" in e and "absent" in e for e in report.errors)
    assert report.sent == DEMO_MESSAGES - 1  # all but the coordinator's digest, which lists the visits
    assert report.postponed == ["récapitulatif de la coordination : en attente d'une lecture complète (Visites non lue)"]
    assert "recapitulatif-coordination" not in {str(m["X-Cantines-Kind"]) for m in outbox_messages(demo)}
    assert report.result == "Incomplet"  # not a completed run: the next one covers the same days again
    state = StateStore.open(None, sqlite_path=demo.state.path)
    assert state.last_completed_day("cycle", before=TODAY + dt.timedelta(days=1)) is None


def test_replaying_a_day_gives_the_same_messages(demo: Settings, make_settings: Callable[..., Settings]) -> None:
    run_cycle(demo, today=TODAY, clock=clock_at(TODAY))
    other = make_settings(folder="replay")
    write_demo_workbook(other, TODAY)
    later = dt.datetime(2027, 1, 5, 9, 0, tzinfo=PARIS)
    run_cycle(other, today=TODAY, clock=lambda: later)  # replayed weeks later with --today
    first = {m["Message-ID"]: m.get_body(("plain",)).get_content() for m in outbox_messages(demo)}
    replay = {m["Message-ID"]: m.get_body(("plain",)).get_content() for m in outbox_messages(other)}
    assert first == replay


def test_missed_days_are_caught_up_once(settings: Settings) -> None:
    monday = dt.date(2026, 11, 23)
    thursday = monday + dt.timedelta(days=3)
    write_demo_workbook(settings, monday)
    run_cycle(settings, today=monday, clock=clock_at(monday))
    # the worker was down on Tuesday and Wednesday
    report = run_cycle(settings, today=thursday, clock=clock_at(thursday))
    from automations.domain.model import parse_dataset
    from automations.domain.reminders import due_reminders
    from connectors.tables.workbook import WorkbookStore as Store

    store = Store(settings.workbook.path, timezone=PARIS)
    rows = {code: store.table(settings.schema[code]).read() for code in ("cantines", "partenaires", "opportunites",
            "candidatures", "conventions", "echeances", "offres", "declinaisons", "indicateurs", "questions", "visites")}
    dataset = parse_dataset(rows, settings.schema, settings.reference, PARIS)
    window = due_reminders(settings.rules, dataset, thursday, since=monday)
    only_today = due_reminders(settings.rules, dataset, thursday)
    assert len(window) > len(only_today)  # Tuesday's and Wednesday's reminders were due too
    assert report.reminders == len(window)
    assert report.queued == len(window) and report.digests == DEMO_DIGESTS  # this week's digests were sent on Monday
    again = run_cycle(settings, today=thursday, clock=clock_at(thursday))
    assert again.queued == 0
    keys = [str(m["X-Cantines-Key"]) for m in outbox_messages(settings)]
    assert len(keys) == len(set(keys))


def test_a_message_interrupted_while_sending_is_resent_by_the_outbox(demo: Settings) -> None:
    import sqlalchemy as sa

    from connectors.state import outbox

    run_cycle(demo, today=TODAY, clock=clock_at(TODAY))
    state = StateStore.open(None, sqlite_path=demo.state.path)
    with state.engine.begin() as conn:  # a process died after claiming this message
        conn.execute(outbox.update().where(outbox.c.id == 1).values(status="sending", sent_at=None))
    files = sorted(p.name for p in demo.mail.outbox_dir.glob("*.eml"))
    report = run_cycle(demo, today=TODAY, clock=clock_at(TODAY))
    assert report.sent == 1 and report.held == 0
    assert state.counts() == {"sent": DEMO_MESSAGES}
    assert sorted(p.name for p in demo.mail.outbox_dir.glob("*.eml")) == files  # same file, not a second one
    with state.engine.connect() as conn:
        note = conn.execute(sa.select(outbox.c.last_error).where(outbox.c.id == 1)).scalar()
    assert note is None  # cleared once sent


def test_a_provider_that_cannot_tell_gets_the_interrupted_message_held(demo: Settings) -> None:
    from email.message import EmailMessage

    from automations.cycle.run import RunReport, deliver
    from connectors.mail import MailBackend

    class Recording(MailBackend):  # a provider that cannot say whether it accepted a message
        name = "api"
        after_crash = "hold"

        def __init__(self) -> None:
            self.delivered: list[str] = []

        def deliver(self, message: EmailMessage) -> str | None:
            self.delivered.append(str(message["Message-ID"]))
            return "id-" + str(len(self.delivered))

    state = StateStore.open(None, sqlite_path=demo.state.path)
    state.migrate(clock_at(TODAY)())
    for key in ("a", "b"):
        state.enqueue(key=key, kind="test", recipients=["x@example.org"], subject=key,
                      message=b"Subject: x\r\nMessage-ID: <" + key.encode() + b"@x>\r\n\r\nbody\r\n", now=clock_at(TODAY)())
    first = state.pending()[0]
    assert state.claim(first.id)  # ...and the process died here
    backend = Recording()
    report = RunReport(today=TODAY, started_at=clock_at(TODAY)())
    deliver(state, backend, clock_at(TODAY), report)
    assert backend.delivered == ["<b@x>"]  # the interrupted one is not sent blindly
    assert (report.sent, report.held, report.held_total) == (1, 1, 1)
    assert state.counts() == {"sent": 1, "held": 1}
    assert any("interrompu" in e for e in report.errors)


def test_a_value_the_backend_refuses_becomes_a_data_problem() -> None:
    from automations.cycle.run import RunReport, refused_value
    from connectors.errors import UnknownLinkError

    report = RunReport(today=TODAY, started_at=clock_at(TODAY)())

    def write() -> None:
        raise UnknownLinkError("« Cantine Fantôme » ne correspond à aucune ligne de Cantines",
                               table="Correspondances", column="Cantine", value="Cantine Fantôme")

    refused_value(report, write)  # does not raise: the run goes on
    (problem,) = report.problems
    assert (problem.table, problem.column, problem.value) == ("Correspondances", "Cantine", "Cantine Fantôme")
    assert problem.message.startswith("écriture refusée : « Cantine Fantôme »")


def test_a_broken_template_costs_only_its_messages(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    import shutil

    from .conftest import REPO

    templates = tmp_path / "templates"
    shutil.copytree(REPO / "templates", templates)
    body = templates / "emails" / "digest_cantine" / "body.txt"
    body.write_text(body.read_text() + "{{ digest.inexistant }}\n")  # a staff edit gone wrong
    from automations.settings import load_settings

    from .conftest import write_config

    path = write_config(tmp_path / "broken")
    path.write_text(path.read_text().replace(f'templates = "{REPO / "templates"}"', f'templates = "{templates}"'))
    settings = load_settings(path, {})
    write_demo_workbook(settings, TODAY)
    report = run_cycle(settings, today=TODAY, clock=clock_at(TODAY))
    assert not report.fatal
    assert report.sent == DEMO_MESSAGES - (DEMO_DIGESTS - 1)  # every cantine digest left out, nothing else
    (problem,) = [p for p in report.problems if p.table == "Modèles d'emails"]
    assert "digest_cantine" in problem.row and "inexistant" in problem.message


def test_a_partial_job_does_not_remove_the_problems_other_jobs_found(demo: Settings) -> None:
    from automations.cycle.run import SYNC

    rows = demo_rows(TODAY)["echeances"]
    week = next(r for r in rows if r["Date d'échéance"] == TODAY + dt.timedelta(days=7))
    edit_cell(demo, "Échéances", lambda v: v["Intitulé"] == week["Intitulé"], "Responsable", None)
    run_cycle(demo, today=TODAY, clock=clock_at(TODAY))
    found = [p for p in sheet_rows(demo, "problemes") if "aucun responsable" in p["Problème"]]
    assert found
    run_cycle(demo, today=TODAY, clock=clock_at(TODAY), job="sync", parts=frozenset({SYNC}))
    kept = [p for p in sheet_rows(demo, "problemes") if "aucun responsable" in p["Problème"]]
    assert kept == found  # the hourly sync job computes no reminders: it leaves their problems alone
