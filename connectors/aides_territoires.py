"""The Aides-territoires API: the French State's public database of funding for local actors.

    with AidesTerritoiresClient(token, base_url=url) as client:
        for aid in client.aids(organization_type_slugs=["association"]):
            ...

The user's API token (AIDES_TERRITOIRES_TOKEN, read by the caller) is exchanged for a JWT with
`POST /api/connexion/` (header `X-AUTH-TOKEN`); the JWT then goes in `Authorization: Bearer` on every call.
It is kept until shortly before it expires (its `exp` claim, read without checking the signature, or 24 h
after it was obtained when it has none), then renewed; a 401 on a call renews it once and repeats the call.
A token Aides-territoires refuses is a configuration error naming AIDES_TERRITOIRES_TOKEN; neither the
token nor the JWT ever appears in errors, reprs or logs.

Lists (`/api/aids/`, `/api/perimeters/`) are read to their last page, 100 items per request. Every request
has a timeout; 5xx answers, 429s and failures to connect or to read an answer are tried again after 1 s,
2 s, 4 s… (through the injected sleeper), `max_attempts` requests in all, then reported as retriable. All
the requests made are reads, so repeating one never does anything twice.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, TypedDict
from urllib.parse import urlsplit

import requests

from connectors.errors import BackendError, ConfigurationError, RetriableBackendError

log = logging.getLogger(__name__)

TOKEN_SETTING = "AIDES_TERRITOIRES_TOKEN"
URL_SETTING = "AIDES_TERRITOIRES_URL"
DEFAULT_URL = "https://aides-territoires.beta.gouv.fr"
CONNEXION_PATH = "/api/connexion/"
AIDS_PATH = "/api/aids/"
PERIMETERS_PATH = "/api/perimeters/"
MAX_ITEMS_PER_PAGE = 100
MAX_PAGES = 1000  # 100,000 items: a server that never stops answering `next` is a bug, not a list
JWT_LIFETIME = 24 * 3600.0  # when the JWT does not say (Aides-territoires documents 24 h)
JWT_MARGIN = 300.0  # renew this long before the expiry, so that no call goes out with a dying JWT
BACKOFF_SECONDS = 1.0  # waits of 1 s, 2 s, 4 s… between attempts
MAX_WAIT_SECONDS = 60.0  # a longer Retry-After ends the attempts: the next run tries again
TOKEN_HELP = (
    f"check {TOKEN_SETTING} (the API token of your Aides-territoires account, "
    "in « Mon compte › Mon token API » on aides-territoires.beta.gouv.fr)"
)
PAGING_PARAMS = frozenset({"page", "itemsPerPage", "size"})

FilterValue = str | int | bool | dt.date | Sequence[str | int] | None


class FinancerPayload(TypedDict, total=False):
    id: int
    name: str
    logo: str | None


class AidPayload(TypedDict, total=False):
    """One aid as `/api/aids/` returns it (the fields cantines-worker reads, and a few more)."""

    id: int
    slug: str
    url: str  # a path on the Aides-territoires site: "/aides/<slug>/"
    name: str
    name_initial: str | None
    short_title: str | None
    financers: list[str]
    financers_full: list[FinancerPayload]
    instructors: list[str]
    programs: list[str]
    description: str | None  # HTML
    eligibility: str | None  # HTML
    perimeter: str | None  # the perimeter's name: "France", "Rhône", "Métropole de Lyon"…
    perimeter_scale: str | None  # commune, epci (lower case), Bassin hydrographique, Département, Région,
    # Outre-mer, Métropole, Ad-hoc, Pays, Continent
    mobilization_steps: list[str]
    origin_url: str | None
    categories: list[str]  # "<thème> / <catégorie>", e.g. "Solidarités / lien social / Alimentation"
    is_call_for_project: bool | None
    application_url: str | None
    targeted_audiences: list[str]
    aid_types: list[str]  # Subvention, Prêt, Avance récupérable, Autre aide financière, Ingénierie…
    destinations: list[str]  # Dépenses de fonctionnement, Dépenses d’investissement
    start_date: str | None  # Y-m-d
    predeposit_date: str | None  # Y-m-d
    submission_deadline: str | None  # Y-m-d
    subvention_rate_lower_bound: int | float | None
    subvention_rate_upper_bound: int | float | None
    subvention_comment: str | None
    loan_amount: int | float | None
    recoverable_advance_amount: int | float | None
    contact: str | None  # HTML
    recurrence: str | None  # Ponctuelle, Permanente, Récurrente
    date_created: str  # ISO 8601 with offset
    date_updated: str | None
    is_live: bool


class PerimeterPayload(TypedDict, total=False):
    """One perimeter as `/api/perimeters/` returns it."""

    id: str  # "<number>-<slug of the name>", e.g. "71035-rhone": what `perimeter_id` takes
    text: str  # "Rhône (Département)", "Lyon (Commune - 69001, …)"
    name: str
    scale: str | None  # Commune, EPCI, Bassin hydrographique, Département, Région, Outre-mer, Métropole…
    zipcodes: list[str]
    code: str | None


class PagePayload(TypedDict):
    count: int
    previous: str | None
    next: str | None
    results: list[Any]


class AidesTerritoiresError(BackendError):
    """Aides-territoires gave an answer the worker cannot use (a 4xx, a body that is not the expected JSON)."""


class AidesTerritoiresUnavailable(RetriableBackendError, AidesTerritoiresError):
    """Aides-territoires could not be reached or kept failing (5xx, 429, timeouts): the next run tries again."""


def jwt_expiry(jwt: str) -> float | None:
    """The `exp` claim of a JWT (seconds since the epoch), read without checking the signature; None if absent."""
    parts = jwt.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (binascii.Error, ValueError, UnicodeError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if isinstance(exp, bool) or not isinstance(exp, (int, float)):
        return None
    return float(exp)


def encode_filters(filters: Mapping[str, FilterValue]) -> list[tuple[str, str]]:
    """Query parameters for the API: lists as repeated keys, booleans as true/false, dates as Y-m-d."""
    params: list[tuple[str, str]] = []
    for name, value in filters.items():
        if name in PAGING_PARAMS:
            raise ValueError(f"'{name}' is set by the client (it reads every page), not a filter")
        if value is None:
            continue
        items = value if isinstance(value, (list, tuple, set, frozenset)) else [value]
        for item in items:
            if isinstance(item, bool):
                params.append((name, "true" if item else "false"))
            elif isinstance(item, dt.date):
                params.append((name, item.isoformat()))
            else:
                params.append((name, str(item)))
    return params


def _normalise_base_url(base_url: str) -> str:
    url = (base_url or "").strip().rstrip("/")
    if url.endswith("/api"):
        url = url[: -len("/api")]
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"{URL_SETTING} must be the address of the Aides-territoires site, like {DEFAULT_URL}, "
            f"not '{base_url}'"
        )
    return url


def _describe(exc: BaseException) -> str:
    if isinstance(exc, requests.Timeout):
        return "timed out"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _explain(response: requests.Response) -> str:
    """What the API said, in one short line (its JSON `message`/`detail`, or the start of the body)."""
    try:
        body = response.json()
    except ValueError:
        return " ".join(response.text.split())[:300] or "no explanation given"
    if isinstance(body, dict):
        for key in ("message", "detail", "title", "error"):
            if isinstance(body.get(key), str) and body[key].strip():
                return " ".join(body[key].split())[:300]
    return " ".join(json.dumps(body, ensure_ascii=False).split())[:300]


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class AidesTerritoiresClient:
    """A thin client of the Aides-territoires API: a JWT kept fresh, every page read, bounded retries."""

    def __init__(
        self,
        token: str,
        *,
        base_url: str = DEFAULT_URL,
        timeout: float = 30,
        clock: Callable[[], float] = time.time,
        sleeper: Callable[[float], None] = time.sleep,
        max_attempts: int = 3,
        session: requests.Session | None = None,
    ):
        if not token or not token.strip():
            raise ConfigurationError(f"{TOKEN_SETTING} is empty: {TOKEN_HELP}")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._token = token.strip()
        self.base_url = _normalise_base_url(base_url)
        self.timeout = timeout
        self.clock = clock
        self.sleeper = sleeper
        self.max_attempts = max_attempts
        self._owns_session = session is None
        self._session = session if session is not None else requests.Session()
        self._jwt: str | None = None
        self._jwt_expires_at = 0.0

    def __repr__(self) -> str:
        return f"AidesTerritoiresClient(base_url={self.base_url!r})"

    def close(self) -> None:
        """Close the HTTP session if the client opened it."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> AidesTerritoiresClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- public API -------------------------------------------------------------------------

    def aids(self, **filters: FilterValue) -> Iterator[AidPayload]:
        """Every aid matching the filters (organization_type_slugs, category_slugs, perimeter_id,
        apply_before, published_after, call_for_projects_only, aid_type_group_slug…), page after page.

        An aid that moves from one page to the next while the pages are read is given once only."""
        return self._once_each(self._pages(AIDS_PATH, encode_filters(filters)))  # bad filters fail here, now

    def perimeters(self, q: str, *, scale: str | None = None) -> list[PerimeterPayload]:
        """The perimeters whose name matches `q` (their `id` is what the `perimeter_id` filter takes).

        `q` is searched in every perimeter, communes included, and as a part of names ("Ain" finds
        "Saint-…"): give `scale` (a slug: commune, epci, department, region…) to read one page, not many."""
        params = [("q", q)] + ([("scale", scale)] if scale else [])
        return list(self._pages(PERIMETERS_PATH, params))

    # -- paging -----------------------------------------------------------------------------

    @staticmethod
    def _once_each(aids: Iterator[AidPayload]) -> Iterator[AidPayload]:
        seen: set[Any] = set()
        for aid in aids:
            key = aid.get("id") if isinstance(aid, dict) else None
            if key is not None and key in seen:
                continue
            seen.add(key)
            yield aid

    def _pages(self, path: str, params: list[tuple[str, str]]) -> Iterator[Any]:
        page = 1
        while True:
            body = self._get_json(path, [*params, ("page", str(page)), ("itemsPerPage", str(MAX_ITEMS_PER_PAGE))])
            results = body.get("results") if isinstance(body, dict) else None
            if not isinstance(results, list):
                raise AidesTerritoiresError(
                    f"Aides-territoires answered GET {path} page {page} without a list of results"
                )
            yield from results
            # `next` is only read as "there is more": it is built by the server from its own host name
            # and with its own way of writing lists, so the next page is asked for the same way as this one.
            if not body.get("next") or not results:
                return
            page += 1
            if page > MAX_PAGES:
                raise AidesTerritoiresError(f"Aides-territoires kept answering more pages of {path} after {MAX_PAGES}")

    def _get_json(self, path: str, params: list[tuple[str, str]]) -> Any:
        response = self._call("GET", path, params)
        try:
            return response.json()
        except ValueError:
            raise AidesTerritoiresError(
                f"Aides-territoires answered GET {path} with something that is not JSON "
                f"({response.headers.get('Content-Type', 'no content type')})"
            ) from None

    # -- authentication ---------------------------------------------------------------------

    def _bearer(self) -> str:
        """A JWT that is not about to expire, obtained or renewed if needed."""
        if self._jwt is None or self.clock() >= self._jwt_expires_at - JWT_MARGIN:
            self._authenticate()
        assert self._jwt is not None
        return self._jwt

    def _authenticate(self) -> None:
        self._jwt = None
        obtained_at = self.clock()
        # Not redirected: requests would carry X-AUTH-TOKEN to whatever host a redirect names.
        response = self._send("POST", CONNEXION_PATH, None, {"X-AUTH-TOKEN": self._token}, allow_redirects=False)
        if 300 <= response.status_code < 400:
            raise ConfigurationError(
                f"Aides-territoires redirected {CONNEXION_PATH} to {response.headers.get('Location', '?')}: "
                f"set {URL_SETTING} to the address it redirects to"
            )
        if response.status_code in (401, 403):
            raise ConfigurationError(
                f"Aides-territoires refused the API token ({response.status_code} on {CONNEXION_PATH}: "
                f"{_explain(response)}): {TOKEN_HELP}"
            )
        if response.status_code >= 400:
            raise AidesTerritoiresError(
                f"Aides-territoires answered {response.status_code} on {CONNEXION_PATH} ({_explain(response)})"
            )
        try:
            jwt = response.json().get("token")
        except (ValueError, AttributeError):
            jwt = None
        if not isinstance(jwt, str) or not jwt:
            raise AidesTerritoiresError(f"Aides-territoires answered {CONNEXION_PATH} without a token")
        expiry = jwt_expiry(jwt)
        self._jwt = jwt
        self._jwt_expires_at = expiry if expiry is not None else obtained_at + JWT_LIFETIME
        log.info("obtained an Aides-territoires JWT valid until %s",
                 dt.datetime.fromtimestamp(self._jwt_expires_at, dt.timezone.utc).isoformat(timespec="seconds"))

    # -- requests ---------------------------------------------------------------------------

    def _call(self, method: str, path: str, params: list[tuple[str, str]]) -> requests.Response:
        """One authenticated call: renewing the JWT once if Aides-territoires refuses it."""
        response = self._send(method, path, params, {"Authorization": f"Bearer {self._bearer()}"})
        if response.status_code == 401:
            log.info("Aides-territoires refused the JWT (%s); obtaining a new one", _explain(response))
            self._authenticate()
            response = self._send(method, path, params, {"Authorization": f"Bearer {self._jwt}"})
            if response.status_code == 401:
                raise ConfigurationError(
                    f"Aides-territoires refused a JWT it had just given ({method} {path}: {_explain(response)}): "
                    f"{TOKEN_HELP}"
                )
        if response.status_code == 403:
            raise ConfigurationError(
                f"Aides-territoires does not allow this account to call {method} {path} "
                f"({_explain(response)}): {TOKEN_HELP}"
            )
        if response.status_code >= 400:
            raise AidesTerritoiresError(
                f"Aides-territoires answered {response.status_code} on {method} {path} ({_explain(response)})"
            )
        return response

    def _send(
        self, method: str, path: str, params: list[tuple[str, str]] | None, headers: Mapping[str, str],
        *, allow_redirects: bool = True,
    ) -> requests.Response:
        """One request with bounded retries of 5xx, 429 and connection failures; other answers are returned."""
        page = dict(params or []).get("page")
        where = f"{method} {path}" + (f" (page {page})" if page else "")
        problem = ""
        for attempt in range(1, self.max_attempts + 1):
            wait: float | None = None
            try:
                response = self._session.request(
                    method, self.base_url + path, params=params, timeout=self.timeout,
                    headers={"Accept": "application/json", **headers}, allow_redirects=allow_redirects,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                problem = f"Aides-territoires could not be reached at {self.base_url} for {where} ({_describe(exc)})"
            else:
                if response.status_code < 500 and response.status_code != 429:
                    return response
                problem = f"Aides-territoires answered {response.status_code} on {where} ({_explain(response)})"
                wait = _retry_after(response) if response.status_code == 429 else None
                response.close()
            if wait is None:
                wait = BACKOFF_SECONDS * 2 ** (attempt - 1)
            if wait > MAX_WAIT_SECONDS:
                raise AidesTerritoiresUnavailable(f"{problem}; it asked to wait {wait:.0f} s")
            if attempt == self.max_attempts:
                break
            log.warning("%s; trying again in %.0f s (attempt %d of %d)", problem, wait, attempt + 1, self.max_attempts)
            self.sleeper(wait)
        suffix = f" (after {self.max_attempts} attempts)" if self.max_attempts > 1 else ""
        raise AidesTerritoiresUnavailable(problem + suffix)
