"""The fake Airtable answers like Airtable: pages, limits, error bodies, Meta API, links, faults."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from pyairtable import Api

from .conftest import REPO
from .fakes.airtable import BASE_ID, TOKEN, FakeAirtable
from .fakes.clock import FakeClock

TEXT = {"type": "singleLineText"}
RECORD_ID = re.compile(r"rec[A-Za-z0-9]{14}")


def choices(*names: str) -> list[dict[str, str]]:
    return [{"name": name} for name in names]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(clock: FakeClock) -> Iterator[FakeAirtable]:
    with FakeAirtable(clock=clock) as server:
        server.add_table("Cantines", [
            {"name": "Nom", **TEXT},
            {"name": "Budget", "type": "currency", "options": {"precision": 2, "symbol": "€"}},
            {"name": "Ouverture", "type": "date", "options": {"dateFormat": {"name": "european"}}},
            {"name": "QPV", "type": "checkbox", "options": {"color": "greenBright", "icon": "check"}},
            {"name": "Statut", "type": "singleSelect", "options": {"choices": choices("Ouverte", "Fermée")}},
            {"name": "Thèmes", "type": "multipleSelects", "options": {"choices": choices("Culture", "Insertion")}},
        ])
        cantines_id = server.bases[BASE_ID].table("Cantines").id
        server.add_table("Visites", [
            {"name": "Intitulé", **TEXT},
            {"name": "Cantine", "type": "multipleRecordLinks", "options": {"linkedTableId": cantines_id}},
        ])
        yield server


@pytest.fixture
def api(fake: FakeAirtable) -> Api:
    return Api(TOKEN, endpoint_url=fake.url, retry_strategy=None)


def call(fake: FakeAirtable, method: str, path: str, *, token: str | None = TOKEN, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return requests.request(method, f"{fake.url}/v0/{path}", headers=headers, timeout=5, **kwargs)


def error_type(response: requests.Response) -> str:
    return response.json()["error"]["type"]


def test_lists_in_pages_of_at_most_100_with_record_ids(fake: FakeAirtable, api: Api) -> None:
    fake.add_records("Cantines", ({"Nom": f"Cantine {i:03}"} for i in range(250)))
    pages = list(api.table(BASE_ID, "Cantines").iterate())
    assert [len(page) for page in pages] == [100, 100, 50]
    assert fake.count("list", table="Cantines") == 3
    ids = [record["id"] for page in pages for record in page]
    assert len(set(ids)) == 250 and all(RECORD_ID.fullmatch(i) for i in ids)
    assert [r["fields"]["Nom"] for r in pages[2]][-1] == "Cantine 249"  # creation order


def test_page_size_over_100_is_refused(fake: FakeAirtable) -> None:
    assert call(fake, "GET", f"{BASE_ID}/Cantines", params={"pageSize": 100}).status_code == 200
    response = call(fake, "GET", f"{BASE_ID}/Cantines", params={"pageSize": 101})
    assert response.status_code == 422
    assert error_type(response) == "INVALID_REQUEST_UNKNOWN"


@pytest.mark.parametrize("method", ["POST", "PATCH", "DELETE"])
def test_writes_take_at_most_10_records(fake: FakeAirtable, method: str) -> None:
    ids = fake.add_records("Cantines", ({"Nom": f"C{i}"} for i in range(11)))
    if method == "POST":
        response = call(fake, "POST", f"{BASE_ID}/Cantines", json={"records": [{"fields": {"Nom": "x"}}] * 11})
    elif method == "PATCH":
        response = call(fake, "PATCH", f"{BASE_ID}/Cantines",
                        json={"records": [{"id": i, "fields": {"Nom": "y"}} for i in ids]})
    else:
        response = call(fake, "DELETE", f"{BASE_ID}/Cantines", params={"records[]": ids})
    assert response.status_code == 422
    assert error_type(response) == "INVALID_RECORDS"
    assert sorted(r["Nom"] for r in fake.rows("Cantines")) == sorted(f"C{i}" for i in range(11))  # nothing applied
    ok = call(fake, "DELETE", f"{BASE_ID}/Cantines", params={"records[]": ids[:10]})
    assert ok.status_code == 200 and len(fake.rows("Cantines")) == 1


def test_six_requests_within_a_second_get_429_and_the_base_stays_blocked_30_s(fake: FakeAirtable,
                                                                              clock: FakeClock) -> None:
    other = fake.add_base("appOtherBase000001")
    other.tables.extend(fake.bases[BASE_ID].tables[:1])
    statuses = [call(fake, "GET", f"{BASE_ID}/Cantines").status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    assert error_type(call(fake, "GET", f"{BASE_ID}/Cantines")) == "RATE_LIMIT_REACHED"
    assert call(fake, "GET", "appOtherBase000001/Cantines").status_code == 200  # the limit is per base
    clock.advance(29.5)
    assert call(fake, "GET", f"{BASE_ID}/Cantines").status_code == 429
    clock.advance(0.5)
    assert call(fake, "GET", f"{BASE_ID}/Cantines").status_code == 200
    clock.advance(1.0)
    assert [call(fake, "GET", f"{BASE_ID}/Cantines").status_code for _ in range(5)] == [200] * 5


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "token", "status", "kind"),
    [
        pytest.param("GET", f"{BASE_ID}/Cantines", {}, None, 401, "AUTHENTICATION_REQUIRED", id="no-token"),
        pytest.param("GET", f"{BASE_ID}/Cantines", {}, "patWrong", 401, "AUTHENTICATION_REQUIRED", id="bad-token"),
        pytest.param("GET", "appUnknownBase0001/Cantines", {}, TOKEN, 403, "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND",
                     id="unknown-base"),
        pytest.param("GET", f"{BASE_ID}/Inconnue", {}, TOKEN, 404, "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND",
                     id="unknown-table"),
        pytest.param("GET", f"{BASE_ID}/Cantines", {"params": {"fields[]": ["Nom", "Ville"]}}, TOKEN, 422,
                     "UNKNOWN_FIELD_NAME", id="unknown-field-read"),
        pytest.param("POST", f"{BASE_ID}/Cantines", {"json": {"records": [{"fields": {"Ville": "Lyon"}}]}}, TOKEN,
                     422, "UNKNOWN_FIELD_NAME", id="unknown-field-write"),
        pytest.param("POST", f"{BASE_ID}/Cantines", {"json": {"records": [{"fields": {"Budget": "abc"}}]}}, TOKEN,
                     422, "INVALID_VALUE_FOR_COLUMN", id="text-in-number"),
        pytest.param("POST", f"{BASE_ID}/Cantines", {"json": {"records": [{"fields": {"Ouverture": "31/02/2026"}}]}},
                     TOKEN, 422, "INVALID_VALUE_FOR_COLUMN", id="bad-date"),
        pytest.param("POST", f"{BASE_ID}/Visites", {"json": {"records": [{"fields": {"Cantine": ["Canuts"]}}]}},
                     TOKEN, 422, "INVALID_VALUE_FOR_COLUMN", id="name-in-link"),
        pytest.param("POST", f"{BASE_ID}/Visites",
                     {"json": {"records": [{"fields": {"Cantine": ["recAAAAAAAAAAAAAA"]}}]}}, TOKEN, 422,
                     "INVALID_VALUE_FOR_COLUMN", id="unknown-record-in-link"),
        pytest.param("POST", f"{BASE_ID}/Cantines", {"json": {"records": [{"fields": {"Statut": "En pause"}}]}},
                     TOKEN, 422, "INVALID_MULTIPLE_CHOICE_OPTIONS", id="unknown-option"),
    ],
)
def test_errors_have_airtable_bodies(fake: FakeAirtable, method: str, path: str, kwargs: dict[str, Any],
                                     token: str | None, status: int, kind: str) -> None:
    response = call(fake, method, path, token=token, **kwargs)
    assert response.status_code == status
    assert set(response.json()) == {"error"} and set(response.json()["error"]) == {"type", "message"}
    assert error_type(response) == kind
    assert fake.rows("Visites") == [] and fake.rows("Cantines") == []


def test_empty_fields_are_omitted_and_values_keep_airtable_types(fake: FakeAirtable, api: Api) -> None:
    table = api.table(BASE_ID, "Cantines")
    created = table.create({"Nom": "Canuts", "Budget": 1250.5, "Ouverture": "2019-03-01", "QPV": False,
                            "Statut": None, "Thèmes": []})
    assert created["fields"] == {"Nom": "Canuts", "Budget": 1250.5, "Ouverture": "2019-03-01"}
    table.update(created["id"], {"QPV": True, "Thèmes": ["Culture", "Insertion"]})
    assert table.get(created["id"])["fields"] == {
        "Nom": "Canuts", "Budget": 1250.5, "Ouverture": "2019-03-01", "QPV": True, "Thèmes": ["Culture", "Insertion"],
    }
    table.update(created["id"], {"Nom": "Canuts 2"}, replace=True)  # PUT clears what it does not name
    assert table.get(created["id"])["fields"] == {"Nom": "Canuts 2"}


def test_upsert_merges_on_key_fields_and_says_what_it_did(fake: FakeAirtable, api: Api) -> None:
    table = api.table(BASE_ID, "Cantines")
    first = table.batch_upsert([{"fields": {"Nom": "A", "Budget": 1}}, {"fields": {"Nom": "B"}}], key_fields=["Nom"])
    assert len(first["createdRecords"]) == 2 and first["updatedRecords"] == []
    again = table.batch_upsert([{"fields": {"Nom": "A", "Budget": 2}}, {"fields": {"Nom": "C"}}], key_fields=["Nom"])
    assert again["updatedRecords"] == [first["createdRecords"][0]] and len(again["createdRecords"]) == 1
    assert sorted((r["Nom"], r.get("Budget")) for r in fake.rows("Cantines")) == [("A", 2), ("B", None), ("C", None)]
    too_many = call(fake, "PATCH", f"{BASE_ID}/Cantines", json={
        "performUpsert": {"fieldsToMergeOn": ["Nom", "Budget", "Ouverture", "Statut"]},
        "records": [{"fields": {"Nom": "D"}}]})
    assert too_many.status_code == 422 and error_type(too_many) == "INVALID_REQUEST_UNKNOWN"
    on_link = call(fake, "PATCH", f"{BASE_ID}/Visites", json={
        "performUpsert": {"fieldsToMergeOn": ["Cantine"]}, "records": [{"fields": {"Intitulé": "x"}}]})
    assert on_link.status_code == 422
    assert len(fake.rows("Cantines")) == 3 and fake.rows("Visites") == []


def test_meta_api_answers_parse_as_pyairtable_models(fake: FakeAirtable, api: Api) -> None:
    response = call(fake, "POST", f"meta/bases/{BASE_ID}/tables", json={"name": "Journal", "fields": [
        {"name": "Début", "type": "dateTime", "options": {
            "dateFormat": {"name": "european"}, "timeFormat": {"name": "24hour"}, "timeZone": "Europe/Paris"}},
        {"name": "Lu", "type": "number", "options": {"precision": 0}},
        {"name": "Part", "type": "percent", "options": {"precision": 1}},
    ]})
    assert response.status_code == 200
    journal_id = response.json()["id"]
    field = call(fake, "POST", f"meta/bases/{BASE_ID}/tables/{journal_id}/fields",
                 json={"name": "Détail", "type": "multilineText"})
    assert field.status_code == 200 and field.json()["id"].startswith("fld")
    schema = api.base(BASE_ID).schema()
    journal = schema.table("Journal")
    assert journal.id == journal_id and journal.primary_field_id == journal.fields[0].id
    assert [f.name for f in journal.fields] == ["Début", "Lu", "Part", "Détail"]
    assert journal.fields[0].options.time_zone == "Europe/Paris"
    visites_link = schema.table("Visites").field("Cantine")
    inverse = schema.table("Cantines").field("Visites")  # Airtable adds the inverse link field
    assert visites_link.options.inverse_link_field_id == inverse.id
    assert inverse.options.linked_table_id == schema.table("Visites").id


@pytest.mark.parametrize(
    ("fields", "kind"),
    [
        pytest.param([{"name": "Nom", **TEXT}, {"name": "T", "type": "multipleSelects", "options": {"choices": []}}],
                     "INVALID_FIELD_TYPE_OPTIONS_FOR_CREATE", id="select-without-choices"),
        pytest.param([{"name": "Nom", **TEXT}, {"name": "T", "type": "checkbox"}],
                     "INVALID_FIELD_TYPE_OPTIONS_FOR_CREATE", id="checkbox-without-icon"),
        pytest.param([{"name": "Lien", "type": "multipleRecordLinks", "options": {"linkedTableId": "tblX"}}],
                     "INVALID_FIELD_TYPE_FOR_PRIMARY_FIELD", id="link-as-primary"),
        pytest.param([{"name": "Nom", **TEXT}, {"name": "Nom", **TEXT}], "DUPLICATE_OR_EMPTY_FIELD_NAME",
                     id="duplicate-field"),
    ],
)
def test_meta_api_refuses_what_airtable_refuses(fake: FakeAirtable, fields: list[dict[str, Any]], kind: str) -> None:
    response = call(fake, "POST", f"meta/bases/{BASE_ID}/tables", json={"name": "Nouvelle", "fields": fields})
    assert response.status_code == 422 and error_type(response) == kind
    assert fake.bases[BASE_ID].table("Nouvelle") is None
    duplicate = call(fake, "POST", f"meta/bases/{BASE_ID}/tables",
                     json={"name": "Cantines", "fields": [{"name": "N", **TEXT}]})
    assert error_type(duplicate) == "DUPLICATE_TABLE_NAME"


def test_links_are_kept_both_ways_and_vanish_with_the_linked_record(fake: FakeAirtable, api: Api) -> None:
    (canuts,) = fake.add_records("Cantines", [{"Nom": "Canuts"}])
    visit = api.table(BASE_ID, "Visites").create({"Intitulé": "Visite 1", "Cantine": [canuts]})
    assert api.table(BASE_ID, "Cantines").get(canuts)["fields"]["Visites"] == [visit["id"]]
    api.table(BASE_ID, "Cantines").delete(canuts)
    assert api.table(BASE_ID, "Visites").get(visit["id"])["fields"] == {"Intitulé": "Visite 1"}


def test_typecast_turns_an_unknown_name_in_a_link_into_a_new_record(fake: FakeAirtable, api: Api) -> None:
    """Why the backend never sends typecast with links: Airtable would create the linked record."""
    api.table(BASE_ID, "Visites").create({"Intitulé": "V", "Cantine": ["Cantine fantôme"]}, typecast=True)
    assert [r["Nom"] for r in fake.rows("Cantines")] == ["Cantine fantôme"]


def test_forced_failures_dropped_connections_and_latency(fake: FakeAirtable, api: Api) -> None:
    table = api.table(BASE_ID, "Cantines")
    fake.fail_next(500, 503)
    for status in (500, 503):
        with pytest.raises(requests.HTTPError) as failed:
            table.all()
        assert failed.value.response.status_code == status
    assert table.all() == []
    fake.fail_next("drop", method="POST")
    with pytest.raises(requests.ConnectionError):
        table.create({"Nom": "jamais"})
    assert fake.rows("Cantines") == []  # dropped before it was applied
    fake.fail_next("drop-after", method="POST")
    with pytest.raises(requests.ConnectionError):
        table.create({"Nom": "appliquée"})
    assert [r["Nom"] for r in fake.rows("Cantines")] == ["appliquée"]  # applied, answer lost
    assert [r.status for r in fake.requests("create")] == [None, None]
    fake.latency = 0.3
    slow = Api(TOKEN, endpoint_url=fake.url, retry_strategy=None, timeout=(1, 0.05))  # type: ignore[arg-type]
    with pytest.raises(requests.Timeout):
        slow.table(BASE_ID, "Cantines").all()


def test_sort_fields_and_list_by_post(fake: FakeAirtable, api: Api) -> None:
    fake.add_records("Cantines", [{"Nom": "B", "Budget": 2}, {"Nom": "A", "Budget": 3}, {"Nom": "C"}])
    records = api.table(BASE_ID, "Cantines").all(sort=["-Budget"], fields=["Nom"])
    assert [r["fields"] for r in records] == [{"Nom": "A"}, {"Nom": "B"}, {"Nom": "C"}]
    response = call(fake, "POST", f"{BASE_ID}/Cantines/listRecords",
                    json={"pageSize": 2, "fields": ["Budget"], "sort": [{"field": "Nom", "direction": "asc"}]})
    assert [r["fields"] for r in response.json()["records"]] == [{"Budget": 3}, {"Budget": 2}]
    assert "offset" in response.json()
    assert fake.count("list") == 2 and fake.count("list", method="POST") == 1


def test_request_log_counts_and_resets(fake: FakeAirtable, api: Api) -> None:
    api.table(BASE_ID, "Cantines").batch_create([{"Nom": f"C{i}"} for i in range(12)])
    api.table(BASE_ID, "Cantines").all()
    assert fake.count("create") == 2 and [r.records for r in fake.requests("create")] == [10, 2]
    assert fake.count() == 3 and fake.count(table="Cantines", method="GET") == 1
    fake.reset_counts()
    assert fake.count() == 0


def test_serves_standalone_until_killed() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "tests.fakes.airtable", "--port", str(port)], cwd=REPO,
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert f"http://127.0.0.1:{port}" in banner
        answer = requests.get(f"http://127.0.0.1:{port}/v0/meta/bases/{BASE_ID}/tables",
                              headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
        assert answer.status_code == 200 and answer.json() == {"tables": []}
    finally:
        process.terminate()
        deadline = time.monotonic() + 5
        while process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
    assert process.returncode == 0


def test_updating_a_record_deleted_meanwhile_answers_row_does_not_exist(fake: FakeAirtable, api: Api) -> None:
    [kept, deleted] = fake.add_records("Cantines", [{"Nom": "Canuts"}, {"Nom": "Pentes"}])
    api.table(BASE_ID, "Cantines").delete(deleted)
    for body in ({"records": [{"id": kept, "fields": {"Budget": 1}}, {"id": deleted, "fields": {"Budget": 2}}]},
                 {"records": [{"id": deleted, "fields": {"Nom": "Pentes"}}],
                  "performUpsert": {"fieldsToMergeOn": ["Nom"]}}):
        response = call(fake, "PATCH", f"{BASE_ID}/Cantines", json=body)
        assert response.status_code == 422 and error_type(response) == "ROW_DOES_NOT_EXIST"
        assert deleted in response.json()["error"]["message"]
    assert [r.get("Budget") for r in fake.rows("Cantines")] == [None]  # all or nothing


def test_an_offset_expires_after_a_pause(fake: FakeAirtable, clock: FakeClock) -> None:
    fake.add_records("Cantines", ({"Nom": f"Cantine {i:03}"} for i in range(150)))
    first = call(fake, "GET", f"{BASE_ID}/Cantines").json()
    clock.advance(2.0)
    assert call(fake, "GET", f"{BASE_ID}/Cantines", params={"offset": first["offset"]}).status_code == 200
    clock.advance(31.0)  # the 30 s a 429 costs
    response = call(fake, "GET", f"{BASE_ID}/Cantines", params={"offset": first["offset"]})
    assert response.status_code == 422 and error_type(response) == "LIST_RECORDS_ITERATOR_NOT_AVAILABLE"


def test_return_fields_by_field_id_0_means_names(fake: FakeAirtable, api: Api) -> None:
    [record_id] = fake.add_records("Cantines", [{"Nom": "Canuts"}])
    table = api.table(BASE_ID, "Cantines")
    assert table.get(record_id, use_field_ids=False)["fields"] == {"Nom": "Canuts"}  # sends returnFieldsByFieldId=0
    [by_id] = table.get(record_id, use_field_ids=True)["fields"]
    assert by_id.startswith("fld")
    assert [r["fields"] for r in table.all(use_field_ids=False)] == [{"Nom": "Canuts"}]
