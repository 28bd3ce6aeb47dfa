"""The fake Google Sheets answers like the Sheets v4 API: values, rendering, appends, batch updates,
sharing, tokens, quotas, error bodies, faults."""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from google.oauth2 import service_account
from google.auth.transport.requests import Request

from .conftest import REPO
from .fakes.clock import FakeClock
from .fakes.sheets import FakeSheets, service_account_info

KEY = "1FakeSheetsTestSpreadsheet000000000000000001"
EDITOR = "editor@cantines-tests.iam.gserviceaccount.com"
READER = "reader@cantines-tests.iam.gserviceaccount.com"
STRANGER = "stranger@cantines-tests.iam.gserviceaccount.com"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(clock: FakeClock) -> Iterator[FakeSheets]:
    with FakeSheets(clock=clock) as server:
        server.add_spreadsheet(KEY, title="Hub", shared_with={EDITOR: "writer", READER: "reader"}, tabs={
            "Indicateurs": [
                ["Cantine", "Mois", "Repas", "Taux", "Actif", "Code"],
                ["Lyon", dt.date(2026, 3, 1), 1.5, 0.25, True, "01000"],
                [],
                ["Lille", dt.date(2026, 4, 1), 1234.5, None, False],
            ],
            "Notes": [["Texte"]],
        })
        yield server


