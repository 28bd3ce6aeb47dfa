"""The Google Sheets backend, driving the real gspread and google-auth clients against the fake Sheets API."""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import gspread
import pytest
from google.auth.credentials import AnonymousCredentials

from automations.settings.files import load_schema
from connectors.errors import BackendError, ConfigurationError, RetriableBackendError, SchemaError
from connectors.tables.sheets.client import SheetsBook, SheetsTable, connect
from connectors.tables.sheets.auth import load_credentials
from connectors.tables.sheets.errors import SpreadsheetAccessError
from connectors.tables.sheets.http import RETRY_DELAYS, SheetsHTTPClient

from .conftest import REPO
from .fakes.clock import FakeClock
from .fakes.sheets import FakeSheets, SheetsError, service_account_info

PARIS = ZoneInfo("Europe/Paris")
SCHEMA = load_schema(REPO / "config" / "schema.toml")
INDICATEURS, CANTINES, JOURNAL = SCHEMA["indicateurs"], SCHEMA["cantines"], SCHEMA["journal"]
ACCOUNT = "cantines-worker@cantines-tests.iam.gserviceaccount.com"
HUB = "1HubCantinesSpreadsheetKey00000000000000000"
MARCH, APRIL, MAY = dt.date(2026, 3, 1), dt.date(2026, 4, 1), dt.date(2026, 5, 1)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(clock: FakeClock) -> Iterator[FakeSheets]:
    with FakeSheets(clock=clock) as server:
        yield server


@pytest.fixture
def credentials_text(fake: FakeSheets) -> str:
    """GOOGLE_SERVICE_ACCOUNT_JSON as a deployment sets it, its tokens asked from the fake."""
    return json.dumps(service_account_info(ACCOUNT, fake.token_uri))


@pytest.fixture
def open_book(fake: FakeSheets, clock: FakeClock, credentials_text: str) -> Callable[..., SheetsBook]:
    """A book on a spreadsheet of the fake, through the service account and the endpoint override."""
    http = connect(credentials_text, endpoint_url=fake.url, clock=clock, sleep=clock.sleep)

    def make(key: str = HUB, **options: Any) -> SheetsBook:
        return SheetsBook(key, http=options.pop("http", http), timezone=PARIS, **options)

    return make


def hub(fake: FakeSheets, **tabs: list[list[Any]]) -> None:
    fake.add_spreadsheet(HUB, title="Hub des cantines", tabs=tabs or None, shared_with=[ACCOUNT])


def indicateurs_tab() -> list[list[Any]]:
    return [
        ["Cantine", "Mois", "Repas servis", "Heures de bénévolat", "Produits locaux (%)"],
        ["Lyon", MARCH, 1200, 1.5, 0.35],
        ["Lille", MARCH, 800, "1,5", None],
        ["Lyon", APRIL, 1250, 12, 0.4],
    ]


def cantines_tab() -> list[list[Any]]:
    return [
        ["Nom", "Code postal", "Notes de l'équipe", "Quartier prioritaire", "Thématiques", "Budget annuel",
         "Date d'ouverture"],
        ["Lyon", "01000", "appeler en mai", True, "Culture, Insertion", 12500.5, dt.date(2019, 5, 4)],
        ["Lille", "59000", "", False, "", 8000, None],
    ]


def writes(fake: FakeSheets) -> dict[str, int]:
    return {k: v for k, v in fake.counts().items() if k in ("values.batchUpdate", "append", "batchUpdate",
                                                            "values.update")}


# -- reading -----------------------------------------------------------------------------------

def test_reads_serial_dates_and_numbers_unformatted_and_text_as_typed(fake: FakeSheets, open_book) -> None:
    hub(fake, Indicateurs=indicateurs_tab(), Cantines=cantines_tab())
    book = open_book()
    indicateurs, cantines = book.table(INDICATEURS), book.table(CANTINES)
    rows = indicateurs.read()
    assert [(r.id, r.position) for r in rows] == [("2", 2), ("3", 3), ("4", 4)]
    lyon, lille, _ = (r.fields for r in rows)
    assert lyon["Mois"] == MARCH and lyon["Repas servis"] == 1200 and isinstance(lyon["Repas servis"], int)
    assert lyon["Heures de bénévolat"] == Decimal("1.5") and lyon["Produits locaux (%)"] == Decimal("0.35")
    assert lille["Heures de bénévolat"] == "1,5"  # typed as text: left to the domain to parse, not read as 15
    cantine = cantines.read()[0].fields
    assert cantine["Code postal"] == "01000"
    assert cantine["Quartier prioritaire"] is True and cantine["Thématiques"] == ["Culture", "Insertion"]
    assert cantine["Budget annuel"] == Decimal("12500.5") and cantine["Date d'ouverture"] == dt.date(2019, 5, 4)
    assert cantine["Besoins"] == [] and cantine["Ville"] is None  # columns the tab lacks read as empty
    (request,) = fake.requests("batchGet")
    assert request.query["valueRenderOption"] == ["UNFORMATTED_VALUE"]
    assert request.query["dateTimeRenderOption"] == ["SERIAL_NUMBER"]
    # what a client asking for the default rendering would have had to parse:
    assert fake.values(HUB, "Indicateurs", render="FORMATTED_VALUE")[1][1:4] == ["01/03/2026", "1200", "1,5"]


