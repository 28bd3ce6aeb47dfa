"""The Airtable backend, driving the real pyairtable client over HTTP against the fake Airtable.

The pacer and the retry waits use a fake clock shared with the fake's rate limiter: nothing sleeps
for real, and the rate limiter sees the time the pacer believes it is.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from automations.cycle.backends import airtable_base
from automations.cycle.writeback import replace_rows
from automations.settings import load_settings
from automations.settings.files import load_schema
from connectors.errors import (
    BackendError, ConfigurationError, InvalidValueError, RetriableBackendError, SchemaError, UnknownLinkError,
)
from connectors.tables.airtable.client import AirtableBase
from connectors.tables.airtable.http import PACING_MARGIN, base_pacer
from connectors.tables.pacing import Pacer

from .conftest import PARIS, REPO, write_config
from .fakes.airtable import BASE_ID, TOKEN, FakeAirtable
from .fakes.clock import FakeClock

SCHEMA = load_schema(REPO / "config" / "schema.toml")
CANTINE = {
    "Nom": "Cantine des Canuts", "Statut": "Ouverte", "Ville": "Lyon", "Code postal": "01000",
    "Département": "69", "Quartier prioritaire": True, "Thématiques": ["Lien social", "Culture"],
    "Besoins": ["Emploi"], "Budget annuel": Decimal("125000.5"), "Date d'ouverture": dt.date(2019, 3, 1),
    "Email responsable": "canuts@example.org", "Emails en copie": ["a@example.org", "b@example.org"],
    "Reçoit les emails": False,
}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(clock: FakeClock) -> Iterator[FakeAirtable]:
    with FakeAirtable(clock=clock) as server:
        yield server


def open_base(fake: FakeAirtable, clock: FakeClock, **options: Any) -> AirtableBase:
    options.setdefault("timeout", (2.0, 5.0))
    return AirtableBase(options.pop("token", TOKEN), options.pop("base_id", BASE_ID), specs=SCHEMA.values(),
                        timezone=PARIS, endpoint_url=fake.url, clock=clock, sleep=clock.sleep, **options)


@pytest.fixture
def base(fake: FakeAirtable, clock: FakeClock) -> Iterator[AirtableBase]:
    """A base holding the whole schema; the request log and the clock's sleeps start empty."""
    opened = open_base(fake, clock)
    opened.ensure_all()
    fake.reset_counts()
    clock.advance(5.0)  # past the pacing window: the sleeps a test sees are its own
    clock.sleeps.clear()
    yield opened
    opened.close()


def fresh(fake: FakeAirtable, clock: FakeClock) -> AirtableBase:
    """Another AirtableBase on the same fake: nothing read or cached yet."""
    return open_base(fake, clock)


def add_cantines(fake: FakeAirtable, *names: str) -> list[str]:
    return fake.add_records("Cantines", ({"Nom": name, "Statut": "Ouverte"} for name in names))


def writes(fake: FakeAirtable) -> int:
    return sum(fake.count(kind) for kind in ("create", "update", "upsert", "delete"))


# -- reading and writing ---------------------------------------------------------------------------

def test_round_trip_keeps_every_type(base: AirtableBase, fake: FakeAirtable, clock: FakeClock) -> None:
    cantines = base.table(SCHEMA["cantines"])
    (created,) = cantines.create([CANTINE])
    (row,) = fresh(fake, clock).table(SCHEMA["cantines"]).read()
    assert row.id == created.id and row.id.startswith("rec") and row.position is None
    for name, value in CANTINE.items():
        assert row.fields[name] == value, name
    assert type(row.fields["Date d'ouverture"]) is dt.date
    assert isinstance(row.fields["Budget annuel"], Decimal)
    assert row.fields["Association"] is None and row.fields["Reçoit les emails"] is False
    assert fake.rows("Cantines")[0]["Emails en copie"] == "a@example.org\nb@example.org"  # multilineText

    indicateurs = base.table(SCHEMA["indicateurs"])
    indicateurs.create([{"Cantine": "Cantine des Canuts", "Mois": dt.date(2026, 1, 1), "Repas servis": 1200,
                         "Heures de bénévolat": Decimal("12.5"), "Produits locaux (%)": Decimal("0.35")}])
    (figures,) = indicateurs.read()
    assert figures.fields["Produits locaux (%)"] == Decimal("0.35")  # the fraction, as Airtable stores it
    assert figures.fields["Repas servis"] == 1200 and type(figures.fields["Repas servis"]) is int
    assert figures.fields["Heures de bénévolat"] == Decimal("12.5")

    journal = base.table(SCHEMA["journal"])
    start = dt.datetime(2026, 3, 29, 7, 30, tzinfo=PARIS)  # the day summer time starts
    journal.create([{"Début": start, "Résultat": "OK", "Lu": 12}])
    assert fake.rows("Journal")[0]["Début"] == "2026-03-29T05:30:00.000Z"
    (entry,) = journal.read()
    assert entry.fields["Début"] == start and entry.fields["Début"].utcoffset() == dt.timedelta(hours=2)