def call(fake: FakeSheets, method: str, path: str, *, account: str | None = EDITOR,
         **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {fake.token_for(account)}"} if account else {}
    return requests.request(method, f"{fake.url}/v4/spreadsheets/{KEY}{path}", headers=headers, timeout=5,
                            **kwargs)


def values(fake: FakeSheets, range_: str, account: str | None = EDITOR, **params: str) -> dict[str, Any]:
    response = call(fake, "GET", f"/values/{requests.utils.quote(range_, safe='')}", account=account,
                    params=params)
    assert response.status_code == 200, response.text
    return response.json()


def error(response: requests.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "status"}
    assert body["error"]["code"] == response.status_code
    return body["error"]


# -- metadata and reading ----------------------------------------------------------------------

def test_spreadsheets_get_answers_properties_sheets_and_grid(fake: FakeSheets) -> None:
    meta = call(fake, "GET", "", params={"includeGridData": "false"}).json()
    assert meta["spreadsheetId"] == KEY
    assert meta["properties"]["title"] == "Hub" and meta["properties"]["locale"] == "fr_FR"
    sheets = [s["properties"] for s in meta["sheets"]]
    assert [(s["title"], s["index"]) for s in sheets] == [("Indicateurs", 0), ("Notes", 1)]
    assert sheets[0]["gridProperties"] == {"rowCount": 1000, "columnCount": 26}
    assert len({s["sheetId"] for s in sheets}) == 2


@pytest.mark.parametrize(("render", "datetime_render", "row"), [
    pytest.param("FORMATTED_VALUE", "SERIAL_NUMBER", ["Lyon", "01/03/2026", "1,5", "25\u202f%", "VRAI", "01000"],
                 id="formatted-french-locale"),
    pytest.param("UNFORMATTED_VALUE", "SERIAL_NUMBER", ["Lyon", 46082, 1.5, 0.25, True, "01000"],
                 id="unformatted-serial-dates"),
    pytest.param("UNFORMATTED_VALUE", "FORMATTED_STRING", ["Lyon", "01/03/2026", 1.5, 0.25, True, "01000"],
                 id="unformatted-with-formatted-dates"),
])
def test_values_are_rendered_as_asked(fake: FakeSheets, render: str, datetime_render: str, row: list[Any]) -> None:
    fake.add_spreadsheet("K2", tabs={"T": [["Cantine", "Mois", "Repas", "Taux", "Actif", "Code"],
                                           ["Lyon", dt.date(2026, 3, 1), 1.5, 0.25, True, "01000"]]})
    requests.post(f"{fake.url}/v4/spreadsheets/K2:batchUpdate", timeout=5, json={"requests": [{"repeatCell": {
        "range": {"sheetId": 0, "startRowIndex": 1, "endRowIndex": 2, "startColumnIndex": 3, "endColumnIndex": 4},
        "cell": {"userEnteredFormat": {"numberFormat": {"type": "PERCENT", "pattern": "0%"}}},
        "fields": "userEnteredFormat.numberFormat"}}]})
    answer = requests.get(f"{fake.url}/v4/spreadsheets/K2/values/T", timeout=5,
                          params={"valueRenderOption": render, "dateTimeRenderOption": datetime_render}).json()
    assert answer["values"][1] == row


def test_default_render_is_formatted_and_trailing_empties_are_left_out(fake: FakeSheets) -> None:
    answer = values(fake, "Indicateurs")
    assert answer["range"] == "Indicateurs!A1:Z1000" and answer["majorDimension"] == "ROWS"
    assert answer["values"][1][2] == "1,5"  # what a client that forgets UNFORMATTED_VALUE gets
    assert answer["values"][2] == []  # a blank row in the middle stays, as an empty list
    assert answer["values"][3] == ["Lille", "01/04/2026", "1234,5", "", "FAUX"]  # trailing cells left out
    assert len(answer["values"]) == 4  # trailing empty rows left out


def test_columns_major_dimension_and_partial_ranges(fake: FakeSheets) -> None:
    answer = values(fake, "'Indicateurs'!A1:B2", majorDimension="COLUMNS", valueRenderOption="UNFORMATTED_VALUE")
    assert answer["range"] == "Indicateurs!A1:B2" and answer["majorDimension"] == "COLUMNS"
    assert answer["values"] == [["Cantine", "Lyon"], ["Mois", 46082]]
    assert values(fake, "Indicateurs!C:C", valueRenderOption="UNFORMATTED_VALUE")["values"] == [
        ["Repas"], [1.5], [], [1234.5]]
    assert values(fake, "Notes!B2:C3") == {"range": "Notes!B2:C3", "majorDimension": "ROWS"}  # no values key


def test_batch_get_reads_several_ranges_and_refuses_an_unknown_tab(fake: FakeSheets) -> None:
    answer = call(fake, "GET", "/values:batchGet",
                  params={"ranges": ["Indicateurs!A1:A2", "'Notes'"], "valueRenderOption": "UNFORMATTED_VALUE"}).json()
    assert [r["values"] for r in answer["valueRanges"]] == [[["Cantine"], ["Lyon"]], [["Texte"]]]
    response = call(fake, "GET", "/values:batchGet", params={"ranges": ["Notes", "Absent"]})
    assert response.status_code == 400
    assert error(response) == {"code": 400, "message": "Unable to parse range: Absent", "status": "INVALID_ARGUMENT"}
    bad = call(fake, "GET", "/values:batchGet", params={"ranges": "Notes", "valueRenderOption": "PRETTY"})
    assert bad.status_code == 400 and "value_render_option" in error(bad)["message"]


# -- writing -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("option", "typed", "stored"), [
    pytest.param("RAW", "01000", "01000", id="raw-keeps-leading-zero"),
    pytest.param("RAW", "1,5", "1,5", id="raw-keeps-french-number-as-text"),
    pytest.param("RAW", "=1+1", "=1+1", id="raw-keeps-formula-as-text"),
    pytest.param("RAW", 46082, 46082, id="raw-number"),
    pytest.param("USER_ENTERED", "01000", 1000, id="user-entered-loses-leading-zero"),
    pytest.param("USER_ENTERED", "'01000", "01000", id="user-entered-apostrophe-keeps-text"),
    pytest.param("USER_ENTERED", "1,5", 1.5, id="user-entered-parses-french-number"),
    pytest.param("USER_ENTERED", "1 234,5", 1234.5, id="user-entered-parses-grouping"),
    pytest.param("USER_ENTERED", "01/03/2026", 46082, id="user-entered-parses-french-date"),
    pytest.param("USER_ENTERED", "vrai", True, id="user-entered-parses-boolean"),
])
def test_values_update_stores_typed_cells(fake: FakeSheets, option: str, typed: Any, stored: Any) -> None:
    response = call(fake, "PUT", "/values/Notes!B2", params={"valueInputOption": option}, json={"values": [[typed]]})
    assert response.status_code == 200
    assert response.json() == {"spreadsheetId": KEY, "updatedRange": "Notes!B2", "updatedRows": 1,
                               "updatedColumns": 1, "updatedCells": 1}
    assert fake.values(KEY, "Notes")[1] == ["", stored]


