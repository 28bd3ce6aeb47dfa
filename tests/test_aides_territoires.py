"""Aides-territoires: the client against the fake API (JWT, pages, filters, faults), and the mapping of
aids into Opportunités rows (every column, perimeters to territories, categories to themes)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from automations.domain.aides import (
    DESCRIPTION_LIMIT, OWNED_COLUMNS, ImportConfig, MappedAid, html_to_text, import_config, map_aid, shorten,
)
from automations.domain.model import LinkIndex, Opportunity, parse_table
from automations.domain.reference import Reference
from automations.settings.files import load_reference
from automations.domain.schema import Schema
from automations.settings.files import load_schema
from connectors.aides_territoires import (
    JWT_LIFETIME, JWT_MARGIN, TOKEN_SETTING, URL_SETTING, AidesTerritoiresClient, AidesTerritoiresError,
    AidesTerritoiresUnavailable, jwt_expiry,
)
from connectors.errors import ConfigurationError, RetriableBackendError
from connectors.tables.base import Row
from tests.fakes.aides_territoires import (
    AIDS_PATH, API_TOKEN, CONNEXION_PATH, PERIMETERS_PATH, FakeAidesTerritoires, make_aid, sample_aids,
)
from tests.fakes.clock import FakeClock

REPO = Path(__file__).resolve().parent.parent
START = 1_767_225_600.0  # 01/01/2026 00:00 UTC
TODAY = dt.date(2026, 3, 2)
SITE = "https://aides-territoires.beta.gouv.fr"
PARIS = ZoneInfo("Europe/Paris")


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def fake(clock: FakeClock) -> Iterator[FakeAidesTerritoires]:
    with FakeAidesTerritoires(clock=clock) as server:
        yield server


def client_for(fake: FakeAidesTerritoires, clock: FakeClock, token: str = API_TOKEN, **options: Any) -> AidesTerritoiresClient:
    return AidesTerritoiresClient(token, base_url=fake.url, clock=clock, sleeper=clock.sleep, **options)


@pytest.fixture(scope="module")
def reference() -> Reference:
    return load_reference(REPO / "config" / "departements.csv")


@pytest.fixture(scope="module")
def schema() -> Schema:
    return load_schema(REPO / "config" / "schema.toml")


@pytest.fixture(scope="module")
def config(reference: Reference, schema: Schema) -> ImportConfig:
    data = tomllib.loads((REPO / "config" / "aides_territoires.toml").read_text(encoding="utf-8"))
    return import_config(data, theme_choices=schema["opportunites"].column("Thématiques").choices, reference=reference)


def mapped(aid: dict[str, Any], reference: Reference, config: ImportConfig, **options: Any) -> MappedAid:
    options.setdefault("perimeter_territories", config.perimeter_territories)
    return map_aid(aid, reference, config.category_themes, TODAY, **options)


# -- authentication ----------------------------------------------------------------------------


def test_the_token_is_exchanged_for_a_jwt_sent_as_bearer(fake: FakeAidesTerritoires, clock: FakeClock) -> None:
    fake.add_aids(make_aid(1), make_aid(2))
    with client_for(fake, clock) as client:
        assert [a["id"] for a in client.aids()] == [1, 2]
    [connexion] = fake.requests(CONNEXION_PATH)
    assert (connexion.method, connexion.auth_token, connexion.status) == ("POST", API_TOKEN, 200)
    [call] = fake.requests(AIDS_PATH)
    assert call.authorization == f"Bearer {fake.jwts[0]}"
    assert call.auth_token is None  # the API token only goes to /api/connexion/


def test_the_jwt_is_kept_then_renewed_before_it_expires(fake: FakeAidesTerritoires, clock: FakeClock) -> None:
    fake.add_aids(make_aid(1))
    client = client_for(fake, clock)
    list(client.aids())
    clock.advance(JWT_LIFETIME - JWT_MARGIN - 60)  # a minute before the safety margin
    list(client.aids())
    assert fake.count(CONNEXION_PATH) == 1
    clock.advance(61)  # inside the margin: still valid for the server, renewed anyway
    list(client.aids())
    assert fake.count(CONNEXION_PATH) == 2
    assert [r.status for r in fake.requests(AIDS_PATH)] == [200, 200, 200]  # never sent an expired JWT
    assert fake.requests(AIDS_PATH)[-1].authorization == f"Bearer {fake.jwts[1]}"


def test_the_exp_claim_says_when_the_jwt_is_renewed(clock: FakeClock) -> None:
    with FakeAidesTerritoires(clock=clock, jwt_lifetime=3600, aids=[make_aid(1)]) as fake:
        client = client_for(fake, clock)
        list(client.aids())
        assert jwt_expiry(fake.jwts[0]) == START + 3600
        clock.advance(3600 - JWT_MARGIN - 1)
        list(client.aids())
        assert fake.count(CONNEXION_PATH) == 1
        clock.advance(2)
        list(client.aids())
        assert fake.count(CONNEXION_PATH) == 2
        assert fake.count(AIDS_PATH, status=401) == 0  # renewed before the server would refuse it


def test_without_exp_claim_the_jwt_is_kept_24_hours(clock: FakeClock) -> None:
    with FakeAidesTerritoires(clock=clock, include_exp=False, aids=[make_aid(1)]) as fake:
        client = client_for(fake, clock)
        list(client.aids())
        assert jwt_expiry(fake.jwts[0]) is None
        clock.advance(JWT_LIFETIME - JWT_MARGIN - 1)
        list(client.aids())
        assert fake.count(CONNEXION_PATH) == 1
        clock.advance(2)
        list(client.aids())
        assert fake.count(CONNEXION_PATH) == 2
        assert fake.count(AIDS_PATH, status=401) == 0


def test_a_jwt_the_server_says_has_expired_is_renewed_once(clock: FakeClock) -> None:
    # The server's JWTs last 1 h but do not say so: the client believes 24 h until a 401 tells it otherwise.
    with FakeAidesTerritoires(clock=clock, include_exp=False, jwt_lifetime=3600, aids=[make_aid(1)]) as fake:
        client = client_for(fake, clock)
        list(client.aids())
        clock.advance(2 * 3600)
        assert [a["id"] for a in client.aids()] == [1]
        assert [r.status for r in fake.requests(AIDS_PATH)] == [200, 401, 200]
        assert fake.count(CONNEXION_PATH) == 2


def test_a_401_midway_reauthenticates_once_and_reads_on(fake: FakeAidesTerritoires, clock: FakeClock) -> None:
    fake.add_aids(*(make_aid(n) for n in range(1, 251)))
    aids = client_for(fake, clock).aids()
    first = [next(aids) for _ in range(100)]
    fake.revoke_jwts()  # e.g. the server restarted with a new key
    rest = list(aids)
    assert [a["id"] for a in first + rest] == list(range(1, 251))
    assert fake.count(CONNEXION_PATH) == 2
    calls = fake.requests(AIDS_PATH)
    assert [(r.param("page"), r.status) for r in calls] == [(["1"], 200), (["2"], 401), (["2"], 200), (["3"], 200)]
    assert calls[2].authorization == f"Bearer {fake.jwts[1]}"


def test_a_fresh_jwt_refused_again_is_a_configuration_error(clock: FakeClock) -> None:
    with FakeAidesTerritoires(clock=clock, jwt_lifetime=0, aids=[make_aid(1)]) as fake:
        with pytest.raises(ConfigurationError) as caught:
            list(client_for(fake, clock).aids())
        assert TOKEN_SETTING in str(caught.value)
        assert fake.count(CONNEXION_PATH) == 2  # the first JWT, and one renewal: no loop
        assert fake.count(AIDS_PATH) == 2
        assert all(jwt not in str(caught.value) for jwt in fake.jwts)


def test_a_rejected_token_is_a_clear_error_that_never_shows_it(
    fake: FakeAidesTerritoires, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "wrong-token-7f3a9c1e5d"
    client = client_for(fake, clock, token=secret)
    with caplog.at_level(logging.DEBUG), pytest.raises(ConfigurationError) as caught:
        list(client.aids())
    message = str(caught.value)
    assert TOKEN_SETTING in message and "refused" in message
    assert secret not in message and secret not in repr(caught.value) and secret not in repr(client)
    assert secret not in caplog.text
    assert fake.count(CONNEXION_PATH) == 1  # a refusal is not tried again
    assert fake.count(AIDS_PATH) == 0
    assert clock.sleeps == []


def test_the_token_is_never_sent_where_a_redirect_points(fake: FakeAidesTerritoires, clock: FakeClock) -> None:
    fake.fail_next(302, path=CONNEXION_PATH)  # to https://elsewhere.example/api/connexion/
    with pytest.raises(ConfigurationError, match=URL_SETTING) as caught:
        list(client_for(fake, clock).aids())
    assert "elsewhere.example" in str(caught.value)
    assert fake.count(CONNEXION_PATH) == 1 and clock.sleeps == []


@pytest.mark.parametrize("token", ["", "   "])
def test_an_empty_token_is_refused_before_any_request(token: str) -> None:
    with pytest.raises(ConfigurationError, match=TOKEN_SETTING):
        AidesTerritoiresClient(token)


@pytest.mark.parametrize(
    "given, expected",
    [
        pytest.param("https://aides-territoires.beta.gouv.fr", SITE, id="site"),
        pytest.param("https://aides-territoires.beta.gouv.fr/", SITE, id="trailing-slash"),
        pytest.param("https://aides-territoires.beta.gouv.fr/api/", SITE, id="api-suffix"),
    ],
)
def test_the_endpoint_url_is_normalised(given: str, expected: str) -> None:
    assert AidesTerritoiresClient(API_TOKEN, base_url=given).base_url == expected


def test_an_endpoint_url_that_is_not_http_names_the_setting() -> None:
    with pytest.raises(ConfigurationError, match=URL_SETTING):
        AidesTerritoiresClient(API_TOKEN, base_url="aides-territoires.beta.gouv.fr")


def _jwt(claims: dict[str, Any]) -> str:
    encode = lambda data: base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{encode({'alg': 'HS256'})}.{encode(claims)}.c2ln"


@pytest.mark.parametrize(
    "jwt, expected",
    [
        pytest.param(_jwt({"iat": 1, "exp": 1767312000}), 1767312000.0, id="exp"),
        pytest.param(_jwt({"iat": 1, "exp": 1767312000, "username": "é"}), 1767312000.0, id="unpadded-utf8"),
        pytest.param(_jwt({"iat": 1}), None, id="no-exp"),
        pytest.param(_jwt({"exp": "demain"}), None, id="exp-not-a-number"),
        pytest.param("not-a-jwt", None, id="garbage"),
        pytest.param("a.!!!.c", None, id="bad-base64"),
    ],
)
def test_jwt_expiry_reads_the_exp_claim_without_verifying(jwt: str, expected: float | None) -> None:
    assert jwt_expiry(jwt) == expected


# -- pages and filters -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "count, pages",
    [
        pytest.param(0, 1, id="none"),
        pytest.param(1, 1, id="one"),
        pytest.param(100, 1, id="exactly-one-page"),
        pytest.param(101, 2, id="one-more"),
        pytest.param(250, 3, id="250-in-3-pages"),
    ],
)
def test_every_page_is_read_100_at_a_time(fake: FakeAidesTerritoires, clock: FakeClock, count: int, pages: int) -> None:
    fake.add_aids(*(make_aid(n) for n in range(1, count + 1)))
    ids = [a["id"] for a in client_for(fake, clock).aids()]
    assert ids == list(range(1, count + 1))
    calls = fake.requests(AIDS_PATH)
    assert [r.param("page") for r in calls] == [[str(p)] for p in range(1, pages + 1)]
    assert all(r.param("itemsPerPage") == ["100"] and r.status == 200 for r in calls)
    assert fake.count(CONNEXION_PATH) == 1


def test_filters_are_sent_as_the_api_reads_them(fake: FakeAidesTerritoires, clock: FakeClock) -> None:
    keep = dict(targeted_audiences=["Association"], categories=["Solidarités / lien social / Alimentation"],
                perimeter="Rhône", perimeter_scale="Département", is_call_for_project=True,
                submission_deadline="2026-03-15", date_created="2026-01-10T09:30:00+01:00")
    fake.add_aids(
        make_aid(1, **keep),
        make_aid(2, **{**keep, "targeted_audiences": ["Commune"]}),
        make_aid(3, **{**keep, "categories": ["Culture et identité collective / patrimoine / sports / Spectacle vivant"]}),
        make_aid(4, **{**keep, "perimeter": "Corse", "perimeter_scale": "Région"}),
        make_aid(5, **{**keep, "is_call_for_project": False}),
        make_aid(6, **{**keep, "submission_deadline": "2026-06-30"}),
        make_aid(7, **{**keep, "date_created": "2025-11-02T10:00:00+01:00"}),
        make_aid(8, **{**keep, "perimeter": "France", "perimeter_scale": "Pays",
                       "categories": ["Développement économique / production et consommation / Emploi"]}),
    )
    aids = client_for(fake, clock).aids(
        organization_type_slugs=["association"], category_slugs=["alimentation", "emploi"],
        perimeter_id=95123,  # Lyon: aids of Lyon, its métropole, the Rhône, the région, France, Europe
        apply_before=dt.date(2026, 3, 31), published_after=dt.date(2026, 1, 1), call_for_projects_only=True,
    )
    assert sorted(a["id"] for a in aids) == [1, 8]
    [call] = fake.requests(AIDS_PATH)
    assert call.param("organization_type_slugs") == ["association"]
    assert call.param("category_slugs") == ["alimentation", "emploi"]  # a list: repeated keys
    assert call.param("perimeter_id") == ["95123"]
    assert call.param("apply_before") == ["2026-03-31"]
    assert call.param("published_after") == ["2026-01-01"]
    assert call.param("call_for_projects_only") == ["true"]


def test_filters_are_repeated_on_every_page(fake: FakeAidesTerritoires, clock: FakeClock) -> None:
    fake.add_aids(*(make_aid(n) for n in range(1, 151)), make_aid(999, targeted_audiences=["Commune"]))
    aids = list(client_for(fake, clock).aids(organization_type_slugs=["association"]))
    assert len(aids) == 150
    assert [r.param("organization_type_slugs") for r in fake.requests(AIDS_PATH)] == [["association"]] * 2


def test_paging_is_not_a_filter(fake: FakeAidesTerritoires, clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="page"):
        client_for(fake, clock).aids(page=2)
    assert fake.count() == 0


def test_an_aid_moving_to_the_next_page_is_given_once(fake: FakeAidesTerritoires, clock: FakeClock) -> None:
    fake.add_aids(*(make_aid(n) for n in range(1, 151)))
    aids = client_for(fake, clock).aids()
    first = [next(aids) for _ in range(100)]
    fake.aids.insert(0, make_aid(500))  # published while reading: aid 100 is now first of page 2
    rest = list(aids)
    ids = [a["id"] for a in first + rest]
    assert ids == list(range(1, 151))  # 100 not given twice (500 comes with tomorrow's import)


def test_perimeters_are_found_by_name(fake: FakeAidesTerritoires, clock: FakeClock) -> None:
    found = client_for(fake, clock).perimeters("lyon")
    assert {(p["name"], p["scale"]) for p in found} == {("Lyon", "Commune"), ("Métropole de Lyon", "EPCI")}
    ids = {p["name"]: p["id"] for p in found}
    assert ids == {"Lyon": "95123-lyon", "Métropole de Lyon": "72301-metropole-de-lyon"}  # strings, as the API's
    [call] = fake.requests(PERIMETERS_PATH)
    assert call.param("q") == ["lyon"] and call.authorization == f"Bearer {fake.jwts[0]}"


def test_a_perimeter_search_finds_communes_too_unless_a_scale_is_given(fake: FakeAidesTerritoires,
                                                                       clock: FakeClock) -> None:
    client = client_for(fake, clock)
    anywhere = client.perimeters("Ain")  # LIKE '%Ain%': Saint-Genis-Pouilly too
    assert [p["name"] for p in anywhere][0] == "Ain"  # names starting with the query come first
    assert {"Ain", "Saint-Genis-Pouilly"} <= {p["name"] for p in anywhere}
    departements = client.perimeters("Ain", scale="department")
    assert [(p["id"], p["text"], p["code"]) for p in departements] == [("71000-ain", "Ain (Département)", "01")]
    assert fake.requests(PERIMETERS_PATH)[-1].param("scale") == ["department"]


def test_a_departement_gives_the_aids_of_its_communes_and_epcis(fake: FakeAidesTerritoires, clock: FakeClock) -> None:
    fake.add_aids(
        make_aid(1, perimeter="France", perimeter_scale="Pays"),
        make_aid(2, perimeter="Auvergne-Rhône-Alpes", perimeter_scale="Région"),
        make_aid(3, perimeter="Rhône", perimeter_scale="Département"),
        make_aid(4, perimeter="Métropole de Lyon", perimeter_scale="epci"),
        make_aid(5, perimeter="Villeurbanne", perimeter_scale="commune"),
        make_aid(6, perimeter="Ain", perimeter_scale="Département"),
        make_aid(7, perimeter="Gex", perimeter_scale="commune"),
        make_aid(8, perimeter="Ajaccio", perimeter_scale="commune"),
    )
    [rhone] = client_for(fake, clock).perimeters("Rhône", scale="department")
    aids = client_for(fake, clock).aids(perimeter_id=rhone["id"])  # "71035-rhone", read as 71035
    assert sorted(a["id"] for a in aids) == [1, 2, 3, 4, 5]  # the perimeters it lies in, and those inside it
    assert fake.requests(AIDS_PATH)[-1].param("perimeter_id") == ["71035-rhone"]


def test_categories_are_filtered_by_the_apis_slugs(fake: FakeAidesTerritoires, clock: FakeClock) -> None:
    ess = "Développement économique / production et consommation / Economie sociale et solidaire"
    fake.add_aids(make_aid(1, categories=[ess]), make_aid(2))
    assert [a["id"] for a in client_for(fake, clock).aids(category_slugs=["economie-sociale-et-solidaire"])] == [1]


def test_the_fake_refuses_pages_of_more_than_100(fake: FakeAidesTerritoires) -> None:
    jwt = requests.post(fake.url + CONNEXION_PATH, headers={"X-AUTH-TOKEN": API_TOKEN}, timeout=5).json()["token"]
    headers = {"Authorization": f"Bearer {jwt}"}
    assert requests.get(fake.url + AIDS_PATH, params={"itemsPerPage": 101}, headers=headers, timeout=5).status_code == 400
    assert requests.get(fake.url + AIDS_PATH, params={"itemsPerPage": 100}, headers=headers, timeout=5).status_code == 200
    assert requests.get(fake.url + AIDS_PATH, timeout=5).status_code == 401


# -- faults ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "faults, sleeps",
    [
        pytest.param([503], [1.0], id="one-503"),
        pytest.param([502, 500], [1.0, 2.0], id="two-5xx"),
        pytest.param(["drop"], [1.0], id="connection-dropped"),
        pytest.param([429], [1.0], id="rate-limited"),
    ],
)
def test_temporary_failures_are_tried_again_after_a_growing_wait(
    fake: FakeAidesTerritoires, clock: FakeClock, faults: list[int | str], sleeps: list[float]
) -> None:
    fake.add_aids(make_aid(1))
    fake.fail_next(*faults, path=AIDS_PATH)
    assert [a["id"] for a in client_for(fake, clock).aids()] == [1]
    assert clock.sleeps == sleeps
    assert fake.count(AIDS_PATH) == len(faults) + 1


@pytest.mark.parametrize("attempts, sleeps", [(1, []), (3, [1.0, 2.0]), (4, [1.0, 2.0, 4.0])])
def test_failures_that_last_end_in_a_retriable_error(
    fake: FakeAidesTerritoires, clock: FakeClock, attempts: int, sleeps: list[float]
) -> None:
    fake.add_aids(make_aid(1))
    fake.fail_next(*[503] * (attempts + 2), path=AIDS_PATH)
    with pytest.raises(AidesTerritoiresUnavailable) as caught:
        list(client_for(fake, clock, max_attempts=attempts).aids())
    assert isinstance(caught.value, RetriableBackendError)
    assert "503" in str(caught.value) and AIDS_PATH in str(caught.value)
    assert fake.count(AIDS_PATH) == attempts  # bounded
    assert clock.sleeps == sleeps


def test_a_failing_connexion_is_tried_again(fake: FakeAidesTerritoires, clock: FakeClock) -> None:
    fake.add_aids(make_aid(1))
    fake.fail_next(503, path=CONNEXION_PATH)
    assert [a["id"] for a in client_for(fake, clock).aids()] == [1]
    assert [r.status for r in fake.requests(CONNEXION_PATH)] == [503, 200]
    assert clock.sleeps == [1.0]


def test_a_request_without_answer_times_out_and_is_tried_again(fake: FakeAidesTerritoires, clock: FakeClock) -> None:
    fake.add_aids(make_aid(1))
    fake.fail_next("stall", path=AIDS_PATH)  # the fake holds that request for 10 s
    started = time.monotonic()
    assert [a["id"] for a in client_for(fake, clock, timeout=0.2).aids()] == [1]
    assert time.monotonic() - started < 5  # the client gave up after its timeout
    assert [r.status for r in fake.requests(AIDS_PATH)] == [None, 200]
    assert clock.sleeps == [1.0]


def test_other_refusals_are_not_tried_again(fake: FakeAidesTerritoires, clock: FakeClock) -> None:
    fake.fail_next(404, path=AIDS_PATH)
    with pytest.raises(AidesTerritoiresError) as caught:
        list(client_for(fake, clock).aids())
    assert not isinstance(caught.value, RetriableBackendError)
    assert "404" in str(caught.value)
    assert fake.count(AIDS_PATH) == 1 and clock.sleeps == []


# -- mapping: territories ----------------------------------------------------------------------

OVERSEAS = ["971", "972", "973", "974", "975", "976"]


@pytest.mark.parametrize(
    "scale, label, financers, expected, problem",
    [
        pytest.param("Pays", "France", [], ["France"], None, id="pays-france"),
        pytest.param("Pays", "Allemagne", [], [], "hors de France", id="pays-other"),
        pytest.param("Continent", "Europe", [], ["France"], None, id="europe"),
        pytest.param("Métropole", "France métropolitaine", [], ["France métropolitaine"], None, id="metropole"),
        pytest.param("Outre-mer", "Outre-mer", [], OVERSEAS, None, id="outre-mer"),
        pytest.param("Région", "Auvergne-Rhône-Alpes", [], ["Auvergne-Rhône-Alpes"], None, id="region"),
        pytest.param("Région", "Ile de France", [], ["Île-de-France"], None, id="region-without-accents"),
        pytest.param("Région", "Corse", [], ["Corse"], None, id="region-corse"),
        pytest.param("Région", "La Réunion", [], ["La Réunion"], None, id="region-reunion"),
        pytest.param("Région", "Réunion", [], ["La Réunion"], None, id="region-reunion-alias"),
        pytest.param("Région", "Bavière", [], [], "région inconnue", id="region-unknown"),
        pytest.param("Département", "Rhône", [], ["69"], None, id="departement"),
        pytest.param("Département", "Rhône (69)", [], ["69"], None, id="departement-with-code"),
        pytest.param("Département", "Ain", [], ["01"], None, id="departement-leading-zero"),
        pytest.param("Département", "Corse-du-Sud", [], ["2A"], None, id="corse-du-sud"),
        pytest.param("Département", "Haute-Corse (2B)", [], ["2B"], None, id="haute-corse"),
        pytest.param("Département", "Corse", [], ["Corse"], None, id="former-departement-20"),
        pytest.param("Département", "Guadeloupe", [], ["971"], None, id="guadeloupe"),
        pytest.param("Département", "La Réunion", [], ["974"], None, id="departement-reunion"),
        pytest.param("Département", "Mayotte", [], ["976"], None, id="mayotte"),
        pytest.param("Département", "Atlantis", [], [], "département inconnu", id="departement-unknown"),
        pytest.param("Commune", "Lyon", [], ["69"], None, id="commune-in-config"),
        pytest.param("Commune", "Villeurbanne (69100)", [], ["69"], None, id="commune-postcode"),
        pytest.param("Commune", "Ajaccio (20000)", [], ["2A"], None, id="commune-corse-du-sud"),
        pytest.param("Commune", "Bastia (20200)", [], ["2B"], None, id="commune-haute-corse"),
        pytest.param("Commune", "Saint-Denis (97400)", [], ["974"], None, id="commune-reunion"),
        pytest.param("Commune", "Vienne", [], [], "département introuvable", id="commune-named-like-a-departement"),
        pytest.param("Commune", "Saint-Étienne", [], [], "département introuvable", id="commune-unknown"),
        pytest.param("EPCI", "Métropole de Lyon", ["Métropole de Lyon"], ["69"], None, id="epci-in-config"),
        pytest.param("EPCI", "CC du Pays de Gex", ["Département de l'Ain", "État"], ["01"], None, id="epci-council"),
        pytest.param("EPCI", "CA de Bastia", ["Conseil départemental de la Haute-Corse"], ["2B"], None,
                     id="epci-council-corse"),
        pytest.param("EPCI", "CA du Grand Avignon", ["Département du Vaucluse", "Département du Gard"], [],
                     "département introuvable", id="epci-two-councils"),
        pytest.param("EPCI", "CC Cœur de Savoie", ["Communauté de communes Cœur de Savoie"], [],
                     "département introuvable", id="epci-no-guess-from-its-name"),
        pytest.param("Ad-hoc", "Auvergne-Rhône-Alpes et Bourgogne-Franche-Comté", [],
                     ["Auvergne-Rhône-Alpes", "Bourgogne-Franche-Comté"], None, id="adhoc-regions"),
        pytest.param("Ad-hoc", "Massif central", [], [], "département introuvable", id="adhoc-unknown"),
        pytest.param("Bassin hydrographique", "Rhône-Méditerranée", [], [], "département introuvable",
                     id="basin-is-not-the-rhone"),
        pytest.param(None, None, [], [], "non indiqué", id="no-perimeter"),
    ],
)
def test_perimeters_become_territories(
    reference: Reference, config: ImportConfig, scale: str | None, label: str | None, financers: list[str],
    expected: list[str], problem: str | None,
) -> None:
    result = mapped(make_aid(7, perimeter=label, perimeter_scale=scale, financers=financers or ["État"]),
                    reference, config)
    assert result.values["Territoires éligibles"] == expected
    problems = [p for p in result.problems if p.column == "Territoires éligibles"]
    if problem is None:
        assert problems == []
        assert "Territoires éligibles" in result.update_values
        for text in expected:  # what staff and the matching read back
            assert reference.territory(text) is not None, text
    else:
        [message] = problems
        assert problem in message and "laissé vide" in message and "toutes les cantines" in message
        assert "Territoires éligibles" in result.unresolved
        assert "Territoires éligibles" not in result.update_values  # what staff filled in stays
    if label:
        assert f"Périmètre : {label}" in result.values["Description"]


@pytest.mark.parametrize(
    "scale, label, departements, expected",
    [
        pytest.param("commune", "Vénissieux", ["69"], ["69"], id="commune-given-by-a-departement"),
        pytest.param("epci", "CA du Grand Avignon", ["84", "30"], ["84", "30"], id="epci-across-two-departements"),
        pytest.param("commune", "Villeurbanne (69100)", ["69"], ["69"], id="commune-postcode-agrees"),
        pytest.param("Ad-hoc", "Massif central", ["63"], ["63"], id="adhoc-only-the-query-places-it"),
        pytest.param("Département", "Rhône", ["69", "01"], ["69"], id="departement-by-its-name"),
        pytest.param("Région", "Auvergne-Rhône-Alpes", ["69"], ["Auvergne-Rhône-Alpes"], id="region-by-its-name"),
    ],
)
def test_the_departements_whose_query_gave_a_local_aid_place_it(
    reference: Reference, config: ImportConfig, scale: str, label: str, departements: list[str], expected: list[str],
) -> None:
    result = mapped(make_aid(7, perimeter=label, perimeter_scale=scale), reference, config, departements=departements)
    assert result.values["Territoires éligibles"] == expected
    assert not [p for p in result.problems if p.column == "Territoires éligibles"]


def test_a_perimeter_listed_in_config_wins(reference: Reference, config: ImportConfig) -> None:
    aid = make_aid(7, perimeter="Pays Voironnais", perimeter_scale="EPCI")
    assert mapped(aid, reference, config).values["Territoires éligibles"] == []
    result = mapped(aid, reference, config, perimeter_territories={"pays voironnais": ["38"]})
    assert result.values["Territoires éligibles"] == ["38"] and result.problems == []


# -- mapping: categories -----------------------------------------------------------------------

UNKNOWN_CATEGORY = (
    "Catégorie Aides-territoires « Culture / Patrimoine » sans correspondance dans la table de correspondance (config)"
)


@pytest.mark.parametrize(
    "categories, themes",
    [
        pytest.param(["Solidarités / lien social / Alimentation"], ["Alimentation durable"], id="leaf"),
        pytest.param(["Développement économique / production et consommation / Economie sociale et solidaire"],
                     ["Économie sociale et solidaire"], id="ess"),
        pytest.param(["DÉVELOPPEMENT économique / production et consommation / Économie sociale et solidaire"],
                     ["Économie sociale et solidaire"], id="case-and-accents"),
        pytest.param(["Culture et identité collective / patrimoine / sports / Musée"], ["Culture"], id="whole-theme"),
        pytest.param(["Culture et identité collective / patrimoine / sports / Sports et loisirs"], [],
                     id="category-over-its-theme"),
        pytest.param(["Mobilité / transports / Mobilité partagée"], [], id="nothing-on-purpose"),
        pytest.param(["Solidarités / lien social / Cohésion sociale et inclusion",
                      "Solidarités / lien social / Lutte contre la précarité",
                      "Énergies / Déchets / Recyclage et valorisation des déchets"],
                     ["Lien social", "Anti-gaspillage"], id="several-deduplicated"),
        pytest.param([], [], id="none"),
    ],
)
def test_categories_become_themes(reference: Reference, config: ImportConfig, categories: list[str], themes: list[str]) -> None:
    result = mapped(make_aid(7, categories=categories), reference, config)
    assert result.values["Thématiques"] == themes
    assert [p for p in result.problems if p.column == "Thématiques"] == []
    assert "Thématiques" in result.update_values


def test_an_unknown_category_is_reported_and_kept_in_the_description(reference: Reference, config: ImportConfig) -> None:
    result = mapped(make_aid(7, categories=["Culture / Patrimoine", "Solidarités / lien social / Alimentation"]),
                    reference, config)
    assert result.values["Thématiques"] == ["Alimentation durable"]  # the known one is still mapped
    [problem] = result.problems
    assert problem.startswith(UNKNOWN_CATEGORY)
    assert (problem.column, problem.value) == ("Thématiques", "Culture / Patrimoine")
    assert "Catégories Aides-territoires sans correspondance : Culture / Patrimoine" in result.values["Description"]
    assert "Thématiques" in result.unresolved and "Thématiques" not in result.update_values


def test_the_longest_key_that_fits_wins(reference: Reference) -> None:
    table = {"Solidarités": "Lien social", "Solidarités / lien social": "", "Solidarités / lien": "Insertion"}
    result = map_aid(make_aid(7, categories=["Solidarités / lien social / Jeunesse"]), reference, table, TODAY)
    assert result.values["Thématiques"] == [] and result.problems == []
    result = map_aid(make_aid(7, categories=["Solidarités / logement"]), reference, table, TODAY)
    assert result.values["Thématiques"] == ["Lien social"]


def test_a_category_may_give_several_themes(reference: Reference) -> None:
    table = {"Solidarités / lien social / Alimentation": ["Alimentation durable", "Lien social"]}
    result = map_aid(make_aid(7), reference, table, TODAY)
    assert result.values["Thématiques"] == ["Alimentation durable", "Lien social"]


# -- mapping: the other columns ----------------------------------------------------------------


@pytest.mark.parametrize(
    "fields, nature, problem",
    [
        pytest.param({"aid_types": ["Subvention"]}, "Subvention", None, id="subvention"),
        pytest.param({"aid_types": ["Subvention"], "is_call_for_project": True}, "Appel à projets", None, id="aap"),
        pytest.param({"aid_types": ["Prêt"]}, "Prêt", None, id="pret"),
        pytest.param({"aid_types": ["Avance récupérable"]}, "Prêt", None, id="avance-recuperable"),
        pytest.param({"aid_types": ["Subvention", "Ingénierie technique"]}, "Subvention", None, id="mixed"),
        pytest.param({"aid_types": ["Subvention"], "financers": ["Fondation de France"]}, "Mécénat financier", None,
                     id="foundation"),
        pytest.param({"name": "Prix de l'innovation sociale", "is_call_for_project": True}, "Prix", None, id="prix"),
        pytest.param({"name": "Trophées de l'ESS"}, "Prix", None, id="trophees"),
        pytest.param({"aid_types": ["Autre aide financière"]}, "Subvention", "à vérifier", id="other-financial"),
        pytest.param({"aid_types": ["Ingénierie technique"]}, None, "ingénierie", id="engineering-only"),
        pytest.param({"aid_types": []}, None, "non indiqué", id="no-type"),
    ],
)
def test_natures(reference: Reference, config: ImportConfig, schema: Schema, fields: dict[str, Any],
                 nature: str | None, problem: str | None) -> None:
    result = mapped(make_aid(7, **fields), reference, config)
    assert result.values["Nature"] == nature
    if nature is not None:
        assert nature in schema["opportunites"].column("Nature").choices
    problems = [p for p in result.problems if p.column == "Nature"]
    assert (problems == []) == (problem is None)
    if problem is not None:
        assert problem in problems[0]
    assert ("Nature" in result.unresolved) == (nature is None)


@pytest.mark.parametrize(
    "raw, expected, problem",
    [
        pytest.param("Ponctuelle", "Ponctuelle", False, id="ponctuelle"),
        pytest.param("Permanente", "Permanente", False, id="permanente"),
        pytest.param("Récurrente", "Récurrente", False, id="recurrente"),
        pytest.param("recurrente", "Récurrente", False, id="folded"),
        pytest.param(None, None, False, id="none"),
        pytest.param("Annuelle", None, True, id="unknown"),
    ],
)
def test_recurrence(reference: Reference, config: ImportConfig, raw: str | None, expected: str | None, problem: bool) -> None:
    result = mapped(make_aid(7, recurrence=raw), reference, config)
    assert result.values["Récurrence"] == expected
    assert any(p.column == "Récurrence" for p in result.problems) == problem


@pytest.mark.parametrize(
    "fields, opens_on, deadline, expired, problem",
    [
        pytest.param({"start_date": "2026-01-15", "submission_deadline": "2026-04-30"},
                     dt.date(2026, 1, 15), dt.date(2026, 4, 30), False, None, id="dates"),
        pytest.param({"start_date": None, "submission_deadline": None}, None, None, False, None, id="none"),
        pytest.param({"submission_deadline": "2026-03-01"}, dt.date(2026, 1, 15), dt.date(2026, 3, 1), True, None,
                     id="passed"),
        pytest.param({"submission_deadline": "2026-03-02"}, dt.date(2026, 1, 15), dt.date(2026, 3, 2), False, None,
                     id="due-today"),
        pytest.param({"submission_deadline": "2026-03-01", "recurrence": "Permanente"}, dt.date(2026, 1, 15),
                     dt.date(2026, 3, 1), False, None, id="passed-but-permanent"),
        pytest.param({"submission_deadline": "2026-02-31"}, dt.date(2026, 1, 15), None, False,
                     "Date limite « 2026-02-31 » n'est pas une date valide", id="invalid"),
        pytest.param({"start_date": "2026-05-01", "submission_deadline": "2026-04-30"}, dt.date(2026, 5, 1),
                     dt.date(2026, 4, 30), False, "après la Date limite", id="opens-after-deadline"),
    ],
)
def test_dates(reference: Reference, config: ImportConfig, fields: dict[str, Any], opens_on: dt.date | None,
               deadline: dt.date | None, expired: bool, problem: str | None) -> None:
    result = mapped(make_aid(7, **fields), reference, config)
    assert result.values["Date d'ouverture"] == opens_on
    assert result.values["Date limite"] == deadline
    assert result.expired is expired
    if problem is None:
        assert result.problems == []
    else:
        assert any(problem in p for p in result.problems)


@pytest.mark.parametrize(
    "fields, site, link",
    [
        pytest.param({"url": "/aides/a1b2-aap-pna/"}, SITE, f"{SITE}/aides/a1b2-aap-pna/", id="relative"),
        pytest.param({"url": "/aides/a1b2-aap-pna/"}, "http://127.0.0.1:8766/", "http://127.0.0.1:8766/aides/a1b2-aap-pna/",
                     id="other-site"),
        pytest.param({"url": "https://aides-territoires.beta.gouv.fr/aides/x/"}, SITE,
                     "https://aides-territoires.beta.gouv.fr/aides/x/", id="already-absolute"),
        pytest.param({"url": None, "slug": "a1b2-aap-pna"}, SITE, f"{SITE}/aides/a1b2-aap-pna/", id="from-slug"),
        pytest.param({"url": None, "slug": None, "application_url": None, "origin_url": "https://financeur.fr/aap"},
                     SITE, "https://financeur.fr/aap", id="funder-site-last"),
    ],
)
def test_link_is_the_aid_page_on_aides_territoires(reference: Reference, config: ImportConfig, fields: dict[str, Any],
                                                   site: str, link: str) -> None:
    assert mapped(make_aid(7, **fields), reference, config, site_url=site).values["Lien"] == link


def test_description_is_short_plain_french_text(reference: Reference, config: ImportConfig) -> None:
    long_text = "<p>" + " ".join(["Une phrase qui décrit l&#39;aide en détail."] * 200) + "</p>"
    aid = make_aid(
        7, description="<h2>Objectifs</h2>" + long_text, eligibility="<ul><li>Associations</li><li>SCIC</li></ul>",
        financers=["Fondation de France", "Banque des Territoires"], predeposit_date="2026-02-15",
        subvention_rate_lower_bound=20, subvention_rate_upper_bound=50, loan_amount=None,
        application_url="https://www.demarches-simplifiees.fr/commencer/x",
    )
    text = mapped(aid, reference, config).values["Description"]
    assert "<" not in text and "&#39;" not in text and "l'aide" in text
    description = text.split("\n\nÉligibilité")[0]
    assert description.startswith("Objectifs\nUne phrase")
    assert len(description) <= DESCRIPTION_LIMIT and description.endswith("…")
    assert "Éligibilité : • Associations\n• SCIC" in text
    assert "Financeurs : Fondation de France, Banque des Territoires" in text
    assert "Taux de subvention : de 20 à 50 %" in text
    assert "Date de pré-dépôt : 15/02/2026" in text
    assert "Candidater : https://www.demarches-simplifiees.fr/commencer/x" in text
    assert text.endswith("Source : Aides-territoires (Licence Ouverte), aide n° 7")


def test_html_to_text_and_shorten() -> None:
    assert html_to_text("<p>Un&nbsp;texte &amp; <b>gras</b></p><script>x()</script><p>Deux</p>") == "Un texte & gras\nDeux"
    assert shorten("un deux trois quatre", 12) == "un deux…"
    assert shorten("court", 12) == "court"


def test_identity_title_partner_and_expenses(reference: Reference, config: ImportConfig) -> None:
    aid = make_aid(163002, name="  Fonds   pour la vie\nassociative ", financers=["Région Bretagne", "État"],
                   destinations=["Dépenses de fonctionnement", "Dépenses d’investissement"])
    values = mapped(aid, reference, config).values
    assert values["Titre"] == "Fonds pour la vie associative"
    assert values["Partenaire"] == "Région Bretagne"
    assert values["Dépenses"] == ["Fonctionnement", "Investissement"]
    assert (values["Source"], values["Identifiant source"]) == ("Aides-territoires", "163002")
    assert values["Statut veille"] == "À qualifier"


def test_missing_name_and_financer_are_reported(reference: Reference, config: ImportConfig) -> None:
    result = mapped(make_aid(42, name="", financers=[]), reference, config)
    assert result.values["Titre"] == "Aide Aides-territoires n° 42"
    assert result.values["Partenaire"] is None
    assert {p.column for p in result.problems} == {"Titre", "Partenaire"}
    assert "Partenaire" in result.unresolved


def test_statut_veille_is_only_set_on_creation(reference: Reference, config: ImportConfig, schema: Schema) -> None:
    result = mapped(make_aid(7), reference, config)
    assert "Statut veille" not in OWNED_COLUMNS
    assert set(OWNED_COLUMNS) == set(result.values) - {"Statut veille"}
    assert set(result.update_values) == set(OWNED_COLUMNS)
    assert "Statut veille" not in result.update_values
    assert set(result.values) <= set(schema["opportunites"].column_names)
    assert result.updated_at == dt.datetime(2026, 1, 12, 14, 2, 11, tzinfo=dt.timezone(dt.timedelta(hours=1)))


@pytest.mark.parametrize("aid", [pytest.param(a, id=str(a["id"])) for a in sample_aids()])
def test_mapped_rows_parse_as_opportunities(reference: Reference, config: ImportConfig, schema: Schema,
                                            aid: dict[str, Any]) -> None:
    result = mapped(aid, reference, config)
    assert result.problems == []
    links = LinkIndex()
    links.add("partenaires", [result.values["Partenaire"]])
    [opportunity], problems = parse_table(schema["opportunites"], [Row("rec1", result.values, 2)], schema, links,
                                          reference, PARIS)
    assert problems == []
    assert isinstance(opportunity, Opportunity)
    assert opportunity.source == "Aides-territoires" and opportunity.source_id == str(aid["id"])
    assert opportunity.territories  # placed somewhere: never "all of France" by default
    assert opportunity.watch_status == "À qualifier"


# -- the configuration file --------------------------------------------------------------------


def test_the_shipped_configuration_is_valid(config: ImportConfig) -> None:
    assert config.query["organization_type_slugs"] == ["association"]
    assert "alimentation" in config.query["category_slugs"]
    assert config.category_themes["Solidarités / lien social / Alimentation"] == ("Alimentation durable",)
    assert config.category_themes["Mobilité / transports"] == ()  # nothing, on purpose
    assert config.perimeter_territories["Métropole de Lyon"] == ("69",)


@pytest.mark.parametrize(
    "data, message",
    [
        pytest.param({"categories": {"Solidarités / lien social / Alimentation": "Cuisine"}}, "not a Thématique",
                     id="unknown-theme"),
        pytest.param({"perimeters": {"Pays de Gex": "Gex"}}, "is not France, a région or a département",
                     id="unknown-territory"),
        pytest.param({"query": {"organisation_type_slugs": ["association"]}}, "not an Aides-territoires filter",
                     id="misspelt-filter"),
        pytest.param({"categorie": {}}, "unknown section", id="unknown-section"),
    ],
)
def test_configuration_mistakes_are_caught_at_start_up(reference: Reference, schema: Schema, data: dict[str, Any],
                                                       message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        import_config(data, theme_choices=schema["opportunites"].column("Thématiques").choices, reference=reference)