def test_reads_in_pages_of_100_asking_only_for_the_schema_columns(base: AirtableBase, fake: FakeAirtable) -> None:
    cantines = fake.bases[BASE_ID].table("Cantines")
    fake.store.create_field(fake.bases[BASE_ID], cantines, {"name": "Notes du bureau", "type": "multilineText"})
    fake.add_records("Cantines", ({"Nom": f"Cantine {i:03}", "Notes du bureau": "à rappeler"} for i in range(250)))
    rows = base.table(SCHEMA["cantines"]).read()
    assert len(rows) == 250 and rows[-1].fields["Nom"] == "Cantine 249"
    lists = fake.requests("list", table="Cantines")
    assert len(lists) == 3
    assert all(r.query["fields[]"] == list(SCHEMA["cantines"].column_names) for r in lists)
    assert all(r.query["pageSize"] == ["100"] for r in lists)
    assert "Notes du bureau" not in rows[0].fields
    table = base.table(SCHEMA["cantines"])
    subset = table.read(["Nom", "Ville"])
    assert set(subset[0].fields) == {"Nom", "Ville"}
    assert len(fake.requests("list", table="Cantines")) == 3  # served from the records just read
    table.forget()
    assert set(table.read(["Nom", "Ville"])[0].fields) == {"Nom", "Ville"}
    assert fake.requests("list")[-1].query["fields[]"] == ["Nom", "Ville"]


def test_a_table_read_then_written_back_is_read_once_per_write(base: AirtableBase, fake: FakeAirtable) -> None:
    cantines = base.table(SCHEMA["cantines"])
    cantines.create([{"Nom": "A", "Ville": "Lyon"}, {"Nom": "B", "Ville": "Lyon"}])
    fake.reset_counts()
    cantines.read()
    cantines.upsert([{"Nom": "A", "Ville": "Lyon"}, {"Nom": "B", "Ville": "Vaise"}], key=["Nom"])
    assert fake.count("list", table="Cantines") == 1  # the upsert compared against the rows just read
    assert [r.fields["Ville"] for r in cantines.read()] == ["Lyon", "Vaise"]  # written: read again
    assert fake.count("list", table="Cantines") == 2


def test_creates_updates_and_deletes_in_batches_of_10(base: AirtableBase, fake: FakeAirtable) -> None:
    cantines = base.table(SCHEMA["cantines"])
    created = cantines.create({"Nom": f"Cantine {i}", "Statut": "Ouverte", "Ville": "Lyon"} for i in range(25))
    assert [r.records for r in fake.requests("create")] == [10, 10, 5]
    assert cantines.update((row.id, {"Ville": "Marseille"}) for row in created[:12]) == 12
    assert [r.records for r in fake.requests("update")] == [10, 2]
    rows = {row.id: row.fields for row in cantines.read()}
    assert rows[created[0].id]["Ville"] == "Marseille" and rows[created[0].id]["Statut"] == "Ouverte"
    assert rows[created[20].id]["Ville"] == "Lyon"
    assert cantines.delete(row.id for row in created) == 25
    assert [r.records for r in fake.requests("delete")] == [10, 10, 5]
    assert fake.rows("Cantines") == []


# -- upsert -----------------------------------------------------------------------------------------

def matches(count: int, score: int = 80) -> list[dict[str, Any]]:
    return [{"Clé": f"aap-{i}", "Cantine": "Cantine des Canuts", "Score": score, "État": "Active"}
            for i in range(count)]


def test_upsert_sends_only_what_changed_and_a_second_run_writes_nothing(base: AirtableBase, fake: FakeAirtable) -> None:
    add_cantines(fake, "Cantine des Canuts")
    table = base.table(SCHEMA["correspondances"])
    first = table.upsert(matches(12), ["Clé"])
    assert len(first.created) == 12 and fake.count("upsert") == 2 and fake.count("create") == 0
    assert fake.requests("upsert")[0].body["performUpsert"] == {"fieldsToMergeOn": ["Clé"]}
    fake.reset_counts()
    again = table.upsert(matches(12), ["Clé"])
    assert again.written == 0 and again.unchanged == 12
    assert writes(fake) == 0 and fake.count("list", table="Correspondances") == 1
    changed = matches(12)
    changed[3]["Score"] = 95
    third = table.upsert(changed, ["Clé"])
    (request,) = fake.requests("upsert")
    assert request.body["records"] == [{"id": third.updated[0].id, "fields": {"Score": 95}}]
    assert len(fake.rows("Correspondances")) == 12