def test_values_update_needs_an_input_option_and_stays_in_the_grid(fake: FakeSheets) -> None:
    missing = call(fake, "PUT", "/values/Notes!A2", json={"values": [["x"]]})
    assert error(missing) == {"code": 400, "message": "'value_input_option' is required but not specified",
                              "status": "INVALID_ARGUMENT"}
    outside = call(fake, "PUT", "/values/Notes!A1000", params={"valueInputOption": "RAW"},
                   json={"values": [["x"], ["y"]]})
    assert outside.status_code == 400
    assert error(outside)["message"] == ("Range (Notes!A1000:A1001) exceeds grid limits. Max rows: 1000, "
                                         "max columns: 26")
    too_big = call(fake, "PUT", "/values/Notes!A2:A2", params={"valueInputOption": "RAW"},
                   json={"values": [["x"], ["y"]]})
    assert too_big.status_code == 400 and "Requested writing within range" in error(too_big)["message"]
    assert fake.values(KEY, "Notes") == [["Texte"]]


def test_values_batch_update_writes_several_tabs_all_or_nothing(fake: FakeSheets) -> None:
    body = {"valueInputOption": "RAW", "data": [
        {"range": "Indicateurs!C2", "values": [[7]]},
        {"range": "'Notes'!A2:B2", "values": [["a", ""]]},
    ]}
    answer = call(fake, "POST", "/values:batchUpdate", json=body).json()
    assert (answer["totalUpdatedCells"], answer["totalUpdatedSheets"]) == (3, 2)
    assert fake.values(KEY, "Indicateurs")[1][2] == 7 and fake.values(KEY, "Notes")[1] == ["a"]
    body["data"].append({"range": "Absent!A1", "values": [["x"]]})
    body["data"][0]["values"] = [[8]]
    assert call(fake, "POST", "/values:batchUpdate", json=body).status_code == 400
    assert fake.values(KEY, "Indicateurs")[1][2] == 7  # nothing applied


def test_append_inserts_after_the_table_found_from_the_range(fake: FakeSheets) -> None:
    params = {"valueInputOption": "RAW", "insertDataOption": "INSERT_ROWS"}
    answer = call(fake, "POST", f"/values/{requests.utils.quote('Indicateurs!A1', safe='')}:append", params=params,
                  json={"values": [["Nice", 46113, 3]]}).json()
    # the table starting at A1 ends at the blank row 3: Google inserts there, pushing Lille down
    assert answer["tableRange"] == "Indicateurs!A1:F2"
    assert answer["updates"]["updatedRange"] == "Indicateurs!A3:C3"
    rows = fake.values(KEY, "Indicateurs")
    assert [r[0] if r else None for r in rows] == ["Cantine", "Lyon", "Nice", None, "Lille"]
    assert fake.number_format(KEY, "Indicateurs", "B3") == {"type": "DATE", "pattern": "dd/mm/yyyy"}  # from above
    meta = call(fake, "GET", "").json()
    assert meta["sheets"][0]["properties"]["gridProperties"]["rowCount"] == 1001
    below = call(fake, "POST", "/values/Notes!A5:append", params=params, json={"values": [["b"], ["c"]]}).json()
    assert below["updates"]["updatedRange"] == "Notes!A5:A6" and "tableRange" not in below  # no table there


def test_batch_update_adds_sheets_deletes_rows_and_is_atomic(fake: FakeSheets) -> None:
    replies = call(fake, "POST", ":batchUpdate", json={"requests": [
        {"addSheet": {"properties": {"title": "Journal", "sheetId": 42,
                                     "gridProperties": {"rowCount": 10, "columnCount": 3, "frozenRowCount": 1}}}},
        {"deleteDimension": {"range": {"sheetId": 0, "dimension": "ROWS", "startIndex": 2, "endIndex": 3}}},
    ]}).json()["replies"]
    assert replies[0]["addSheet"]["properties"]["gridProperties"] == {"rowCount": 10, "columnCount": 3,
                                                                      "frozenRowCount": 1}
    assert replies[1] == {}
    assert [r[0] for r in fake.values(KEY, "Indicateurs")] == ["Cantine", "Lyon", "Lille"]
    duplicate = call(fake, "POST", ":batchUpdate", json={"requests": [
        {"deleteDimension": {"range": {"sheetId": 0, "dimension": "ROWS", "startIndex": 1, "endIndex": 2}}},
        {"addSheet": {"properties": {"title": "journal"}}},
    ]})
    assert duplicate.status_code == 400
    assert 'A sheet with the name "journal" already exists' in error(duplicate)["message"]
    assert [r[0] for r in fake.values(KEY, "Indicateurs")] == ["Cantine", "Lyon", "Lille"]  # first request undone
    unknown = call(fake, "POST", ":batchUpdate", json={"requests": [{"sortRange": {}}]})
    assert unknown.status_code == 400 and 'Unknown name "sortRange"' in error(unknown)["message"]


