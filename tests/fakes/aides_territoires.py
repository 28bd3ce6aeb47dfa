"""A local stand-in for the Aides-territoires API, for the real client to talk to over HTTP.

    with FakeAidesTerritoires(clock=clock) as fake:
        fake.add_aids(make_aid(1), make_aid(2, perimeter="Rhône", perimeter_scale="Département"))
        AidesTerritoiresClient(API_TOKEN, base_url=fake.url, clock=clock)…
        fake.count(CONNEXION_PATH)   # requests received, by path (and method, status)

Built from the API's public source, MTES-MCT/aides-territoires-symfony (read at e32e8506, March 2025; the
former Django code, MTES-MCT/aides-territoires, agrees where noted):

- `POST /api/connexion/` with `X-AUTH-TOKEN: <token>` answers `{"token": "<jwt>"}`: a JWT signed by the
  fake (HS256) with `iat` and `exp` claims from the injectable clock (`jwt_lifetime`, 24 h by default;
  `include_exp=False` leaves `exp` out of the JWT but the fake still enforces the lifetime);
- every other call needs `Authorization: Bearer <jwt>`: missing, unknown, revoked (`revoke_jwts()`) or
  expired JWTs answer 401 with lexik/jwt's bodies (`{"code": 401, "message": "Expired JWT Token"}`…);
- `GET /api/aids/` pages with `page` and `itemsPerPage` (50 by default; above 100 the fake answers 400
  where the real API quietly caps it, so that a client asking for more is caught) and answers
  `{"count", "previous", "next", "results"}` with absolute `next`/`previous` URLs; filters:
  `organization_type_slugs`, `category_slugs` (repeated keys or `key[]`), `perimeter_id`, `apply_before`
  and `published_after` (Y-m-d), `call_for_projects_only`, `aid_type_group_slug`; other parameters are
  ignored, as the API does;
- `perimeter_id` is read as PHP's `(int)` does (`"71035-rhone"` is 71035; AidSearchFormService) and keeps
  the aids whose perimeter is that perimeter, one it lies in (région, France…) **or one inside it**
  (communes and EPCIs of a département): AidRepository::getQueryBuilderForSearchV3 filters on
  PerimeterRepository::getIdPerimetersContainedIn, which returns both `perimetersTo` (parents) and
  `perimetersFrom` (« Les périmètres enfants »);
- an aid's `perimeter_scale` is Perimeter::SCALES_FOR_SEARCH's name (Api/Aid/AidController): "commune" and
  "epci" in lower case (Perimeter::SCALE_COMMUNE_NAME, SCALE_EPCI_NAME since May 2024), the others
  capitalised ("Département", "Région", "Pays"…);
- `GET /api/perimeters/` (Api/Perimeter/PerimeterController) pages the same way and answers
  `{id, text, name, scale, zipcodes, code}` with `id` a string "<id>-<slug of the name>" ("71035-rhone",
  StringService::getSlug; Django's `id_slug` too), `scale` PerimeterService::getScale's name ("Commune",
  "EPCI", "Département"…) and `text` getSmartName's ("Rhône (Département)", "Lyon (Commune - 69001, …)");
  `q` searches every perimeter, communes included (PerimeterRepository::completeQueryBuilderForSearch:
  `MATCH(name) AGAINST('<q>*')` in boolean mode, so any word of `q`, the last one as a prefix, `OR name
  LIKE '%<q>%'`; five digits search the zipcodes), names starting with `q` first; `scale` takes a slug
  (commune, epci, basin, department, region, overseas, mainland, adhoc, country, continent;
  PerimeterService::getScaleFromSlug) and an unknown one filters nothing;
- category slugs are the API's (the ESS one is `economie-sociale-et-solidaire`, as the symfony import
  commands ImportFluxRegionSudCommand and ImportFluxWelcomeEuropeCommand spell it);
- faults: `fail_next(503, "drop", "stall", path=...)`: a status (3xx ones redirect to another host), a
  connection closed without an answer, or no answer until the client gives up (for timeouts), one
  request each;
- a log of every request (`requests(...)`, `count(...)`), with the Authorization and X-AUTH-TOKEN received.

Standalone: `python -m tests.fakes.aides_territoires --port 8766 [--token T]` serves sample aids until
interrupted.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from .server import FakeServer, Handler

API_TOKEN = "at-fake-token-for-tests-0123456789"
CONNEXION_PATH = "/api/connexion/"
AIDS_PATH = "/api/aids/"
PERIMETERS_PATH = "/api/perimeters/"
MAX_ITEMS_PER_PAGE = 100
DEFAULT_ITEMS_PER_PAGE = 50
JWT_LIFETIME = 24 * 3600
JWT_SECRET = b"fake-aides-territoires-secret"

# Organization types: slug → the label aids carry in `targeted_audiences`.
AUDIENCES = {
    "commune": "Commune",
    "epci": "Intercommunalité / Pays",
    "department": "Département",
    "region": "Région",
    "special": "Collectivité d'outre-mer à statut particulier",
    "association": "Association",
    "private_person": "Particulier",
    "farmer": "Agriculteur",
    "private_sector": "Entreprise privée",
    "public_cies": "Entreprise publique locale (Sem, Spl, SemOp)",
    "public_org": "Établissement public dont services de l'État",
    "researcher": "Recherche",
}
# Categories: full label ("<thème> / <catégorie>") → slug (slugs are historical, not always the name's).
CATEGORIES = {
    "Solidarités / lien social / Alimentation": "alimentation",
    "Solidarités / lien social / Lutte contre la précarité": "lutte-contre-la-precarite",
    "Solidarités / lien social / Cohésion sociale et inclusion": "cohesion-sociale",
    "Solidarités / lien social / Personnes âgées": "personnes-agees",
    "Développement économique / production et consommation / Economie locale et circuits courts":
        "circuits-courts-filieres",
    "Développement économique / production et consommation / Economie sociale et solidaire":
        "economie-sociale-et-solidaire",
    "Développement économique / production et consommation / Emploi": "emploi",
    "Développement économique / production et consommation / Economie circulaire": "economie-circulaire",
    "Énergies / Déchets / Recyclage et valorisation des déchets": "recyclage-valorisation",
    "Culture et identité collective / patrimoine / sports / Spectacle vivant": "spectacle-vivant",
    "Urbanisme / logement / aménagement / Bâtiments et construction": "batiments-construction",
}
AID_TYPE_GROUPS = {
    "Subvention": "financial-group", "Prêt": "financial-group", "Avance récupérable": "financial-group",
    "Certificat d'économie d'énergie (CEE)": "financial-group", "Autre aide financière": "financial-group",
    "Ingénierie technique": "technical-group", "Ingénierie financière": "technical-group",
    "Ingénierie Juridique / administrative": "technical-group",
}


# Scales: slug (the `scale` filter of /api/perimeters/) → (its name in /api/perimeters/, in an aid's perimeter_scale).
SCALES = {
    "commune": ("Commune", "commune"),
    "epci": ("EPCI", "epci"),
    "basin": ("Bassin hydrographique", "Bassin hydrographique"),
    "department": ("Département", "Département"),
    "region": ("Région", "Région"),
    "overseas": ("Outre-mer", "Outre-mer"),
    "mainland": ("Métropole", "Métropole"),
    "adhoc": ("Ad-hoc", "Ad-hoc"),
    "country": ("Pays", "Pays"),
    "continent": ("Continent", "Continent"),
}


def slugify(text: str) -> str:
    """StringService::getSlug: lower case without accents, every other character a hyphen, none at the end."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return re.sub(r"[^a-z0-9]", "-", text).rstrip("-")


