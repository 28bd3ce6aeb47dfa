"""The Envois table on the workbook backend: one row per queued message, written only where it
changed, « Relancer » putting a refused message back (rebuilt for a corrected address), old sent
rows pruned, `cantines status` saying the same; and the coordinator's digest listing what to do."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from automations.cli import cli
from automations.cycle.envois import read_envois, write_envois
from automations.cycle.messages import Network, digest_messages
from automations.cycle.render import Renderer
from automations.cycle.run import run_cycle
from automations.demo import write_demo_workbook
from automations.domain.digests import coordinator_digest
from automations.domain.envois import FAILED, HELD, SENT, WAITING, Envoi, envois
from automations.domain.model import parse_dataset
from automations.settings import Settings
from automations.status import format_status
from automations.settings.files import load_schema
from connectors.state import StateStore
from connectors.tables.airtable.client import AirtableBase
from connectors.tables.workbook import WorkbookStore

from .conftest import PARIS, REPO
from .fakes.airtable import BASE_ID, TOKEN, FakeAirtable
from .fakes.clock import FakeClock
from .fakes.sendgrid import FakeSendGrid

MONDAY = dt.date(2026, 11, 23)
SCHEMA = load_schema(REPO / "config" / "schema.toml")
REFUSED_KEY = "reminder:echeance-rapport:CONV-2026-06|Bilan final|Cantine Bellevue|2026-11-16:2026-11-16:+7"
OLD_ADDRESS, NEW_ADDRESS = "bellevue@petites-cantines.example", "bellevue.cuisine@example.org"


def clock_on(day: dt.date) -> Callable[[], dt.datetime]:
    return lambda: dt.datetime.combine(day, dt.time(7, 30), tzinfo=PARIS)


def envois_tab(settings: Settings) -> dict[str, dict]:
    """The Envois tab as staff see it, opened with openpyxl: header row, then one row per message."""
    sheet = openpyxl.load_workbook(settings.workbook.path)["Envois"]
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, (c.value for c in row))) for row in sheet.iter_rows(min_row=2)]
    return {row["Clé"]: row for row in rows if row["Clé"]}


def edit(settings: Settings, code: str, key_column: str, key: str, values: dict) -> None:
    """Change cells of one row the way staff would (through the workbook, not the worker)."""
    table = WorkbookStore(settings.workbook.path, timezone=PARIS).table(settings.schema[code])
    (row,) = [r for r in table.read() if r.fields.get(key_column) == key]
    table.update([(row.id, values)])


def type_in(settings: Settings, key: str, column: str, text: str) -> None:
    """Type text in one cell of the Envois tab, as staff would in a spreadsheet program."""
    book = openpyxl.load_workbook(settings.workbook.path)
    sheet = book["Envois"]
    header = [c.value for c in sheet[1]]
    (row,) = [r for r in sheet.iter_rows(min_row=2) if r[header.index("Clé")].value == key]
    row[header.index(column)].value = text
    book.save(settings.workbook.path)


@dataclass
class Deployment:
    settings: Settings
    fake: FakeSendGrid

    def run(self, day: dt.date = MONDAY):  # type: ignore[no-untyped-def]
        return run_cycle(self.settings, today=day, clock=clock_on(day))

    def state(self) -> StateStore:
        return StateStore.open(None, sqlite_path=self.settings.state.path)


@pytest.fixture
def refused(make_settings: Callable[..., Settings]) -> Iterator[Deployment]:
    """The demo's Monday, delivered through SendGrid (the fake), which refuses the first message."""
    with FakeSendGrid(api_key="SG.k") as fake:
        settings = make_settings(
            extra="[envois]\nretention_days = 1\n", mail='backend = "sendgrid"',
            environ={"SENDGRID_API_KEY": "SG.k", "SENDGRID_HOST": fake.url},
        )
        write_demo_workbook(settings, MONDAY)
        fake.fail_next(400)
        deployment = Deployment(settings, fake)
        first = deployment.run()
        assert first.sent == first.queued - 1 > 10
        yield deployment