@pytest.mark.parametrize("fault", ["drop-after", "drop", 500, 503])
def test_a_retried_upsert_creates_no_duplicate(base: AirtableBase, fake: FakeAirtable, clock: FakeClock,
                                               fault: int | str) -> None:
    add_cantines(fake, "Cantine des Canuts")
    fake.fail_next(fault, method="PATCH")
    result = base.table(SCHEMA["correspondances"]).upsert(matches(3), ["Clé"])
    assert len(result.created) == 3
    statuses = [r.status for r in fake.requests("upsert")]
    assert statuses == [None if isinstance(fault, str) else fault, 200]  # sent twice…
    assert sorted(r["Clé"] for r in fake.rows("Correspondances")) == ["aap-0", "aap-1", "aap-2"]  # …created once
    assert clock.sleeps == [1.0]  # the first backoff


def test_a_create_is_never_sent_twice(base: AirtableBase, fake: FakeAirtable) -> None:
    fake.fail_next("drop-after", method="POST")
    with pytest.raises(RetriableBackendError, match="Airtable injoignable pour la base"):
        base.table(SCHEMA["cantines"]).create([{"Nom": "Cantine des Canuts"}])
    assert fake.count("create") == 1 and [r["Nom"] for r in fake.rows("Cantines")] == ["Cantine des Canuts"]
    fake.fail_next(500, method="POST")
    with pytest.raises(RetriableBackendError, match="HTTP 500"):
        base.table(SCHEMA["cantines"]).create([{"Nom": "Cantine du Port"}])
    assert fake.count("create") == 2 and len(fake.rows("Cantines")) == 1


def test_upsert_on_a_key_airtable_cannot_merge_on_creates_without_retrying(base: AirtableBase,
                                                                           fake: FakeAirtable) -> None:
    add_cantines(fake, "Cantine des Canuts")
    figures = base.table(SCHEMA["indicateurs"])  # key: Cantine (a link) and Mois
    row = {"Cantine": "Cantine des Canuts", "Mois": dt.date(2026, 1, 1), "Repas servis": 900}
    fake.fail_next("drop-after", method="POST")
    with pytest.raises(RetriableBackendError):
        figures.upsert([row], SCHEMA["indicateurs"].key)
    assert fake.count("create") == 1 and fake.count("upsert") == 0
    again = figures.upsert([row], SCHEMA["indicateurs"].key)  # the next run sees the row and writes nothing
    assert again.written == 0 and again.unchanged == 1
    assert len(fake.rows("Indicateurs")) == 1 and fake.count("create") == 1


# -- links ------------------------------------------------------------------------------------------

def test_a_row_staff_deleted_after_the_read_is_created_again_not_refused(base: AirtableBase,
                                                                         fake: FakeAirtable) -> None:
    _canuts, pentes = add_cantines(fake, "Cantine des Canuts", "Cantine des Pentes")
    table = base.table(SCHEMA["cantines"])
    table.read()  # the run reads the table…
    fake.store.remove(fake.bases[BASE_ID], fake.bases[BASE_ID].table("Cantines"), [pentes])  # …staff delete a row
    wanted = [{"Nom": "Cantine des Canuts", "Ville": "Lyon"}, {"Nom": "Cantine des Pentes", "Ville": "Lyon"}]
    counts = replace_rows(table, wanted, ["Nom"], delete=False)  # PATCH of both: 422 ROW_DOES_NOT_EXIST
    assert counts.refused == []  # not a value Airtable refused
    assert (counts.updated, counts.created) == (1, 1)
    assert sorted((r["Nom"], r.get("Ville")) for r in fake.rows("Cantines")) == [
        ("Cantine des Canuts", "Lyon"), ("Cantine des Pentes", "Lyon")]


def test_an_upsert_of_a_row_deleted_meanwhile_reads_again_and_creates_it(base: AirtableBase,
                                                                         fake: FakeAirtable) -> None:
    _canuts, pentes = add_cantines(fake, "Cantine des Canuts", "Cantine des Pentes")
    table = base.table(SCHEMA["cantines"])
    table.read()
    fake.store.remove(fake.bases[BASE_ID], fake.bases[BASE_ID].table("Cantines"), [pentes])
    result = table.upsert([{"Nom": "Cantine des Pentes", "Ville": "Lyon"}], ["Nom"])
    assert [row.fields["Nom"] for row in result.created] == ["Cantine des Pentes"]
    assert [(r["Nom"], r.get("Ville")) for r in fake.rows("Cantines")] == [
        ("Cantine des Canuts", None), ("Cantine des Pentes", "Lyon")]
    assert [r.status for r in fake.requests("upsert")] == [422, 200]