def test_header_row_names_columns_whatever_their_order_case_and_extras(fake: FakeSheets, open_book) -> None:
    hub(fake, Indicateurs=[
        ["  mois", "Remarques", "CANTINE", "Repas  servis"],
        [MARCH, "staff note", "Lyon", 10],
        [],
        ["", "   "],
        [APRIL, None, "Lille"],  # trailing empty cells left out by the API
    ])
    rows = open_book().table(INDICATEURS).read(["Cantine", "Mois", "Repas servis"])
    assert [(r.id, r.fields) for r in rows] == [
        ("2", {"Cantine": "Lyon", "Mois": MARCH, "Repas servis": 10}),
        ("5", {"Cantine": "Lille", "Mois": APRIL, "Repas servis": None}),
    ]


def test_a_read_says_which_columns_the_header_lacks(fake: FakeSheets, open_book) -> None:
    hub(fake, Indicateurs=[["Cantine", "Mois", "Repas  servis"], ["Lyon", MARCH, 10]])
    table = open_book().table(INDICATEURS)
    assert table.absent_columns() == ()  # nothing known before a read
    (row,) = table.read()
    assert row.fields["Convives"] is None
    assert table.absent_columns() == tuple(n for n in INDICATEURS.column_names if n not in ("Cantine", "Mois", "Repas servis"))


def test_one_batch_get_reads_every_tab_of_the_book(fake: FakeSheets, open_book) -> None:
    hub(fake, Indicateurs=indicateurs_tab(), Cantines=cantines_tab(), Journal=[list(JOURNAL.column_names)])
    book = open_book()
    tables = [book.table(spec) for spec in (INDICATEURS, CANTINES, JOURNAL)]
    assert len(tables[1].read()) == 2
    assert [len(t.read()) for t in tables] == [3, 2, 0]
    (request,) = fake.requests("batchGet")
    assert request.query["ranges"] == ["'Indicateurs'", "'Cantines'", "'Journal'"]
    assert fake.counts() == {"batchGet": 1}  # no spreadsheets.get needed
    other = open_book()
    other.prefetch([INDICATEURS, CANTINES])
    other.table(INDICATEURS).read()
    assert fake.count("batchGet") == 2


def test_a_tab_named_with_other_case_and_spaces_is_found(fake: FakeSheets, open_book) -> None:
    hub(fake, **{" indicateurs ": indicateurs_tab(), "Cantines": cantines_tab()})
    book = open_book()
    book.table(CANTINES)
    assert len(book.table(INDICATEURS).read()) == 3
    assert fake.counts() == {"batchGet": 2, "get": 1}  # refused range, metadata, read again
    assert fake.requests("batchGet")[1].query["ranges"] == ["'Cantines'", "' indicateurs '"]


# -- writing -----------------------------------------------------------------------------------