@pytest.mark.parametrize(
    "properties, fields, grid",
    [
        pytest.param({"gridProperties": {"rowCount": 50, "columnCount": 8}}, "gridProperties/rowCount,"
                     "gridProperties/columnCount", {"rowCount": 50, "columnCount": 8}, id="gspread-slashes"),
        pytest.param({"gridProperties": {"frozenRowCount": 1, "frozenColumnCount": 2}}, "gridProperties.frozenRowCount,"
                     "gridProperties.frozenColumnCount", {"rowCount": 1000, "columnCount": 26, "frozenRowCount": 1,
                                                          "frozenColumnCount": 2}, id="dots"),
        pytest.param({"title": "Chiffres", "gridProperties": {"rowCount": 30, "columnCount": 6}}, "*",
                     {"rowCount": 30, "columnCount": 6}, id="star"),
        pytest.param({"gridProperties": {"rowCount": 30, "frozenRowCount": 1}}, "title",
                     {"rowCount": 1000, "columnCount": 26}, id="only-what-the-mask-names"),
    ],
)
def test_update_sheet_properties_applies_its_field_mask(fake: FakeSheets, properties: dict[str, Any], fields: str,
                                                        grid: dict[str, Any]) -> None:
    request = {"updateSheetProperties": {"properties": {"sheetId": 0, "title": "Indicateurs", **properties},
                                         "fields": fields}}
    assert call(fake, "POST", ":batchUpdate", json={"requests": [request]}).status_code == 200
    [first, _notes] = call(fake, "GET", "").json()["sheets"]
    assert first["properties"]["gridProperties"] == grid
    assert first["properties"]["title"] == properties.get("title", "Indicateurs")


def test_update_sheet_properties_refuses_an_unknown_field(fake: FakeSheets) -> None:
    request = {"updateSheetProperties": {"properties": {"sheetId": 0}, "fields": "gridProperties/rowsCount"}}
    response = call(fake, "POST", ":batchUpdate", json={"requests": [request]})
    assert response.status_code == 400 and "rowsCount" in error(response)["message"]


def test_a_null_major_dimension_means_rows(fake: FakeSheets) -> None:
    update = call(fake, "PUT", f"/values/{requests.utils.quote('Notes!A1:B1', safe='')}",
                  params={"valueInputOption": "RAW"}, json={"values": [["a", "b"]], "majorDimension": None})
    assert update.status_code == 200, update.text
    batch = call(fake, "POST", "/values:batchUpdate", json={"valueInputOption": "RAW", "data": [
        {"range": "Notes!A2:B2", "values": [["c", "d"]], "majorDimension": None}]})
    assert batch.status_code == 200, batch.text
    assert fake.values(KEY, "Notes") == [["a", "b"], ["c", "d"]]


# -- accounts, tokens, errors ------------------------------------------------------------------