@dataclass(frozen=True)
class Perimeter:
    """A perimeter and the perimeters it lies in (a commune in its EPCI, département, région, France…).

    `scale` is the scale's slug ("commune", "epci", "department", "region", "country"…)."""

    id: int
    name: str
    scale: str
    code: str
    zipcodes: tuple[str, ...] = ()
    within: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.scale not in SCALES:
            raise ValueError(f"unknown perimeter scale {self.scale!r} (expected one of {', '.join(SCALES)})")

    @property
    def scale_name(self) -> str:
        """The scale as /api/perimeters/ names it ("Commune", "EPCI", "Département"…)."""
        return SCALES[self.scale][0]

    @property
    def aid_scale(self) -> str:
        """The scale as an aid's `perimeter_scale` names it ("commune", "epci", "Département"…)."""
        return SCALES[self.scale][1]

    @property
    def id_slug(self) -> str:
        return f"{self.id}-{slugify(self.name)}"

    def payload(self) -> dict[str, Any]:
        if self.scale == "commune":
            text = f"{self.name} (Commune - {', '.join(self.zipcodes)})"
        else:
            text = f"{self.name} ({self.aid_scale})"
        return {"id": self.id_slug, "text": text, "name": self.name, "scale": self.scale_name,
                "zipcodes": list(self.zipcodes), "code": self.code}