def test_a_batch_sends_one_request_per_kind_for_all_tabs(fake: FakeSheets, open_book) -> None:
    hub(fake, Indicateurs=indicateurs_tab() + [["Nice", MARCH, 1], ["Nice", APRIL, 2], ["Nice", MAY, 3]],
        Cantines=cantines_tab() + [["Nice", "06000"], ["Brest", "29200"]])
    book = open_book()
    indicateurs, cantines = book.table(INDICATEURS), book.table(CANTINES)
    indicateurs.read()
    fake.reset_counts()
    with book.batch():
        indicateurs.update([("2", {"Repas servis": 1300, "Heures de bénévolat": 2}), ("4", {"Produits locaux (%)": 0.5})])
        cantines.update([("3", {"Code postal": "59800", "Budget annuel": Decimal("9000.50")})])
        created = indicateurs.create([{"Cantine": "Lille", "Mois": APRIL, "Repas servis": 900},
                                      {"Cantine": "Lille", "Mois": MAY, "Repas servis": 950}])
        cantines.create([{"Nom": "Caen", "Code postal": "14000"}])
        assert indicateurs.delete(["5", "6", "7", "3"]) == 4 and cantines.delete(["4"]) == 1
        assert fake.counts() == {}  # nothing sent inside the batch
        assert [r.fields["Mois"] for r in indicateurs.read() if r.fields["Cantine"] == "Lille"] == [APRIL, MAY]
    assert [(r.id, r.position) for r in created] == [("8", 8), ("9", 9)]
    assert fake.counts() == {"values.batchUpdate": 1, "get": 1, "batchUpdate": 1}  # every tab's new rows in one
    (structure,) = fake.requests("batchUpdate")
    inserted = [(r["insertDimension"]["range"]["startIndex"], r["insertDimension"]["range"]["endIndex"])
                for r in structure.body["requests"] if "insertDimension" in r]
    assert inserted == [(7, 9), (5, 6)]  # right after each tab's last row: Indicateurs 8-9, Cantines 6
    formats = [r["repeatCell"]["range"] for r in structure.body["requests"] if "repeatCell" in r]
    assert [(f["startRowIndex"], f["endRowIndex"], f["startColumnIndex"]) for f in formats] == [
        (7, 9, 1), (5, 6, 6)]  # the new rows' Mois (B8:B9), and Date d'ouverture (G6) in Cantines
    spans = [(r["deleteDimension"]["range"]["startIndex"], r["deleteDimension"]["range"]["endIndex"])
             for r in structure.body["requests"] if "deleteDimension" in r]
    assert spans == [(4, 7), (2, 3), (3, 4)]  # rows 5-7 then 3 in Indicateurs, row 4 in Cantines: bottom up
    (cells,) = fake.requests("values.batchUpdate")
    assert cells.body["valueInputOption"] == "RAW"
    assert [d["range"] for d in cells.body["data"]] == ["'Cantines'!B3", "'Cantines'!F3", "'Indicateurs'!C2:D2",
                                                        "'Indicateurs'!E4"]
    assert fake.values(HUB, "Indicateurs") == [
        ["Cantine", "Mois", "Repas servis", "Heures de bénévolat", "Produits locaux (%)"],
        ["Lyon", 46082, 1300, 2, 0.35],
        ["Lyon", 46113, 1250, 12, 0.5],
        ["Lille", 46113, 900],
        ["Lille", 46143, 950],
    ]
    assert fake.values(HUB, "Cantines")[1:] == [
        ["Lyon", "01000", "appeler en mai", True, "Culture, Insertion", 12500.5, 43589],
        ["Lille", "59800", "", False, "", 9000.5],
        ["Brest", "29200"],
        ["Caen", "14000"],
    ]
    fresh = open_book().table(INDICATEURS).read()
    assert [r.fields for r in fresh] == [r.fields for r in indicateurs.read()]  # the cache told the truth
    assert [r.id for r in fresh] == ["2", "3", "4", "5"]


def test_writes_outside_a_batch_are_sent_at_once(fake: FakeSheets, open_book) -> None:
    hub(fake, Indicateurs=indicateurs_tab())
    table = open_book().table(INDICATEURS)
    table.update([("2", {"Repas servis": 1})])
    assert writes(fake) == {"values.batchUpdate": 1}
    table.create([{"Cantine": "Nice", "Mois": MAY}])
    assert writes(fake) == {"values.batchUpdate": 1, "batchUpdate": 1}  # the row, its values and its date's format
    table.delete(["3"])
    assert writes(fake) == {"values.batchUpdate": 1, "batchUpdate": 2}
    assert fake.count("get") == 1  # the tab's id, asked once
    assert [r.fields["Cantine"] for r in table.read()] == ["Lyon", "Lyon", "Nice"]
    assert fake.count("batchGet") == 1