def test_one_row_per_message_with_its_state_and_nothing_rewritten_when_nothing_changed(refused: Deployment) -> None:
    settings = refused.settings
    tab = envois_tab(settings)
    state = refused.state()
    assert set(tab) == {e["idempotency_key"] for e in state.entries()}
    assert Counter(row["État"] for row in tab.values()) == {SENT: len(tab) - 1, FAILED: 1}
    row = tab[REFUSED_KEY]
    assert row["Objet"].startswith("En retard : Bilan final") and row["Type"] == "rappel-echeance-rapport"
    assert OLD_ADDRESS in row["Destinataires"] and row["Mis en file le"].date() == MONDAY
    assert "400" in row["Raison"] and "corrigez l'adresse" in row["Que faire"] and row["Envoyé le"] is None
    sent = next(r for r in tab.values() if r["État"] == SENT)
    ids = {p["custom_args"]["cantines_key"]: p for p in refused.fake.received}
    assert sent["Clé"] in ids and sent["Identifiant fournisseur"] and sent["Envoyé le"].date() == MONDAY
    assert all(r["Relancer"] in (None, False) for r in tab.values())

    # compared with what the table holds: a second pass writes nothing, one changed state one row
    table = WorkbookStore(settings.workbook.path, timezone=PARIS).table(settings.schema["envois"])
    step = read_envois(table, [])
    assert step is not None
    done = write_envois(step, state, today=MONDAY, retention_days=180, timezone=PARIS)
    assert (done.written, done.deleted) == (0, 0)
    state.release([REFUSED_KEY])
    step = read_envois(table, [])
    assert step is not None
    done = write_envois(step, state, today=MONDAY, retention_days=180, timezone=PARIS)
    assert (done.written, done.deleted) == (1, 0)
    assert envois_tab(settings)[REFUSED_KEY]["État"] == WAITING


def test_relancer_sends_the_refused_message_again_to_the_corrected_address_then_unticks(refused: Deployment) -> None:
    settings, fake = refused.settings, refused.fake
    before = len(fake.received)
    edit(settings, "cantines", "Nom", "Cantine Bellevue", {"Email responsable": NEW_ADDRESS})
    type_in(settings, REFUSED_KEY, "Relancer", "oui")  # typed rather than ticked: read the same way
    again = refused.run()
    assert again.relaunched == 1 and again.queued == 0 and again.sent == 1
    (payload,) = fake.received[before:]
    assert payload["custom_args"]["cantines_key"] == REFUSED_KEY
    addresses = {a["email"] for p in payload["personalizations"] for part in ("to", "cc") for a in p.get(part, [])}
    assert NEW_ADDRESS in addresses and OLD_ADDRESS not in addresses
    row = envois_tab(settings)[REFUSED_KEY]
    assert row["État"] == SENT and row["Relancer"] in (None, False) and NEW_ADDRESS in row["Destinataires"]
    assert not row["Raison"] and not row["Que faire"]
    third = refused.run()  # the box is cleared: nothing goes twice
    assert third.relaunched == 0 and third.sent == 0 and len(fake.received) == before + 1


def test_nothing_else_staff_type_changes_anything(refused: Deployment) -> None:
    settings, fake = refused.settings, refused.fake
    tab = envois_tab(settings)
    sent_key = next(k for k, r in tab.items() if r["État"] == SENT)
    before = len(fake.received)
    edit(settings, "envois", "Clé", sent_key, {"Relancer": True, "État": "En échec", "Objet": "autre chose"})
    edit(settings, "envois", "Clé", REFUSED_KEY, {"État": "Envoyé"})  # typing a state sends nothing
    report = refused.run()
    assert report.relaunched == 0 and report.sent == 0 and len(fake.received) == before
    after = envois_tab(settings)
    assert after[sent_key]["État"] == SENT and after[sent_key]["Objet"] == tab[sent_key]["Objet"]
    assert after[sent_key]["Relancer"] in (None, False)
    assert after[REFUSED_KEY]["État"] == FAILED
    problems = [p for p in report.problems if p.table == "Envois"]
    assert len(problems) == 1 and "Relancer" in problems[0].column and "envoyé" in problems[0].message