PERIMETERS = (
    Perimeter(70971, "Europe", "continent", "EU"),
    Perimeter(70973, "France", "country", "FRA", within=(70971,)),
    Perimeter(70974, "France métropolitaine", "mainland", "FRA-MET", within=(70973, 70971)),
    Perimeter(70975, "Outre-mer", "overseas", "FRA-OM", within=(70973, 70971)),
    Perimeter(70956, "Auvergne-Rhône-Alpes", "region", "84", within=(70974, 70973, 70971)),
    Perimeter(70957, "Corse", "region", "94", within=(70974, 70973, 70971)),
    Perimeter(70958, "La Réunion", "region", "04", within=(70975, 70973, 70971)),
    Perimeter(71035, "Rhône", "department", "69", within=(70956, 70974, 70973, 70971)),
    Perimeter(71000, "Ain", "department", "01", within=(70956, 70974, 70973, 70971)),
    Perimeter(71003, "Corse-du-Sud", "department", "2A", within=(70957, 70974, 70973, 70971)),
    Perimeter(71004, "Haute-Corse", "department", "2B", within=(70957, 70974, 70973, 70971)),
    Perimeter(71101, "La Réunion", "department", "974", within=(70958, 70975, 70973, 70971)),
    Perimeter(72301, "Métropole de Lyon", "epci", "200046977", within=(71035, 70956, 70974, 70973, 70971)),
    Perimeter(72302, "CC du Pays de Gex", "epci", "240100883", within=(71000, 70956, 70974, 70973, 70971)),
    Perimeter(95123, "Lyon", "commune", "69123", ("69001", "69002", "69003", "69004", "69005", "69006",
                                                  "69007", "69008", "69009"),
              within=(72301, 71035, 70956, 70974, 70973, 70971)),
    Perimeter(95266, "Villeurbanne", "commune", "69266", ("69100",), within=(72301, 71035, 70956, 70974, 70973, 70971)),
    Perimeter(95001, "Gex", "commune", "01173", ("01170",), within=(72302, 71000, 70956, 70974, 70973, 70971)),
    Perimeter(95002, "Saint-Genis-Pouilly", "commune", "01354", ("01630",),
              within=(72302, 71000, 70956, 70974, 70973, 70971)),
    Perimeter(96004, "Ajaccio", "commune", "2A004", ("20000", "20090"), within=(71003, 70957, 70974, 70973, 70971)),
    Perimeter(97411, "Saint-Denis", "commune", "97411", ("97400",), within=(71101, 70958, 70975, 70973, 70971)),
)


def php_int(text: str) -> int:
    """PHP's (int) of a string: its leading digits ("71035-rhone" is 71035), 0 when there are none."""
    match = re.match(r"\s*([+-]?\d+)", text)
    return int(match.group(1)) if match else 0


def fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return " ".join("".join(c for c in text if not unicodedata.combining(c)).casefold().split())