def test_text_is_stored_as_is_and_dates_as_serial_numbers(fake: FakeSheets, open_book) -> None:
    hub(fake)
    book = open_book()
    book.ensure_all([CANTINES, JOURNAL])
    started = dt.datetime(2026, 3, 2, 7, 30, 15, tzinfo=PARIS)
    book.table(CANTINES).create([{"Nom": "=1+1", "Code postal": "01000", "Ville": "1,5", "Département": "2026-03-01",
                                  "Date d'ouverture": MARCH, "Budget annuel": Decimal("12500.50")}])
    book.table(JOURNAL).create([{"Début": started, "Lu": 3}])
    (cantine, _) = fake.requests("batchUpdate")[-2:]  # the tabs' own, then the rows'
    (cells,) = [r["updateCells"] for r in cantine.body["requests"] if "updateCells" in r]
    assert cells["fields"] == "userEnteredValue"
    sent = [c.get("userEnteredValue") for c in cells["rows"][0]["values"]]
    assert {"stringValue": "=1+1"} in sent and {"stringValue": "01000"} in sent and {"stringValue": "1,5"} in sent
    row = dict(zip(CANTINES.column_names, fake.values(HUB, "Cantines")[1]))
    assert row["Nom"] == "=1+1" and row["Code postal"] == "01000" and row["Ville"] == "1,5"
    assert row["Département"] == "2026-03-01" and row["Date d'ouverture"] == 46082
    assert row["Budget annuel"] == 12500.5
    formatted = dict(zip(CANTINES.column_names, fake.values(HUB, "Cantines", render="FORMATTED_VALUE")[1]))
    assert formatted["Date d'ouverture"] == "01/03/2026"  # ensure_schema gave the column a date format
    assert fake.values(HUB, "Journal", render="FORMATTED_VALUE")[1][0] == "02/03/2026 07:30"
    again = open_book()
    assert again.table(JOURNAL).read()[0].fields["Début"] == started
    assert again.table(CANTINES).read()[0].fields["Code postal"] == "01000"


def test_new_rows_go_after_the_last_row_whatever_blank_rows_and_deletions_hit_the_right_rows(
    fake: FakeSheets, open_book,
) -> None:
    # a blank row would end the "table" values:append writes after: new rows are inserted after the last row
    hub(fake, Indicateurs=[
        ["Cantine", "Mois", "Repas servis"], ["Lyon", MARCH, 1], [], ["Lille", MARCH, 2], ["Nice", MARCH, 3],
    ])
    book = open_book()
    table = book.table(INDICATEURS)
    table.read()
    fake.set_number_format(HUB, "Indicateurs", "C5", {"type": "NUMBER", "pattern": "#,##0"})  # staff's format
    with book.batch():
        created = table.create([{"Cantine": "Caen", "Mois": APRIL, "Repas servis": 4}])
        table.delete(["4"])  # Lille
    assert created[0].id == "6"
    assert [r[0] if r else None for r in fake.values(HUB, "Indicateurs")] == ["Cantine", "Lyon", None, "Nice", "Caen"]
    assert [(r.id, r.fields["Cantine"]) for r in table.read()] == [("2", "Lyon"), ("4", "Nice"), ("5", "Caen")]
    assert [(r.id, r.fields["Cantine"]) for r in open_book().table(INDICATEURS).read()] == [
        ("2", "Lyon"), ("4", "Nice"), ("5", "Caen")]  # what the book kept is what Google has
    assert fake.number_format(HUB, "Indicateurs", "C5") == {"type": "NUMBER", "pattern": "#,##0"}  # the row above's
    assert fake.number_format(HUB, "Indicateurs", "B5")["type"] == "DATE"  # type: ignore[index]


def test_upserting_the_same_rows_twice_writes_nothing_the_second_time(fake: FakeSheets, open_book) -> None:
    hub(fake, Indicateurs=indicateurs_tab())
    rows = [{"Cantine": "Lyon", "Mois": MARCH, "Repas servis": 1200, "Heures de bénévolat": Decimal("1.5")},
            {"Cantine": "Lille", "Mois": APRIL, "Repas servis": 700}]
    book = open_book()
    first = book.table(INDICATEURS).upsert(rows, INDICATEURS.key)
    assert (len(first.created), len(first.updated), first.unchanged) == (1, 0, 1)
    before = writes(fake)
    second = open_book().table(INDICATEURS).upsert(rows, INDICATEURS.key)
    assert (second.written, second.unchanged) == (0, 2)
    assert writes(fake) == before


def test_a_batch_that_raises_sends_nothing(fake: FakeSheets, open_book) -> None:
    hub(fake, Indicateurs=indicateurs_tab())
    book = open_book()
    table = book.table(INDICATEURS)
    with pytest.raises(RuntimeError), book.batch():
        table.update([("2", {"Repas servis": 1})])
        raise RuntimeError("the domain failed")
    assert writes(fake) == {}
    assert table.read()[0].fields["Repas servis"] == 1200  # read again, as Google has it


# -- limits and retries ------------------------------------------------------------------------

def test_a_429_storm_is_retried_with_growing_waits_then_reported(fake: FakeSheets, open_book, clock) -> None:
    hub(fake, Indicateurs=indicateurs_tab())
    fake.fail_next(*[429] * 3, kind="batchGet")
    assert len(open_book().table(INDICATEURS).read()) == 3
    assert clock.sleeps == [1.0, 2.0, 4.0]
    clock.sleeps.clear()
    fake.fail_next(*[429] * 20, kind="batchGet")
    with pytest.raises(RetriableBackendError) as caught:
        open_book().table(INDICATEURS).read()
    assert clock.sleeps == list(RETRY_DELAYS) == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 32.0]
    assert fake.count("batchGet") == 4 + 8
    assert str(caught.value) == (
        f"Quota Google Sheets dépassé sur le classeur {HUB} : encore refusé (429 RESOURCE_EXHAUSTED) après "
        "8 essais et 95 s d'attente ; réessayez dans quelques minutes")