def test_links_are_written_as_record_ids_and_read_back_as_names(base: AirtableBase, fake: FakeAirtable) -> None:
    canuts, port = add_cantines(fake, "Cantine des Canuts", "Cantine du Port")
    (aap,) = fake.add_records("Opportunités", [{"Titre": "AAP Alimentation"}])
    base.table(SCHEMA["correspondances"]).create(
        [{"Clé": "k", "Opportunité": "AAP Alimentation", "Cantine": "Cantine du Port"}])
    base.table(SCHEMA["suggestions"]).create(
        [{"Opportunité": "AAP Alimentation", "Cantines": ["Cantine des Canuts", "Cantine du Port"]}])
    stored = fake.rows("Correspondances")[0]
    assert stored["Opportunité"] == [aap] and stored["Cantine"] == [port]
    assert fake.rows("Suggestions collectives")[0]["Cantines"] == [canuts, port]
    (match,) = base.table(SCHEMA["correspondances"]).read()
    assert match.fields["Opportunité"] == "AAP Alimentation" and match.fields["Cantine"] == "Cantine du Port"
    (suggestion,) = base.table(SCHEMA["suggestions"]).read()
    assert suggestion.fields["Cantines"] == ["Cantine des Canuts", "Cantine du Port"]


def test_a_link_target_is_read_once_and_only_for_its_primary_field(base: AirtableBase, fake: FakeAirtable,
                                                                    clock: FakeClock) -> None:
    add_cantines(fake, "Cantine des Canuts")
    fake.add_records("Opportunités", [{"Titre": "AAP"}])
    table = base.table(SCHEMA["correspondances"])
    table.create([{"Clé": "a", "Opportunité": "AAP", "Cantine": "Cantine des Canuts"}])
    table.create([{"Clé": "b", "Opportunité": "AAP", "Cantine": "Cantine des Canuts"}])
    table.read()
    (cantines_read,) = fake.requests("list", table="Cantines")
    assert cantines_read.query["fields[]"] == ["Nom"]
    assert fake.count("list", table="Opportunités") == 1
    other = fresh(fake, clock)  # a run that reads Cantines for its own sake needs no extra request
    other.table(SCHEMA["cantines"]).read()
    fake.reset_counts()
    other.table(SCHEMA["correspondances"]).create([{"Clé": "c", "Cantine": "Cantine des Canuts"}])
    assert fake.count("list", table="Cantines") == 0


def test_an_unknown_name_raises_a_clear_error_and_creates_nothing(base: AirtableBase, fake: FakeAirtable) -> None:
    add_cantines(fake, "Cantine des Canuts")
    with pytest.raises(UnknownLinkError) as raised:
        base.table(SCHEMA["correspondances"]).upsert(
            [{"Clé": "k", "Cantine": "Cantine des Canuts"}, {"Clé": "l", "Cantine": "Cantine Fantôme"}], ["Clé"])
    error = raised.value
    assert isinstance(error, BackendError)
    assert (error.table, error.column, error.value) == ("Correspondances", "Cantine", "Cantine Fantôme")
    assert "« Cantine Fantôme »" in str(error) and "« Cantines »" in str(error) and "« Correspondances »" in str(error)
    assert writes(fake) == 0
    assert fake.rows("Correspondances") == [] and [r["Nom"] for r in fake.rows("Cantines")] == ["Cantine des Canuts"]


def test_a_row_staff_added_during_the_run_is_found(base: AirtableBase, fake: FakeAirtable) -> None:
    add_cantines(fake, "Cantine des Canuts")
    table = base.table(SCHEMA["correspondances"])
    table.create([{"Clé": "a", "Cantine": "Cantine des Canuts"}])
    (port,) = add_cantines(fake, "Cantine du Port")
    table.create([{"Clé": "b", "Cantine": "Cantine du Port"}])
    assert fake.rows("Correspondances")[1]["Cantine"] == [port]
    assert fake.count("list", table="Cantines") == 2  # read once, then once more for the new name


def test_a_link_in_the_first_column_is_text_but_still_checked(base: AirtableBase, fake: FakeAirtable) -> None:
    add_cantines(fake, "Cantine des Canuts")
    visits = base.table(SCHEMA["visites"])
    visits.create([{"Cantine": "Cantine des Canuts", "Date": dt.date(2026, 2, 3), "Par": "Léa"}])
    assert fake.rows("Visites")[0]["Cantine"] == "Cantine des Canuts"
    assert visits.read()[0].fields["Cantine"] == "Cantine des Canuts"
    with pytest.raises(UnknownLinkError, match="Cantine Fantôme"):
        visits.create([{"Cantine": "Cantine Fantôme", "Date": dt.date(2026, 2, 3)}])
    assert len(fake.rows("Visites")) == 1


# -- errors -----------------------------------------------------------------------------------------

def test_a_rejected_token_names_the_variable(fake: FakeAirtable, clock: FakeClock) -> None:
    wrong = open_base(fake, clock, token="patNotTheRightOne")
    with pytest.raises(ConfigurationError, match="AIRTABLE_TOKEN") as raised:
        wrong.table(SCHEMA["cantines"]).read()
    assert "401" in str(raised.value)
    with pytest.raises(ConfigurationError, match="AIRTABLE_TOKEN is not set"):
        open_base(fake, clock, token="")