def make_aid(aid_id: int, **overrides: Any) -> dict[str, Any]:
    """A realistic aid record as `/api/aids/` returns it; keyword arguments replace fields."""
    slug = overrides.pop("slug", f"{aid_id:04x}-soutien-aux-projets-alimentaires-solidaires")
    aid: dict[str, Any] = {
        "id": aid_id,
        "slug": slug,
        "url": f"/aides/{slug}/",
        "name": f"Soutien aux projets alimentaires solidaires n° {aid_id}",
        "name_initial": None,
        "short_title": None,
        "financers": ["Ministère de l'Agriculture et de la Souveraineté alimentaire"],
        "financers_full": [{"id": 12, "name": "Ministère de l'Agriculture et de la Souveraineté alimentaire",
                            "logo": None}],
        "instructors": ["Direction régionale de l'alimentation, de l'agriculture et de la forêt (DRAAF)"],
        "programs": ["Programme national pour l'alimentation"],
        "description": "<p>Cette aide soutient les projets qui rendent une <strong>alimentation de qualité</strong> "
                       "accessible à tous &amp; créent du lien social.</p><ul><li>Repas partagés</li>"
                       "<li>Ateliers de cuisine</li></ul>",
        "eligibility": "<p>Associations loi 1901 ayant au moins un an d'existence.</p>",
        "perimeter": "France",
        "perimeter_scale": "Pays",
        "mobilization_steps": ["Mise en œuvre / réalisation"],
        "origin_url": "https://agriculture.gouv.fr/programme-national-pour-lalimentation",
        "categories": ["Solidarités / lien social / Alimentation"],
        "is_call_for_project": False,
        "application_url": "https://www.demarches-simplifiees.fr/commencer/pna",
        "targeted_audiences": ["Association"],
        "aid_types": ["Subvention"],
        "aid_types_full": [{"id": 1, "name": "Subvention", "group": {"id": 1, "name": "Aide financière"}}],
        "is_charged": False,
        "destinations": ["Dépenses de fonctionnement"],
        "start_date": "2026-01-15",
        "predeposit_date": None,
        "submission_deadline": "2026-04-30",
        "subvention_rate_lower_bound": None,
        "subvention_rate_upper_bound": 80,
        "subvention_comment": None,
        "loan_amount": None,
        "recoverable_advance_amount": None,
        "contact": "<p>draaf@agriculture.gouv.fr</p>",
        "recurrence": "Ponctuelle",
        "project_examples": None,
        "import_data_url": None,
        "import_data_mention": None,
        "import_share_licence": None,
        "date_created": "2026-01-10T09:30:00+01:00",
        "date_updated": "2026-01-12T14:02:11+01:00",
        "project_references": [],
        "european_aid": None,
        "is_live": True,
    }
    unknown = set(overrides) - set(aid)
    if unknown:
        raise TypeError(f"make_aid: unknown fields {sorted(unknown)}")
    aid.update(overrides)
    return aid


def sample_aids() -> list[dict[str, Any]]:
    """A few aids like the ones a cantine's coordinator meets, for standalone runs."""
    return [
        make_aid(163001, name="Programme national pour l'alimentation : appel à projets national",
                 is_call_for_project=True, categories=["Solidarités / lien social / Alimentation",
                 "Développement économique / production et consommation / Economie locale et circuits courts"]),
        make_aid(163002, name="Fonds pour le développement de la vie associative (FDVA) – fonctionnement",
                 financers=["Ministère de l'Éducation nationale et de la Jeunesse"], perimeter="Rhône",
                 perimeter_scale="Département", recurrence="Récurrente", submission_deadline="2026-03-15",
                 categories=["Solidarités / lien social / Cohésion sociale et inclusion"]),
        make_aid(163003, name="Soutien aux épiceries et restaurants solidaires", financers=["Métropole de Lyon"],
                 perimeter="Métropole de Lyon", perimeter_scale="epci", recurrence="Permanente",
                 submission_deadline=None, categories=["Solidarités / lien social / Lutte contre la précarité"]),
        make_aid(163004, name="Prêt d'honneur solidaire", financers=["France Active"], aid_types=["Prêt"],
                 loan_amount=30000, destinations=["Dépenses d’investissement"],
                 categories=["Développement économique / production et consommation / Economie sociale et solidaire"]),
        make_aid(163005, name="Aide régionale aux tiers-lieux nourriciers", financers=["Région Auvergne-Rhône-Alpes"],
                 perimeter="Auvergne-Rhône-Alpes", perimeter_scale="Région",
                 categories=["Culture et identité collective / patrimoine / sports / Spectacle vivant"]),
    ]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the fake received it and what it answered (None: no answer)."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    authorization: str | None
    auth_token: str | None
    status: int | None

    def param(self, name: str) -> list[str]:
        return [v for k, v in self.query if k == name or k == f"{name}[]"]