def test_pacing_keeps_within_the_quota_and_backoff_covers_other_clients(fake: FakeSheets, open_book, clock) -> None:
    hub(fake, Indicateurs=indicateurs_tab())
    for _ in range(61):  # 61 runs, one batchGet each
        open_book().table(INDICATEURS).read()
    assert fake.count("batchGet", status=429) == 0
    assert clock.sleeps == [pytest.approx(61.0)]  # the 61st waited for the first to be a minute (+1 s) old
    unpaced = SheetsHTTPClient(AnonymousCredentials(), endpoint_url=fake.url, clock=clock, sleep=clock.sleep,
                               reads_per_minute=None)
    fake.add_spreadsheet("open", tabs={"Indicateurs": indicateurs_tab()})
    clock.sleeps.clear()
    for _ in range(61):
        open_book("open", http=unpaced).table(INDICATEURS).read()
    assert clock.sleeps == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]  # 63 s: the window moved on
    assert fake.count("batchGet", key="open", status=429) == 6


def test_server_errors_are_retried_only_where_doing_it_twice_is_harmless(fake: FakeSheets, open_book, clock) -> None:
    hub(fake, Indicateurs=indicateurs_tab())
    table = open_book().table(INDICATEURS)
    fake.fail_next(500, 503, kind="values.batchUpdate")
    table.update([("2", {"Repas servis": 5})])
    assert clock.sleeps == [1.0, 2.0]
    fake.fail_next(503, kind="batchUpdate")  # inserting rows twice would add them twice: not retried
    with pytest.raises(RetriableBackendError, match=r"Google Sheets en erreur .* "
                                                    r"\(HTTP 503 UNAVAILABLE\) : réessayez plus tard"):
        table.create([{"Cantine": "Nice", "Mois": MAY}])
    assert fake.count("batchUpdate") == 1 and clock.sleeps == [1.0, 2.0]
    assert [r[0] for r in fake.values(HUB, "Indicateurs")] == ["Cantine", "Lyon", "Lille", "Lyon"]


def test_every_request_has_a_timeout(fake: FakeSheets, credentials_text: str, clock: FakeClock) -> None:
    hub(fake, Indicateurs=indicateurs_tab())
    http = connect(credentials_text, endpoint_url=fake.url, timeout=0.2, retry_delays=(1.0,), clock=clock,
                   sleep=clock.sleep)
    SheetsBook(HUB, http=http, timezone=PARIS).table(INDICATEURS).read()  # the token, while the fake is quick
    fake.latency = 0.4
    with pytest.raises(RetriableBackendError, match=r"Google Sheets injoignable pour le classeur .* réessayez"):
        SheetsBook(HUB, http=http, timezone=PARIS).table(INDICATEURS).read()
    assert clock.sleeps == [1.0]  # a read is tried again once (retry_delays), then reported


def test_with_an_endpoint_nothing_is_sent_to_google(fake: FakeSheets, open_book) -> None:
    hub(fake, Indicateurs=indicateurs_tab())
    key = service_account_info(ACCOUNT, "https://oauth2.googleapis.com/token")  # Google's token URI, as issued
    http = connect(json.dumps(key), endpoint_url=fake.url + "/")
    assert http.url("https://sheets.googleapis.com/v4/spreadsheets/k?x=1") == f"{fake.url}/v4/spreadsheets/k?x=1"
    assert http.url("https://example.org/v4") == "https://example.org/v4"
    assert len(open_book(http=http).table(INDICATEURS).read()) == 3
    token = fake.requests("token")[0]
    assert token.path == "/token" and fake.requests("batchGet")[0].account == ACCOUNT
    with pytest.raises(ConfigurationError, match="GOOGLE_SHEETS_ENDPOINT_URL must be an http"):
        connect(json.dumps(key), endpoint_url="localhost:8766")


# -- errors staff and deployers act on -----------------------------------------------------------