def test_old_sent_rows_leave_the_table_and_refused_ones_stay(refused: Deployment) -> None:
    settings = refused.settings
    wednesday = MONDAY + dt.timedelta(days=2)  # retention 1 day: Monday's sent messages are past it
    refused.run(wednesday)
    tab = envois_tab(settings)
    assert REFUSED_KEY in tab and tab[REFUSED_KEY]["État"] == FAILED
    queued_monday = [k for k, r in tab.items() if r["Mis en file le"].date() == MONDAY]
    assert queued_monday == [REFUSED_KEY]
    assert all(r["Mis en file le"].date() == wednesday for k, r in tab.items() if k != REFUSED_KEY)
    assert len(refused.state().entries()) > len(tab)  # the state store still remembers them all


def test_status_says_what_the_table_says(refused: Deployment) -> None:
    settings = refused.settings
    state = refused.state()
    state.enqueue(key="k:held", kind="test", recipients=["a@example.org"], subject="Sujet retenu",
                  message=b"Subject: x\r\n\r\nbody\r\n", now=clock_on(MONDAY)())
    (held,) = [m for m in state.pending() if m.idempotency_key == "k:held"]
    state.claim(held.id)
    state.recover(held.id, resend=False, note="interrompu pendant l'envoi par sendgrid")
    refused.run()  # the table catches up
    tab = envois_tab(settings)
    output = format_status(settings, clock_on(MONDAY)())  # as of the run's day: the CLI reads the clock
    shell = CliRunner().invoke(cli, ["status", "--config", str(settings.path)], env={"SENDGRID_API_KEY": "SG.k"})
    assert shell.exit_code == 0 and REFUSED_KEY in shell.output and "k:held" in shell.output
    line = next(line for line in output.splitlines() if line.startswith("Messages (comme dans la table Envois)"))
    said = {state: int(n) for n, state in re.findall(r"(\d+) (en attente|envoyés?|retenus?|en échec)", line)}
    counted = Counter(row["État"] for row in tab.values())
    assert said.get("en attente", 0) == counted[WAITING]
    assert said.get("envoyé", said.get("envoyés", 0)) == counted[SENT] > 0
    assert said.get("retenu", said.get("retenus", 0)) == counted[HELD] == 1
    assert said.get("en échec", 0) == counted[FAILED] == 1
    for key, row in tab.items():
        if row["État"] in (HELD, FAILED):
            listed = next(line for line in output.splitlines() if key in line)
            assert row["État"].lower() in listed and row["Raison"] in listed and row["Que faire"] in listed