def test_unknown_spreadsheet_and_unshared_account_get_googles_errors(fake: FakeSheets) -> None:
    missing = requests.get(f"{fake.url}/v4/spreadsheets/nope", timeout=5)
    assert error(missing) == {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND"}
    for account in (STRANGER, None):
        refused = call(fake, "GET", "", account=account)
        assert error(refused) == {"code": 403, "message": "The caller does not have permission",
                                  "status": "PERMISSION_DENIED"}
    assert values(fake, "Notes", account=READER)["values"] == [["Texte"]]
    write = call(fake, "PUT", "/values/Notes!A2", account=READER, params={"valueInputOption": "RAW"},
                 json={"values": [["x"]]})
    assert write.status_code == 403


def test_service_account_credentials_get_a_token_that_names_the_account(fake: FakeSheets) -> None:
    credentials = service_account.Credentials.from_service_account_info(
        service_account_info(EDITOR, fake.token_uri), scopes=["https://www.googleapis.com/auth/spreadsheets"])
    credentials.refresh(Request())
    assert fake.count("token") == 1
    response = requests.get(f"{fake.url}/v4/spreadsheets/{KEY}", timeout=5,
                            headers={"Authorization": f"Bearer {credentials.token}"})
    assert response.status_code == 200
    assert fake.requests("get")[-1].account == EDITOR
    fake.revoked.add(EDITOR)
    refused = requests.post(fake.token_uri, timeout=5, data={
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "assertion": credentials._make_authorization_grant_assertion()})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


def test_read_and_write_quotas_are_per_account_and_per_minute(fake: FakeSheets, clock: FakeClock) -> None:
    for _ in range(60):
        assert call(fake, "GET", "/values/Notes").status_code == 200
        clock.advance(0.9)
    refused = call(fake, "GET", "/values/Notes")
    assert refused.status_code == 429
    body = error(refused)
    assert body["status"] == "RESOURCE_EXHAUSTED"
    assert "'Read requests per minute per user'" in body["message"]
    write = call(fake, "PUT", "/values/Notes!A2", params={"valueInputOption": "RAW"}, json={"values": [["x"]]})
    assert write.status_code == 200  # writes have their own quota
    assert call(fake, "GET", "/values/Notes", account=READER).status_code == 200  # so has each account
    clock.advance(6.0)  # the first read is now 60 s old, the second 59.1 s
    assert call(fake, "GET", "/values/Notes").status_code == 200
    assert call(fake, "GET", "/values/Notes").status_code == 429


def test_counts_by_kind_and_reset(fake: FakeSheets) -> None:
    call(fake, "GET", "")
    call(fake, "GET", "/values:batchGet", params={"ranges": "Notes"})
    call(fake, "GET", "/values/Notes")
    call(fake, "POST", "/values:batchUpdate", json={"valueInputOption": "RAW", "data": []})
    call(fake, "POST", "/values/Notes:append", params={"valueInputOption": "RAW"}, json={"values": [["x"]]})
    call(fake, "PUT", "/values/Notes!A9", params={"valueInputOption": "RAW"}, json={"values": [["x"]]})
    call(fake, "POST", ":batchUpdate", json={"requests": [{"appendDimension": {
        "sheetId": 0, "dimension": "ROWS", "length": 5}}]})
    assert fake.counts() == {"get": 1, "batchGet": 1, "values.get": 1, "values.batchUpdate": 1, "append": 1,
                             "values.update": 1, "batchUpdate": 1}
    assert fake.count("batchGet", key=KEY, status=200) == 1
    fake.reset_counts()
    assert fake.counts() == {}


def test_forced_faults_dropped_connections_and_latency(fake: FakeSheets) -> None:
    fake.fail_next(503, kind="append")
    assert call(fake, "GET", "/values/Notes").status_code == 200  # another kind: not affected
    forced = call(fake, "POST", "/values/Notes:append", params={"valueInputOption": "RAW"}, json={"values": [["x"]]})
    assert error(forced) == {"code": 503, "message": "The service is currently unavailable.", "status": "UNAVAILABLE"}
    assert fake.values(KEY, "Notes") == [["Texte"]]  # a forced failure does nothing
    fake.fail_next(429)
    assert error(call(fake, "GET", ""))["status"] == "RESOURCE_EXHAUSTED"
    fake.fail_next("drop")
    with pytest.raises(requests.ConnectionError):
        call(fake, "GET", "")
    assert fake.requests()[-1].status is None
    fake.latency = 0.05
    started = time.monotonic()
    call(fake, "GET", "")
    assert time.monotonic() - started >= 0.05


def test_standalone_server_serves_until_terminated() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "tests.fakes.sheets", "--port", str(port),
                                "--spreadsheet", "K1", "--tab", "Indicateurs"], cwd=REPO,
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert f"http://127.0.0.1:{port}" in banner
        answer = requests.get(f"http://127.0.0.1:{port}/v4/spreadsheets/K1", timeout=5)
        assert [s["properties"]["title"] for s in answer.json()["sheets"]] == ["Indicateurs"]
    finally:
        process.terminate()
        deadline = time.monotonic() + 5
        while process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
    assert process.returncode == 0