def test_a_spreadsheet_not_shared_names_the_service_account(fake: FakeSheets, open_book) -> None:
    fake.add_spreadsheet(HUB, tabs={"Indicateurs": indicateurs_tab()}, shared_with=["someone@example.org"])
    with pytest.raises(SpreadsheetAccessError) as caught:
        open_book(label="Cantine de Lyon").table(INDICATEURS).read()
    assert str(caught.value) == (
        f"Classeur Google Sheets « Cantine de Lyon » ({HUB}) introuvable ou non partagé avec {ACCOUNT} : "
        f"vérifiez la clé du classeur et partagez-le avec {ACCOUNT} (droit « Éditeur »)")
    assert isinstance(caught.value, ConfigurationError) and isinstance(caught.value, BackendError)
    with pytest.raises(SpreadsheetAccessError, match=ACCOUNT):
        open_book("no-such-key").table(INDICATEURS).read()
    fake.add_spreadsheet("read-only", tabs={"Indicateurs": indicateurs_tab()}, shared_with={ACCOUNT: "reader"})
    table = open_book("read-only").table(INDICATEURS)
    assert len(table.read()) == 3
    with pytest.raises(SpreadsheetAccessError, match="Éditeur"):
        table.update([("2", {"Repas servis": 1})])


def test_a_disabled_api_is_not_mistaken_for_a_spreadsheet_not_shared(fake: FakeSheets, open_book) -> None:
    hub(fake, Indicateurs=indicateurs_tab())
    fake.fail_next(SheetsError(403, "PERMISSION_DENIED", "Google Sheets API has not been used in project 123 before "
                               "or it is disabled. Enable it by visiting https://console.developers.google.com/apis/"
                               "api/sheets.googleapis.com/overview?project=123 then retry.",
                               [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "SERVICE_DISABLED"}]),
                   kind="batchGet")
    with pytest.raises(ConfigurationError, match="The Google Sheets API is not enabled") as caught:
        open_book().table(INDICATEURS).read()
    assert not isinstance(caught.value, SpreadsheetAccessError)


def test_a_missing_tab_points_to_cantines_init_sheets(fake: FakeSheets, open_book) -> None:
    hub(fake, Cantines=cantines_tab())
    book = open_book(label="Hub")
    indicateurs, cantines = book.table(INDICATEURS), book.table(CANTINES)
    with pytest.raises(SchemaError) as caught:
        indicateurs.read()
    assert str(caught.value) == (f"Onglet « Indicateurs » absent du classeur Google Sheets « Hub » ({HUB}) "
                                 "(lancez `cantines init sheets` ou ajoutez l'onglet)")
    assert len(cantines.read()) == 2  # the other tab was read all the same
    assert fake.counts() == {"batchGet": 2, "get": 1}
    with pytest.raises(SchemaError, match=r"Colonnes « Ville », « Département » absentes de l'onglet "
                                          r"« Cantines » .*lancez `cantines init sheets`"):
        cantines.create([{"Nom": "Caen", "Ville": "Caen", "Département": "14"}])


def test_credentials_google_refuses_are_a_configuration_error(fake: FakeSheets, open_book) -> None:
    hub(fake, Indicateurs=indicateurs_tab())
    fake.revoked.add(ACCOUNT)
    with pytest.raises(ConfigurationError, match=rf"Google refused a token to the service account {ACCOUNT} "
                                                 r"\(invalid_grant: Invalid JWT Signature.*GOOGLE_SERVICE_ACCOUNT_JSON"):
        open_book().table(INDICATEURS).read()
    fake.revoked.clear()
    fake.fail_next(401, 401, 401, kind="batchGet")  # google-auth gets a new token and tries twice more itself
    with pytest.raises(ConfigurationError, match=r"HTTP 401 UNAUTHENTICATED.*GOOGLE_SERVICE_ACCOUNT_JSON"):
        open_book().table(INDICATEURS).read()


# -- credentials ---------------------------------------------------------------------------------

def _variants() -> list[Any]:
    def raw(info: dict[str, str]) -> str:
        return json.dumps(info, indent=2)

    def b64(info: dict[str, str]) -> str:
        return base64.b64encode(json.dumps(info).encode()).decode()

    def b64_urlsafe_unpadded(info: dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(info).encode()).decode().rstrip("=")

    def escaped_newlines(info: dict[str, str]) -> str:  # the key's newlines arrive as backslash-n
        return json.dumps({**info, "private_key": info["private_key"].replace("\n", "\\n")})

    def real_newlines(info: dict[str, str]) -> str:  # pasted with the newlines inside the JSON string
        return json.dumps(info).replace("\\n", "\n")

    def quoted_with_spaces(info: dict[str, str]) -> str:
        return f"  '{json.dumps(info)}'\n"

    return [pytest.param(f, id=f.__name__) for f in (raw, b64, b64_urlsafe_unpadded, escaped_newlines,
                                                     real_newlines, quoted_with_spaces)]