def test_an_unknown_base_names_the_base_and_the_token(fake: FakeAirtable, clock: FakeClock) -> None:
    elsewhere = open_base(fake, clock, base_id="appNotSharedBase1")
    with pytest.raises(ConfigurationError, match="appNotSharedBase1.*AIRTABLE_TOKEN"):
        elsewhere.table(SCHEMA["cantines"]).read()
    with pytest.raises(ConfigurationError, match="base id"):
        open_base(fake, clock, base_id="https://airtable.com/appX")


def test_a_missing_field_names_the_table_the_field_and_the_command(fake: FakeAirtable, clock: FakeClock) -> None:
    fake.add_table("Cantines", [{"name": "Nom", "type": "singleLineText"},
                                {"name": "Statut", "type": "singleLineText"}])
    cantines = open_base(fake, clock).table(SCHEMA["cantines"])
    fake.add_records("Cantines", [{"Nom": "Cantine des Canuts", "Statut": "Ouverte"}])
    rows = cantines.read()  # Airtable answers 422 UNKNOWN_FIELD_NAME: the fields present are read again
    expected = [name for name in SCHEMA["cantines"].column_names if name not in ("Nom", "Statut")]
    assert cantines.absent_columns() == tuple(expected)  # the cycle makes them one problem each
    assert [(r.get("Nom"), r.get("Statut"), r.get("Ville")) for r in rows] == [("Cantine des Canuts", "Ouverte", None)]
    with pytest.raises(SchemaError, match="Champs? .*« Ville ».* absent.*« Cantines ».*cantines init airtable"):
        cantines.create([{"Nom": "Cantine des Canuts", "Ville": "Lyon"}])  # checked before sending
    assert writes(fake) == 0


def test_a_missing_table_names_the_table_and_the_command(fake: FakeAirtable, clock: FakeClock) -> None:
    cantines = open_base(fake, clock).table(SCHEMA["cantines"])
    with pytest.raises(SchemaError) as raised:
        cantines.read()
    assert str(raised.value) == (f"Table « Cantines » absente de la base Airtable {BASE_ID} "
                                 "(lancez `cantines init airtable`)")


def test_a_refused_value_names_the_table_the_column_and_the_value(base: AirtableBase, fake: FakeAirtable) -> None:
    with pytest.raises(InvalidValueError) as raised:
        base.table(SCHEMA["opportunites"]).create([{"Titre": "AAP", "Date limite": "31/02/2026"}])
    error = raised.value
    assert (error.table, error.column, error.value) == ("Opportunités", "Date limite", "31/02/2026")
    assert str(error).startswith("Airtable refuse la valeur « 31/02/2026 » de la colonne « Date limite » "
                                 "(table « Opportunités »)")
    assert fake.requests("create")[0].status == 422 and fake.rows("Opportunités") == []


def test_a_value_outside_the_choices_is_refused_before_sending(base: AirtableBase, fake: FakeAirtable) -> None:
    with pytest.raises(InvalidValueError, match="« Peut-être » n'est pas un choix de la colonne « Statut »"):
        base.table(SCHEMA["cantines"]).create([{"Nom": "Cantine des Canuts", "Statut": "Peut-être"}])
    assert writes(fake) == 0


# -- typecast ---------------------------------------------------------------------------------------

def test_typecast_only_for_choices_airtable_does_not_list_yet(fake: FakeAirtable, clock: FakeClock) -> None:
    fake.add_table("Journal", [
        {"name": "Début", "type": "singleLineText"},
        {"name": "Résultat", "type": "singleSelect", "options": {"choices": [{"name": "OK"}]}},  # an older base
    ])
    fake.add_table("Opportunités", [
        {"name": "Titre", "type": "singleLineText"},
        {"name": "Territoires éligibles", "type": "multipleSelects",  # made a select by staff
         "options": {"choices": [{"name": "France"}]}},
    ])
    opened = open_base(fake, clock)
    opened.table(SCHEMA["journal"]).create([{"Début": "a", "Résultat": "OK"}, {"Début": "b", "Résultat": "Échec"}])
    assert [(r.body["typecast"], r.records) for r in fake.requests("create")] == [(False, 1), (True, 1)]
    assert fake.table_model("Journal")["fields"][1]["options"]["choices"][1]["name"] == "Échec"
    assert [r["Résultat"] for r in fake.rows("Journal")] == ["OK", "Échec"]
    opportunities = opened.table(SCHEMA["opportunites"])
    opportunities.create([{"Titre": "AAP", "Territoires éligibles": ["France", "Bretagne"]}])
    assert fake.requests("create", table="Opportunités")[0].body["typecast"] is True
    assert opportunities.read(["Territoires éligibles"])[0].fields["Territoires éligibles"] == ["France", "Bretagne"]