@dataclass
class _Fault:
    action: int | str
    path: str | None
    method: str | None


class _Handler(Handler):
    server_version = "nginx"
    sys_version = ""


@dataclass
class _Issued:
    jwt: str
    expires_at: float
    revoked: bool = False


class FakeAidesTerritoires(FakeServer):
    """The Aides-territoires API on 127.0.0.1, for tests (`with FakeAidesTerritoires() as fake:`)."""

    handler_class = _Handler
    thread_name = "fake-aides-territoires"

    def __init__(
        self,
        *,
        tokens: Iterable[str] = (API_TOKEN,),
        aids: Iterable[Mapping[str, Any]] = (),
        perimeters: Sequence[Perimeter] = PERIMETERS,
        clock: Callable[[], float] = time.time,
        jwt_lifetime: int = JWT_LIFETIME,
        include_exp: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self.tokens = set(tokens)
        self.aids: list[dict[str, Any]] = [dict(a) for a in aids]
        self.perimeters = list(perimeters)
        self.clock = clock
        self.jwt_lifetime = jwt_lifetime
        self.include_exp = include_exp
        self.log: list[LoggedRequest] = []
        self.issued: list[_Issued] = []
        self._faults: list[_Fault] = []
        self._release = threading.Event()  # ends "stall" faults
        self._lock = threading.RLock()
        self._listen_on(host, port)

    def _stopping(self) -> None:
        self._release.set()  # requests held by a "stall" fault end


    # -- set-up and faults -----------------------------------------------------------------

    def add_aids(self, *aids: Mapping[str, Any]) -> None:
        with self._lock:
            self.aids.extend(dict(a) for a in aids)

    def fail_next(self, *actions: int | str, path: str | None = None, method: str | None = None) -> None:
        """Make the next matching requests fail, one each: a status code (500, 503, 429…), "drop" (close
        the connection without answering) or "stall" (answer nothing until the client gives up)."""
        for action in actions:
            if not isinstance(action, int) and action not in ("drop", "stall"):
                raise ValueError(f"unknown fault {action!r}")
        with self._lock:
            self._faults.extend(_Fault(a, path, method.upper() if method else None) for a in actions)

    def revoke_jwts(self) -> None:
        """Invalidate every JWT given so far, as a server restart with a new key would."""
        with self._lock:
            for issued in self.issued:
                issued.revoked = True

    # -- what tests look at ----------------------------------------------------------------

    def requests(self, path: str | None = None, *, method: str | None = None,
                 status: int | None | str = "any") -> list[LoggedRequest]:
        with self._lock:
            return [r for r in self.log if (path is None or r.path == path)
                    and (method is None or r.method == method) and (status == "any" or r.status == status)]

    def count(self, path: str | None = None, **filters: Any) -> int:
        return len(self.requests(path, **filters))

    def reset_counts(self) -> None:
        with self._lock:
            self.log.clear()

    @property
    def jwts(self) -> list[str]:
        with self._lock:
            return [i.jwt for i in self.issued]

    # -- handling --------------------------------------------------------------------------

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        with self._lock:
            for index, fault in enumerate(self._faults):
                if (fault.path is None or fault.path == path) and (fault.method is None or fault.method == method):
                    return self._faults.pop(index)
        return None

    def _handle(self, handler: _Handler) -> None:
        parts = urlsplit(handler.path)
        path = parts.path if parts.path.endswith("/") else parts.path + "/"
        query = tuple(parse_qsl(parts.query, keep_blank_values=True))
        method = handler.command
        length = int(handler.headers.get("Content-Length") or 0)
        if length:
            handler.rfile.read(length)
        entry = dict(method=method, path=path, query=query, authorization=handler.headers.get("Authorization"),
                     auth_token=handler.headers.get("X-AUTH-TOKEN"))
        fault = self._take_fault(method, path)
        if fault is not None:
            if fault.action == "drop":
                self._record(entry, None)
                handler.close_connection = True
                return
            if fault.action == "stall":
                self._record(entry, None)
                self._release.wait(timeout=10)
                handler.close_connection = True
                return
            status = int(fault.action)
            headers = {"Location": "https://elsewhere.example" + path} if 300 <= status < 400 else {}
            self._answer(handler, entry, status, {"code": status, "message": "Service temporairement indisponible"
                                                  if status >= 500 else "Erreur"}, headers)
            return
        if path == CONNEXION_PATH:
            if method != "POST":
                self._answer(handler, entry, 405, {"code": 405, "message": "Method Not Allowed"})
            else:
                self._connexion(handler, entry)
            return
        if path in (AIDS_PATH, PERIMETERS_PATH):
            if method != "GET":
                self._answer(handler, entry, 405, {"code": 405, "message": "Method Not Allowed"})
                return
            refusal = self._check_bearer(entry["authorization"])
            if refusal is not None:
                self._answer(handler, entry, 401, {"code": 401, "message": refusal})
                return
            if path == AIDS_PATH:
                items = self._filter_aids(query)
            else:
                items = self._find_perimeters(query)
            self._page(handler, entry, items, query, path)
            return
        self._answer(handler, entry, 404, {"type": "about:blank", "title": "Not Found", "status": 404})

    def _connexion(self, handler: _Handler, entry: dict[str, Any]) -> None:
        token = entry["auth_token"]
        if not token:
            self._answer(handler, entry, 401, {"message": "No API token provided"})
            return
        if token not in self.tokens:
            self._answer(handler, entry, 401, {"message": "Invalid API token"})
            return
        now = int(self.clock())
        claims: dict[str, Any] = {"iat": now, "roles": ["ROLE_USER"], "username": "coordination@example.org"}
        if self.include_exp:
            claims["exp"] = now + self.jwt_lifetime
        with self._lock:
            claims["jti"] = len(self.issued) + 1  # two JWTs given in the same second differ
            header = _b64(json.dumps({"typ": "JWT", "alg": "HS256"}).encode())
            body = _b64(json.dumps(claims).encode())
            signature = _b64(hmac.new(JWT_SECRET, f"{header}.{body}".encode(), hashlib.sha256).digest())
            jwt = f"{header}.{body}.{signature}"
            self.issued.append(_Issued(jwt, now + self.jwt_lifetime))
        self._answer(handler, entry, 200, {"token": jwt})

    def _check_bearer(self, authorization: str | None) -> str | None:
        """None if the JWT is good, else lexik/jwt's message."""
        if not authorization or not authorization.startswith("Bearer "):
            return "JWT Token not found"
        jwt = authorization.removeprefix("Bearer ").strip()
        with self._lock:
            issued = next((i for i in self.issued if i.jwt == jwt), None)
        if issued is None or issued.revoked:
            return "Invalid JWT Token"
        if self.clock() >= issued.expires_at:
            return "Expired JWT Token"
        return None

    def _page(self, handler: _Handler, entry: dict[str, Any], items: list[dict[str, Any]],
              query: tuple[tuple[str, str], ...], path: str) -> None:
        params = dict(query)
        try:
            page = int(params.get("page", "1"))
            size = int(params.get("itemsPerPage", params.get("size", str(DEFAULT_ITEMS_PER_PAGE))))
        except ValueError:
            self._answer(handler, entry, 400, {"code": 400, "message": "page and itemsPerPage must be integers"})
            return
        if page < 1 or size < 1 or size > MAX_ITEMS_PER_PAGE:
            self._answer(handler, entry, 400, {"code": 400, "message": f"page must be at least 1 and itemsPerPage "
                                                                       f"between 1 and {MAX_ITEMS_PER_PAGE}"})
            return
        count = len(items)
        pages = max(1, -(-count // size))

        def link(number: int) -> str:
            rest = [(k, v) for k, v in query if k != "page"] + [("page", str(number))]
            return f"{self.url}{path}?{urlencode(rest)}"

        body = {
            "count": count,
            "previous": link(page - 1) if page > 1 else None,
            "next": link(page + 1) if page < pages else None,
            "results": items[(page - 1) * size: page * size],
        }
        self._answer(handler, entry, 200, body)

    def _filter_aids(self, query: tuple[tuple[str, str], ...]) -> list[dict[str, Any]]:
        def values(name: str) -> list[str]:
            return [v for k, v in query if (k == name or k.rstrip("[]0123456789") == name) and v.strip()]

        with self._lock:
            aids = list(self.aids)
        # unknown slugs are ignored, as the API does (all unknown: no filter at all)
        slug_of = {slug.replace("_", "-"): label for slug, label in AUDIENCES.items()}
        if audiences := {slug_of[s.replace("_", "-")] for s in values("organization_type_slugs")
                         if s.replace("_", "-") in slug_of}:
            aids = [a for a in aids if audiences & set(a.get("targeted_audiences") or [])]
        if slugs := set(values("category_slugs")) & set(CATEGORIES.values()):
            aids = [a for a in aids if slugs & {CATEGORIES.get(c) for c in a.get("categories") or []}]
        if perimeter_ids := values("perimeter_id"):
            wanted = self._perimeter(php_int(perimeter_ids[-1]))
            if wanted is not None:  # the perimeter, those it lies in and those inside it
                related = {wanted.id, *wanted.within} | {p.id for p in self.perimeters if wanted.id in p.within}
                aids = [a for a in aids if (p := self._perimeter_named(a)) is not None and p.id in related]
        if before := values("apply_before"):
            aids = [a for a in aids if a.get("submission_deadline") and a["submission_deadline"] <= before[-1]]
        if after := values("published_after"):
            aids = [a for a in aids if str(a.get("date_created", ""))[:10] >= after[-1]]
        if (only := values("call_for_projects_only")) and only[-1].lower() in ("true", "on", "1"):
            aids = [a for a in aids if a.get("is_call_for_project")]
        if group := values("aid_type_group_slug"):
            wanted_group = group[-1].replace("_", "-")
            aids = [a for a in aids if any(AID_TYPE_GROUPS.get(t) == wanted_group for t in a.get("aid_types") or [])]
        return aids

    def _perimeter(self, perimeter_id: int) -> Perimeter | None:
        return next((p for p in self.perimeters if p.id == perimeter_id), None)

    def _perimeter_named(self, aid: Mapping[str, Any]) -> Perimeter | None:
        scale = fold(str(aid.get("perimeter_scale") or ""))
        return next((p for p in self.perimeters
                     if p.name == aid.get("perimeter") and fold(p.aid_scale) == scale), None)

    def _find_perimeters(self, query: tuple[tuple[str, str], ...]) -> list[dict[str, Any]]:
        params = dict(query)
        found = list(self.perimeters)
        if (scale := params.get("scale", "").strip()) in SCALES:  # an unknown slug filters nothing
            found = [p for p in found if p.scale == scale]
        q = params.get("q", "").strip()
        if q and re.fullmatch(r"\d{5}", q):
            return [p.payload() for p in found if any(q in z for z in p.zipcodes)]
        if q:
            q = fold(re.sub(r"[+\-<>()~*@]", " ", q))
            words = q.split()

            def matches(p: Perimeter) -> bool:  # LIKE '%q%', or MATCH AGAINST('q*'): any word, the last a prefix
                name = fold(p.name)
                name_words = re.split(r"[^0-9a-z]+", name)
                return (q in name or any(w in name_words for w in words[:-1] if len(w) >= 3)
                        or any(n.startswith(words[-1]) for n in name_words))

            found = [p for p in found if matches(p)]
            found.sort(key=lambda p: not fold(p.name).startswith(q))  # names starting with q first
        return [p.payload() for p in found]

    def _record(self, entry: dict[str, Any], status: int | None) -> None:
        with self._lock:
            self.log.append(LoggedRequest(status=status, **entry))

    def _answer(self, handler: _Handler, entry: dict[str, Any], status: int, body: Any,
                headers: Mapping[str, str] | None = None) -> None:
        self._record(entry, status)
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        handler.send_response(status)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A fake Aides-territoires API on 127.0.0.1, with sample aids.")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: any free port)")
    parser.add_argument("--token", default=API_TOKEN, help="the API token it accepts in X-AUTH-TOKEN")
    args = parser.parse_args(argv)
    fake = FakeAidesTerritoires(tokens=[args.token], aids=sample_aids(), port=args.port).start()
    print(f"fake Aides-territoires listening on {fake.url} (AIDES_TERRITOIRES_URL={fake.url})", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