def test_the_coordinators_digest_lists_what_to_do(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    settings = make_settings()
    write_demo_workbook(settings, MONDAY)
    tables = {code: WorkbookStore(settings.workbook.path, timezone=PARIS).table(spec)
              for code, spec in settings.schema.items()}
    dataset = parse_dataset({c: t.read() for c, t in tables.items() if c in ("cantines", "echeances")},
                            settings.schema, settings.reference, PARIS)
    queued = dt.datetime(2026, 11, 16, 7, 30, tzinfo=PARIS)
    items = envois([
        {"idempotency_key": "k1", "kind": "rappel", "recipients": ["x@example.org"], "subject": "Bilan à rendre",
         "status": "failed", "last_error": "550 adresse inconnue", "queued_at": queued, "sent_at": None,
         "provider_id": None},
        {"idempotency_key": "k2", "kind": "rappel", "recipients": ["y@example.org"], "subject": "Versement",
         "status": "held", "last_error": "interrompu pendant l'envoi", "queued_at": queued, "sent_at": None,
         "provider_id": None},
    ], PARIS)
    network = Network.from_settings(settings)
    coordinator = coordinator_digest(dataset, [], [], 0, MONDAY)
    (with_list,), _ = digest_messages([], coordinator, network, Renderer(settings.paths.templates), MONDAY, items)
    text = with_list.text
    assert "MESSAGES À TRAITER (2)" in text
    assert "«\u00a0Bilan à rendre\u00a0» à x@example.org, mis en file le 16/11/2026 : en échec (550 adresse inconnue)" in text
    assert "corrigez l'adresse" in text and "journal d'activité" in text and "Relancer" in text
    assert "Bilan à rendre" in with_list.html and "Messages à traiter (2)" in with_list.html
    (without,), _ = digest_messages([], coordinator, network, Renderer(settings.paths.templates), MONDAY, [])
    assert "MESSAGES À TRAITER" not in without.text


def test_a_table_row_is_the_same_whatever_reads_it() -> None:
    queued = dt.datetime(2026, 11, 23, 23, 30, tzinfo=dt.timezone.utc)  # already Tuesday in Paris
    item: Envoi = envois([{"idempotency_key": "k", "kind": "t", "recipients": ["a@example.org"], "subject": "s",
                           "status": "pending", "last_error": "timeout", "queued_at": queued, "sent_at": None,
                           "provider_id": None}], PARIS)[0]
    assert item.state == WAITING and item.queued_on == dt.date(2026, 11, 24)
    assert item.reason.startswith("nouvel essai au prochain cycle") and not item.to_handle


# -- Airtable: the request lower bound ----------------------------------------------------------------

@pytest.fixture
def airtable(tmp_path: Path) -> Iterator[tuple[FakeAirtable, AirtableBase, StateStore]]:
    clock = FakeClock()
    with FakeAirtable(clock=clock) as fake:
        base = AirtableBase(TOKEN, BASE_ID, specs=SCHEMA.values(), timezone=PARIS, endpoint_url=fake.url,
                            clock=clock, sleep=clock.sleep, timeout=(2.0, 5.0))
        base.ensure_all([SCHEMA["envois"]])
        state = StateStore.open(None, sqlite_path=tmp_path / "state.sqlite")
        state.migrate(clock_on(MONDAY)())
        yield fake, base, state
        base.close()


def test_on_airtable_the_table_is_read_once_and_written_at_the_lower_bound(
    airtable: tuple[FakeAirtable, AirtableBase, StateStore],
) -> None:
    fake, base, state = airtable
    now = clock_on(MONDAY)()
    for i in range(25):
        state.enqueue(key=f"k{i:02}", kind="rappel", recipients=[f"c{i}@example.org"], subject=f"Sujet {i}",
                      message=b"Subject: x\r\n\r\nbody\r\n", now=now)
    for message in state.pending():
        state.claim(message.id)
        number = int(message.idempotency_key[1:])
        if number < 20:
            state.mark_sent(message.id, backend="sendgrid", provider_id=f"sg-{number}", now=now)
        elif number < 23:
            state.mark_failed(message.id, "550 adresse inconnue", hold=True)
        else:
            state.mark_failed(message.id, "délai dépassé")  # back to pending, tried again next run

    def one_pass(today: dt.date = MONDAY, retention: int = 180) -> dict[str, int]:
        fake.reset_counts()
        step = read_envois(base.table(SCHEMA["envois"]), [])
        assert step is not None
        write_envois(step, state, today=today, retention_days=retention, timezone=PARIS)
        kinds = Counter(r.kind for r in fake.log)
        records = sum(r.records for r in fake.log if r.kind in ("upsert", "update", "delete"))
        return dict(kinds) | {"records": records}

    # first pass: 1 read (ceil(0/100)), 25 rows created in ceil(25/10) = 3 performUpsert requests (and
    # the field types, read again once after `ensure_all` created the table)
    assert one_pass() == {"list": 1, "upsert": 3, "schema": 1, "records": 25}
    assert Counter(r["État"] for r in fake.rows("Envois")) == {SENT: 20, FAILED: 3, WAITING: 2}
    # nothing changed: the read only
    assert one_pass() == {"list": 1, "records": 0}
    # staff tick one refused row, another is released by the shell: both go in one request
    (ticked,) = [r for r in base.table(SCHEMA["envois"]).read() if r.fields["Clé"] == "k20"]
    base.table(SCHEMA["envois"]).update([(ticked.id, {"Relancer": True})])
    state.release(["k21"])
    assert one_pass() == {"list": 1, "upsert": 1, "records": 2}
    rows = {r["Clé"]: r for r in fake.rows("Envois")}
    assert not rows["k20"].get("Relancer") and rows["k21"]["État"] == WAITING
    # ten days later with a retention of 1 day: the 20 sent rows go, in ceil(20/10) = 2 requests
    assert one_pass(MONDAY + dt.timedelta(days=10), retention=1) == {"list": 1, "delete": 2, "records": 20}
    assert sorted(r["Clé"] for r in fake.rows("Envois")) == ["k20", "k21", "k22", "k23", "k24"]


def test_next_weeks_coordinator_digest_lists_the_refused_message(refused: Deployment) -> None:
    fake = refused.fake
    before = len(fake.received)
    next_monday = MONDAY + dt.timedelta(days=7)
    report = refused.run(next_monday)
    assert report.digests > 0
    (digest,) = [p for p in fake.received[before:]
                 if p["custom_args"]["cantines_key"].startswith("digest:coordination:")]
    text = next(c["value"] for c in digest["content"] if c["type"] == "text/plain")
    assert "MESSAGES À TRAITER (1)" in text
    assert "«\u00a0En retard : Bilan final – CONV-2026-06" in text and "attendu le 16/11/2026\u00a0»" in text
    assert "Cantine Bellevue" in text and "en échec" in text
    assert "corrigez l'adresse" in text


def test_relancer_on_a_held_message_sends_it_once_checked(refused: Deployment) -> None:
    settings, fake = refused.settings, refused.fake
    state = refused.state()
    state.release([REFUSED_KEY])
    (message,) = state.pending()
    state.claim(message.id)  # handed over, then the process died: SendGrid cannot say whether it went
    state.recover(message.id, resend=False, note="interrompu pendant l'envoi par sendgrid")
    refused.run()
    row = envois_tab(settings)[REFUSED_KEY]
    assert row["État"] == HELD and "journal d'activité" in row["Que faire"]
    before = len(fake.received)
    type_in(settings, REFUSED_KEY, "Relancer", "x")
    report = refused.run()
    assert report.relaunched == 1 and len(fake.received) == before + 1
    assert envois_tab(settings)[REFUSED_KEY]["État"] == SENT


def test_the_store_lists_entries_and_requeues_only_held_or_refused_messages(store: StateStore) -> None:
    monday = clock_on(MONDAY)()
    for key in ("old", "recent", "refused", "waiting"):
        store.enqueue(key=key, kind="t", recipients=["a@example.org"], subject=key, message=b"x", now=monday)
    by_key = {m.idempotency_key: m for m in store.pending()}
    for key, sent_on in (("old", MONDAY - dt.timedelta(days=200)), ("recent", MONDAY)):
        store.claim(by_key[key].id)
        store.mark_sent(by_key[key].id, backend="t", provider_id=f"id-{key}", now=clock_on(sent_on)())
    store.claim(by_key["refused"].id)
    store.mark_failed(by_key["refused"].id, "550", hold=True)
    since = dt.datetime.combine(MONDAY - dt.timedelta(days=180), dt.time(), tzinfo=PARIS)
    assert [e["idempotency_key"] for e in store.entries(sent_since=since)] == ["recent", "refused", "waiting"]
    assert len(store.entries()) == 4 and store.entries()[1]["sent_at"] == monday
    assert not store.requeue("recent", recipients=["b@example.org"], subject="s", message=b"y")  # sent: never again
    assert not store.requeue("waiting", recipients=["b@example.org"], subject="s", message=b"y")
    assert store.requeue("refused", recipients=["b@example.org"], subject="nouveau", message=b"y")
    again = {m.idempotency_key: m for m in store.pending()}["refused"]
    assert (again.recipients, again.subject, again.message) == (["b@example.org"], "nouveau", b"y")