# -- pacing and rate limits -------------------------------------------------------------------------

def test_the_pacer_spaces_a_burst_from_three_threads() -> None:
    clock = FakeClock()
    pacer = base_pacer(clock=clock, sleep=clock.sleep)
    starts: list[float] = []
    lock = threading.Lock()

    def burst() -> None:
        for _ in range(10):
            started = pacer.wait()
            with lock:
                starts.append(started)

    began = time.monotonic()
    threads = [threading.Thread(target=burst) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert time.monotonic() - began < 1  # the waiting was on the fake clock
    starts.sort()
    assert len(starts) == 30
    assert all(later - earlier >= 1.0 for earlier, later in zip(starts, starts[5:]))  # ≤ 5 per rolling second
    assert starts[-1] - starts[0] >= (30 - 5) / 5  # 30 requests take 5 s at least: 5 per second on average
    assert sum(clock.sleeps) == pytest.approx(starts[-1] - starts[0])


def burst_of_reads(fake: FakeAirtable, base: AirtableBase) -> list[Exception]:
    """Three threads reading three tables ten times each; returns what they raised."""
    for code in ("cantines", "partenaires", "visites"):
        fake.add_table(SCHEMA[code].name, [{"name": c.name, "type": "singleLineText"} for c in SCHEMA[code].columns])
    errors: list[Exception] = []

    def read_ten_times(code: str) -> None:
        try:
            table = base.table(SCHEMA[code])
            for _ in range(10):
                table.forget()  # each read goes to Airtable
                table.read()
        except Exception as exc:  # collected for the test's assertion
            errors.append(exc)

    threads = [threading.Thread(target=read_ten_times, args=(code,)) for code in ("cantines", "partenaires", "visites")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_one_pacer_serves_every_table_and_thread_of_a_base(fake: FakeAirtable, clock: FakeClock) -> None:
    fake.rate_limit = None  # the fake clock only moves when the pacer sleeps: measure the pacer alone
    assert burst_of_reads(fake, open_base(fake, clock)) == []
    assert fake.count("list") == 30 and fake.count("schema") == 1  # the schema: once, for the rows' links
    # 31 requests, 5 per (1 s + margin) window through one pacer: 6 windows of waiting
    assert sum(clock.sleeps) == pytest.approx((31 - 1) // 5 * (1 + PACING_MARGIN))


def test_a_paced_burst_from_three_threads_gets_no_429(fake: FakeAirtable) -> None:
    """Real time, scaled down: the fake refuses a 6th request within 0.05 s; the base paces 5 per 0.2 s."""
    fake.clock = time.monotonic
    fake.rate_window = 0.05
    paced = AirtableBase(TOKEN, BASE_ID, specs=SCHEMA.values(), endpoint_url=fake.url,
                         pacer=Pacer(5, 0.1, margin=0.1), max_rate_limit_wait=0)  # a 429 would raise at once
    assert burst_of_reads(fake, paced) == []
    assert fake.count("list") == 30 and fake.count(status=429) == 0


def test_a_429_waits_30_seconds_then_goes_on(base: AirtableBase, fake: FakeAirtable, clock: FakeClock) -> None:
    add_cantines(fake, "Cantine des Canuts")
    fake.fail_next(429)
    began = time.monotonic()
    assert len(base.table(SCHEMA["cantines"]).read()) == 1
    assert clock.sleeps == pytest.approx([30.0])
    assert time.monotonic() - began < 1
    assert [r.status for r in fake.requests("list")] == [429, 200]


def test_a_listing_whose_offset_expired_during_a_429_wait_starts_again(base: AirtableBase, fake: FakeAirtable,
                                                                       clock: FakeClock) -> None:
    add_cantines(fake, *(f"Cantine {i:03}" for i in range(150)))
    fake.fail_next(429, method="GET", after=1)  # the second page meets a 429: 30 s later its offset has expired
    rows = base.table(SCHEMA["cantines"]).read()
    assert sorted(r.fields["Nom"] for r in rows) == [f"Cantine {i:03}" for i in range(150)]  # each row once
    assert [r.status for r in fake.requests("list")] == [200, 429, 422, 200, 200]
    assert clock.sleeps == pytest.approx([30.0])


def test_another_client_exhausting_the_limit_is_waited_out(base: AirtableBase, fake: FakeAirtable,
                                                           clock: FakeClock) -> None:
    base.schema()  # known already: the create is the request that meets the 429
    for _ in range(6):  # another process on the same base: the sixth gets a 429 and blocks the base 30 s
        requests.get(f"{fake.url}/v0/{BASE_ID}/Cantines", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
    created = base.table(SCHEMA["cantines"]).create([{"Nom": "Cantine des Canuts"}])  # a 429 is safe to resend
    assert created[0].id == fake.rows("Cantines")[0]["id"]
    assert clock.sleeps == pytest.approx([30.0]) and [r.status for r in fake.requests("create")] == [429, 200]


def test_waiting_on_429s_is_bounded(base: AirtableBase, fake: FakeAirtable, clock: FakeClock) -> None:
    fake.fail_next(*[429] * 11)
    with pytest.raises(RetriableBackendError, match="429.*300 s"):
        base.table(SCHEMA["cantines"]).read()
    assert clock.sleeps == pytest.approx([30.0] * 10)
    assert fake.count("list") == 11


def test_reads_are_retried_after_server_errors_with_a_bounded_backoff(base: AirtableBase, fake: FakeAirtable,
                                                                     clock: FakeClock) -> None:
    fake.fail_next(500, 502)
    assert base.table(SCHEMA["cantines"]).read() == []
    assert clock.sleeps == [1.0, 2.0] and fake.count("list") == 3
    clock.sleeps.clear()
    fake.fail_next(*[503] * 4)
    base.table(SCHEMA["cantines"]).forget()
    with pytest.raises(RetriableBackendError, match="HTTP 503"):
        base.table(SCHEMA["cantines"]).read()
    assert clock.sleeps == [1.0, 2.0, 4.0] and fake.count("list") == 7


def test_every_request_has_a_timeout(base: AirtableBase, fake: FakeAirtable, clock: FakeClock) -> None:
    slow = open_base(fake, clock, timeout=(1.0, 0.05), retry_backoff=(1.0,))
    fake.latency = 0.3
    began = time.monotonic()
    with pytest.raises(RetriableBackendError, match="ReadTimeout"):
        slow.table(SCHEMA["cantines"]).read()
    assert time.monotonic() - began < 1.5
    assert clock.sleeps == [1.0]  # the read was tried twice


# -- schema -----------------------------------------------------------------------------------------

def fields_of(fake: FakeAirtable, table: str) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in fake.table_model(table)["fields"]}


def test_ensure_all_creates_every_table_with_airtable_field_types(fake: FakeAirtable, clock: FakeClock) -> None:
    report = open_base(fake, clock).ensure_all()
    assert all(changes.created_table for changes in report.tables.values()) and len(report.tables) == len(SCHEMA)
    assert fake.count("create-table") == len(SCHEMA) and fake.count("create-field") == 0  # link targets first
    cantines = fields_of(fake, "Cantines")
    assert cantines["Nom"]["id"] == fake.table_model("Cantines")["primaryFieldId"]
    assert cantines["Statut"]["type"] == "singleSelect"
    statut = SCHEMA["cantines"].column("Statut")
    assert [c["name"] for c in cantines["Statut"]["options"]["choices"]] == list(statut.choices)
    assert cantines["Thématiques"]["type"] == "multipleSelects"
    assert cantines["Budget annuel"] == {**cantines["Budget annuel"], "type": "currency",
                                         "options": {"precision": 2, "symbol": "€"}}
    assert cantines["Date d'ouverture"]["options"]["dateFormat"]["name"] == "european"
    assert cantines["Reçoit les emails"]["options"] == {"color": "greenBright", "icon": "check"}
    assert cantines["Emails en copie"]["type"] == "multilineText" and cantines["Email responsable"]["type"] == "email"
    assert fields_of(fake, "Opportunités")["Territoires éligibles"]["type"] == "multilineText"
    matches_fields = fields_of(fake, "Correspondances")
    assert matches_fields["Cantine"]["type"] == "multipleRecordLinks"
    assert matches_fields["Cantine"]["options"]["linkedTableId"] == fake.table_model("Cantines")["id"]
    assert matches_fields["Score"]["options"] == {"precision": 0}
    assert fields_of(fake, "Indicateurs")["Heures de bénévolat"]["options"] == {"precision": 2}
    assert fields_of(fake, "Indicateurs")["Produits locaux (%)"]["type"] == "percent"
    journal = fake.table_model("Journal")
    assert journal["fields"][0]["name"] == "Début" and journal["fields"][0]["type"] == "dateTime"
    assert journal["fields"][0]["options"]["timeZone"] == "Europe/Paris"
    assert fields_of(fake, "Déclinaisons")["Offre"]["type"] == "singleLineText"  # a primary field cannot link
    assert any("« Déclinaisons » / « Offre »" in note for note in report.notes)
    assert any("« Opportunités » / « Territoires éligibles »" in note for note in report.notes)
    assert "Créée : table « Cantines » (15 champs)" in report.lines()


def test_ensure_all_twice_creates_nothing(base: AirtableBase, fake: FakeAirtable) -> None:
    report = base.ensure_all()
    assert not report.changed and report.lines() == [f"Note : {n}" for n in report.notes]
    assert fake.count("create-table") == fake.count("create-field") == 0 and fake.count() == 1


def test_ensure_all_on_a_partial_base_adds_only_what_is_missing(fake: FakeAirtable, clock: FakeClock) -> None:
    fake.add_table("Cantines", [
        {"name": "Nom", "type": "singleLineText"},
        {"name": "Ville", "type": "singleLineText"},
        {"name": "Budget annuel", "type": "number", "options": {"precision": 0}},  # not currency: kept
        {"name": "Notes du bureau", "type": "multilineText"},  # staff's own field: kept
    ])
    (canuts,) = fake.add_records("Cantines", [{"Nom": "Cantine des Canuts", "Ville": "Lyon", "Notes du bureau": "ok"}])
    before = {f["name"]: f for f in fake.table_model("Cantines")["fields"]}
    report = open_base(fake, clock).ensure_all()
    cantines = report.tables["Cantines"]
    assert not cantines.created_table
    assert cantines.added_columns == [c for c in SCHEMA["cantines"].column_names if c not in before]
    assert fake.count("create-field", table=fake.table_model("Cantines")["id"]) == len(cantines.added_columns)
    after = fields_of(fake, "Cantines")
    assert all(after[name] == field for name, field in before.items())  # nothing deleted, renamed or retyped
    assert fake.rows("Cantines")[0] == {"id": canuts, "Nom": "Cantine des Canuts", "Ville": "Lyon",
                                        "Notes du bureau": "ok"}
    assert all(report.tables[spec.name].created_table for code, spec in SCHEMA.items() if code != "cantines")
    assert fake.count("create-table") == len(SCHEMA) - 1


def test_ensure_schema_of_one_table_needs_the_tables_it_links_to(fake: FakeAirtable, clock: FakeClock) -> None:
    opened = open_base(fake, clock)
    with pytest.raises(SchemaError, match="Table « Opportunités » .*absente.*cantines init airtable"):
        opened.table(SCHEMA["correspondances"]).ensure_schema()
    assert fake.count("create-table") == 0
    for code in ("partenaires", "cantines", "opportunites"):
        assert opened.table(SCHEMA[code]).ensure_schema().created_table
    changes = opened.table(SCHEMA["correspondances"]).ensure_schema()
    assert changes.created_table and changes.added_columns == list(SCHEMA["correspondances"].column_names)


def test_rows_carry_their_record_url_at_the_cost_of_one_schema_request_per_base(base: AirtableBase, fake: FakeAirtable,
                                                                                 clock: FakeClock) -> None:
    (canuts,) = add_cantines(fake, "Cantine des Canuts")
    fresh_base = fresh(fake, clock)
    fake.reset_counts()
    (row,) = fresh_base.table(SCHEMA["cantines"]).read()
    table_id = fresh_base.schema()["Cantines"].id
    assert row.url == f"https://airtable.com/{BASE_ID}/{table_id}/{canuts}"
    fresh_base.table(SCHEMA["partenaires"]).read()
    assert fake.count("schema") == 1  # once for the base, whatever the number of tables read
    fresh_base.close()


def test_the_pace_is_airtables_5_a_second_unless_the_settings_lower_it(tmp_path: Path) -> None:
    environ = {"AIRTABLE_TOKEN": TOKEN, "AIRTABLE_BASE_ID": BASE_ID}
    shipped = load_settings(write_config(tmp_path / "shipped", tables='backend = "airtable"'), environ)
    assert airtable_base(shipped).pacer.limit == 5  # within 1 s and the margin
    shared = load_settings(write_config(tmp_path / "shared", tables='backend = "airtable"',
                                        airtable="requests_per_second = 2"), environ)  # Zapier uses the base too
    pacer = airtable_base(shared).pacer
    assert (pacer.limit, pacer.window) == (2, 1.0 + PACING_MARGIN)
    assert airtable_base(shipped).pacer is not pacer  # one pacer per base and rate, shared by its clients
    assert airtable_base(shared).pacer is pacer
    with pytest.raises(ConfigurationError) as caught:
        load_settings(write_config(tmp_path / "zero", tables='backend = "airtable"', airtable="requests_per_second = 0"), environ)
    assert caught.value.problems == ["[airtable] requests_per_second: at least 1 (Airtable allows 5 per base)"]
    with pytest.raises(ConfigurationError) as caught:  # more than Airtable takes: only for a compatible endpoint
        load_settings(write_config(tmp_path / "fast", tables='backend = "airtable"', airtable="requests_per_second = 50"), environ)
    assert caught.value.problems[0].startswith("[airtable] requests_per_second: at most 5, Airtable's limit")
    fast = load_settings(tmp_path / "fast" / "settings.toml", {**environ, "AIRTABLE_ENDPOINT_URL": "http://127.0.0.1:9"})
    assert airtable_base(fast).pacer.limit == 50