@pytest.mark.parametrize("encode", _variants())
def test_credentials_are_read_from_json_or_base64(encode: Callable[[dict[str, str]], str]) -> None:
    info = service_account_info(ACCOUNT, "https://oauth2.googleapis.com/token")
    credentials = load_credentials(encode(info))
    assert credentials.service_account_email == ACCOUNT
    assert credentials.scopes == ["https://www.googleapis.com/auth/spreadsheets"]
    assert credentials.sign_bytes(b"proof")  # the key itself was understood


BROKEN_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"


@pytest.mark.parametrize(("text", "reason"), [
    pytest.param("", "is empty", id="empty"),
    pytest.param("not a key at all", "neither JSON nor base64-encoded JSON", id="garbage"),
    pytest.param(base64.b64encode(b"hello").decode(), "neither JSON nor base64", id="base64-of-garbage"),
    pytest.param('{"type": "service_account", "client_email": ', "not valid JSON (line 1, column 44)",
                 id="truncated-json"),
    pytest.param("[1, 2]", "neither JSON nor base64", id="json-array"),
    pytest.param(json.dumps({"type": "authorized_user", "client_id": "x", "refresh_token": "secret-refresh"}),
                 "a 'authorized_user' key, not a service account key", id="user-credentials"),
    pytest.param(json.dumps({"type": "service_account", "client_email": ACCOUNT, "token_uri": "https://t"}),
                 "it has no private_key", id="no-private-key"),
    pytest.param(json.dumps({"type": "service_account", "client_email": ACCOUNT, "token_uri": "https://t",
                             "private_key": "secret-but-not-pem"}), "not a PEM private key", id="not-pem"),
    pytest.param(json.dumps({"type": "service_account", "client_email": ACCOUNT, "token_uri": "https://t",
                             "private_key": BROKEN_KEY}), "cannot be read as an RSA private key", id="damaged-key"),
])
def test_bad_credentials_name_the_variable_and_never_show_the_key(text: str, reason: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_credentials(text)
    message = str(caught.value)
    assert message.startswith("GOOGLE_SERVICE_ACCOUNT_JSON is ") and reason in message
    assert "\n" not in message
    for secret in ("secret", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "not a key at all", "hello"):
        assert secret not in message
    assert caught.value.__cause__ is None  # nor a context shown: no parser message quoting the text
    assert caught.value.__context__ is None or caught.value.__suppress_context__


def test_a_real_key_never_appears_in_the_message() -> None:
    info = service_account_info(ACCOUNT, "https://oauth2.googleapis.com/token")
    damaged = {**info, "private_key": info["private_key"][:400] + info["private_key"][-30:]}
    with pytest.raises(ConfigurationError) as caught:
        load_credentials(json.dumps(damaged))
    body = "".join(info["private_key"].splitlines()[1:-1])
    message = str(caught.value)
    assert not any(body[i:i + 12] in message for i in range(0, len(body) - 12, 6))


# -- schema --------------------------------------------------------------------------------------

def test_ensure_schema_sets_up_a_new_spreadsheet_in_four_requests(fake: FakeSheets, open_book) -> None:
    hub(fake)  # a new spreadsheet has one empty "Feuille 1"
    book = open_book()
    changes = book.ensure_all(SCHEMA.values())
    assert all(c.created_table and c.added_columns == list(SCHEMA[code].column_names) for code, c in changes.items())
    assert fake.counts() == {"get": 1, "batchUpdate": 1, "values.batchUpdate": 1}
    metadata = fake.spreadsheets[HUB].metadata()
    titles = [s["properties"]["title"] for s in metadata["sheets"]]
    assert titles == ["Feuille 1", *(spec.name for spec in SCHEMA.values())]
    assert all(s["properties"]["gridProperties"].get("frozenRowCount") == 1 for s in metadata["sheets"][1:])
    for spec in SCHEMA.values():
        assert fake.values(HUB, spec.name) == [list(spec.column_names)]
    assert fake.number_format(HUB, "Échéances", "E2") == {"type": "DATE", "pattern": "dd/mm/yyyy"}
    assert fake.number_format(HUB, "Échéances", "E1000")["type"] == "DATE"
    fake.reset_counts()
    again = open_book().ensure_all(SCHEMA.values())
    assert not any(c.changed for c in again.values())
    assert writes(fake) == {}
    assert fake.count("batchGet") == 1  # the fresh book read the headers; the first knew its new tabs:
    assert len(book.table(INDICATEURS).read()) == 0 and fake.count("batchGet") == 1


def test_ensure_schema_completes_a_partly_set_up_spreadsheet_and_keeps_the_rest(fake: FakeSheets, open_book) -> None:
    fake.add_spreadsheet(HUB, shared_with=[ACCOUNT], columns=8, tabs={
        "Mémo": [["À faire"], ["relancer la Fondation"]],
        "cantines": [["Ville", "nom", "Notes internes", "Statut", "", "Responsable"],
                     ["Lyon", "Cantine de Lyon", "ne pas supprimer", "Ouverte", "", "Alice"]],
    })
    book = open_book()
    cantines = book.table(CANTINES)
    assert cantines.read()[0].fields["Nom"] == "Cantine de Lyon"
    changes = book.ensure_all([CANTINES, INDICATEURS])
    missing = [n for n in CANTINES.column_names if n not in ("Ville", "Nom", "Statut", "Responsable")]
    assert changes["cantines"].added_columns == missing and not changes["cantines"].created_table
    assert changes["indicateurs"].created_table
    header, row = fake.values(HUB, "cantines")
    assert header == ["Ville", "nom", "Notes internes", "Statut", "", "Responsable", *missing]  # after the last
    assert row == ["Lyon", "Cantine de Lyon", "ne pas supprimer", "Ouverte", "", "Alice"]
    assert fake.values(HUB, "Mémo") == [["À faire"], ["relancer la Fondation"]]
    (structure,) = fake.requests("batchUpdate")
    kinds = [next(iter(r)) for r in structure.body["requests"]]
    assert kinds[:2] == ["appendDimension", "addSheet"]  # the grid had 8 columns; structure before formats
    assert set(kinds[2:]) == {"repeatCell"}  # header colours, number formats (no new choice column here)
    assert structure.body["requests"][0]["appendDimension"]["length"] == 6 + len(missing) - 8
    # the read asked for 'Cantines' (refused), found "cantines" in the metadata and read it; ensure_schema then
    # took its header from what the book had read
    assert fake.count("batchGet") == 2 and fake.count("batchGet", status=400) == 1
    cantines.update([("2", {"Ville": "Lyon 7e", "Département": "69"})])
    assert cantines.read()[0].fields["Département"] == "69"


# -- gspread's own client ------------------------------------------------------------------------

def test_the_http_client_also_works_under_gspreads_client(fake: FakeSheets, clock: FakeClock) -> None:
    fake.add_spreadsheet(HUB, tabs={"Indicateurs": indicateurs_tab()})  # shared with anyone
    client = gspread.Client(AnonymousCredentials(), http_client=functools.partial(
        SheetsHTTPClient, endpoint_url=fake.url, clock=clock, sleep=clock.sleep))
    sheet = client.open_by_key(HUB).worksheet("Indicateurs")
    assert sheet.get_all_values()[1][:3] == ["Lyon", "01/03/2026", "1200"]  # gspread's default: formatted
    book = SheetsBook(HUB, http=client.http_client, timezone=PARIS)
    assert book.account_email is None
    assert book.table(INDICATEURS).read()[0].fields["Mois"] == MARCH
    assert isinstance(book.table(INDICATEURS), SheetsTable)


def test_gspreads_own_update_resize_and_freeze_work_against_the_fake(fake: FakeSheets, clock: FakeClock) -> None:
    """gspread sends `"majorDimension": null` and field masks written "gridProperties/rowCount": Google
    takes both (gspread's cassettes), so the fake must too."""
    fake.add_spreadsheet(HUB, tabs={"Indicateurs": indicateurs_tab()})
    client = gspread.Client(AnonymousCredentials(), http_client=functools.partial(
        SheetsHTTPClient, endpoint_url=fake.url, clock=clock, sleep=clock.sleep))
    sheet = client.open_by_key(HUB).worksheet("Indicateurs")
    sheet.update([["Cantine", "Mois"], ["Canuts", "mars"]], "A1:B2")  # body {"values": …, "majorDimension": null}
    assert sheet.get_values("A1:B2") == [["Cantine", "Mois"], ["Canuts", "mars"]]
    sheet.resize(rows=40, cols=5)
    sheet.freeze(rows=1, cols=1)
    [props] = [s["properties"] for s in fake.spreadsheets[HUB].metadata()["sheets"]
               if s["properties"]["title"] == "Indicateurs"]
    assert props["gridProperties"] == {"rowCount": 40, "columnCount": 5, "frozenRowCount": 1, "frozenColumnCount": 1}
    assert client.open_by_key(HUB).worksheet("Indicateurs").row_count == 40
    sheet.resize(rows=1)  # shrinking drops the rows beyond, with their values
    rows = sheet.get_all_values()
    assert len(rows) == 1 and rows[0][:2] == ["Cantine", "Mois"]
