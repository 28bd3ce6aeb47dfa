"""How the Google Sheets backend talks HTTP: gspread's `HTTPClient`, with timeouts, pacing, bounded retries
and an endpoint override.

Google allows 60 read and 60 write requests per minute per user (here: per service account) and answers
429 beyond. So every request first waits its turn at a pacer (one for reads, one for writes, shared by
every spreadsheet and thread using the client); a 429 anyway (another process with the same account)
or a 5xx is retried after 1, 2, 4… 32 s, a bounded number of times (gspread's `BackOffHTTPClient`
retries for ever, and sleeps with `time.sleep`, which tests cannot replace). Requests that could do
their work twice (an append, a row deletion) are not retried after a 5xx or a lost answer: only after a
429, which Google answers before doing anything.

`endpoint_url` sends every request meant for a Google API (https://*.googleapis.com) to another server
instead, for tests and local runs against a fake: the requests gspread builds for
https://sheets.googleapis.com (its URLs are module constants in `gspread.urls`, so they are rewritten
here, per client), and google-auth's own: the token request to https://oauth2.googleapis.com/token and
the "regional access boundary" lookup google-auth (2.62) makes at https://iamcredentials.googleapis.com
after a token refresh. Nothing then reaches Google, whatever key the credentials hold.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import requests
from google.auth.credentials import Credentials
from google.auth.transport.requests import AuthorizedSession, Request
from gspread.exceptions import APIError
from gspread.http_client import HTTPClient, ParamsType
from gspread.utils import convert_credentials

from connectors.errors import ConfigurationError
from connectors.tables.pacing import Pacer

GOOGLE_API_DOMAIN = ".googleapis.com"
DEFAULT_TIMEOUT = (10.0, 60.0)  # seconds to connect, seconds to wait for an answer
READS_PER_MINUTE = 60  # Google's quotas, per user (the service account)
WRITES_PER_MINUTE = 60
QUOTA_PERIOD = 60.0
PACING_MARGIN = 1.0  # seconds added to the quota period: clocks and queues differ a little
RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 32.0)  # 95 s in all: more than one quota minute
MAX_RETRY_AFTER = 60.0  # a Retry-After header longer than this is not believed
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT"})
IDEMPOTENT_SUFFIXES = ("/values:batchUpdate", "/values:batchGet", "/values:batchClear")


class SheetsAPIError(APIError):
    """Google's error answer, with how many times the request was sent and how long the client waited."""

    def __init__(self, response: requests.Response, *, attempts: int = 1, waited: float = 0.0):
        super().__init__(response)
        self.attempts = attempts
        self.waited = waited

    @property
    def status(self) -> str:
        """Google's status name ("PERMISSION_DENIED", "RESOURCE_EXHAUSTED"…), or "" if the body had none."""
        return str(self.error.get("status") or "")

    @property
    def message(self) -> str:
        return str(self.error.get("message") or "")


class SheetsHTTPClient(HTTPClient):
    """gspread's HTTP client with a timeout on every request, pacing, bounded retries and an endpoint.

    Usable directly (`SheetsHTTPClient(credentials, endpoint_url=...)`, whose `values_batch_get`,
    `values_batch_update`, `batch_update` and `fetch_sheet_metadata` the backend calls)
    or through gspread: `gspread.Client(credentials, http_client=functools.partial(SheetsHTTPClient, ...))`.
    """

    def __init__(
        self,
        auth: Credentials | None,
        session: requests.Session | None = None,
        *,
        endpoint_url: str | None = None,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        reads_per_minute: int | None = READS_PER_MINUTE,
        writes_per_minute: int | None = WRITES_PER_MINUTE,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.endpoint_url = _endpoint(endpoint_url)
        if session is None:
            if auth is None:
                raise ValueError("SheetsHTTPClient needs credentials or a session")
            auth = convert_credentials(auth)
            # the token request gets a timeout too (google-auth's default is none)
            auth_request = Request(RedirectingSession(self.endpoint_url)) if self.endpoint_url else None
            session = AuthorizedSession(auth, refresh_timeout=_total(timeout), auth_request=auth_request)
        super().__init__(auth, session)  # type: ignore[arg-type]
        self.auth = auth  # type: ignore[assignment]  # gspread leaves it unset when given a session
        self.timeout = timeout
        self.retry_delays = tuple(retry_delays)
        self.sleep = sleep
        self.pacers = {
            family: Pacer(limit, QUOTA_PERIOD, margin=PACING_MARGIN, clock=clock, sleep=sleep)
            for family, limit in (("read", reads_per_minute), ("write", writes_per_minute)) if limit is not None
        }
        self.sent: collections.Counter[str] = collections.Counter()  # requests sent, by "read"/"write"
        self.retries = 0
        self.backoff_waited = 0.0
        self._stats_lock = threading.Lock()

    def url(self, endpoint: str) -> str:
        """The URL actually requested for one of gspread's (the endpoint override applied)."""
        return redirect(endpoint, self.endpoint_url)

    @property
    def paced(self) -> float:
        """Seconds spent waiting for the quota pacers."""
        return sum(pacer.waited for pacer in self.pacers.values())

    def request(
        self,
        method: str,
        endpoint: str,
        params: ParamsType | None = None,
        data: bytes | None = None,
        json: Mapping[str, Any] | None = None,
        files: Any = None,
        headers: MutableMapping[str, str] | None = None,
    ) -> requests.Response:
        url = self.url(endpoint)
        family = "read" if method.upper() in ("GET", "HEAD") else "write"
        idempotent = is_idempotent(method, url)
        attempts, waited = 0, 0.0
        while True:
            if family in self.pacers:
                self.pacers[family].wait()
            attempts += 1
            with self._stats_lock:
                self.sent[family] += 1
            try:
                response = self.session.request(method=method, url=url, json=json, params=params, data=data,
                                                files=files, headers=headers, timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout):
                if not idempotent or attempts > len(self.retry_delays):
                    raise
                waited += self._back_off(self.retry_delays[attempts - 1])
                continue
            if response.ok:
                return response
            status = response.status_code
            if (status == 429 or (status >= 500 and idempotent)) and attempts <= len(self.retry_delays):
                delay = max(self.retry_delays[attempts - 1], retry_after(response))
                response.close()
                waited += self._back_off(delay)
                continue
            raise SheetsAPIError(response, attempts=attempts, waited=waited)

    def _back_off(self, delay: float) -> float:
        with self._stats_lock:
            self.retries += 1
            self.backoff_waited += delay
        self.sleep(delay)
        return delay


class RedirectingSession(requests.Session):
    """A requests session sending what is meant for a Google API to `endpoint_url` (google-auth's own
    requests: tokens, regional access boundary lookups)."""

    __attrs__ = [*requests.Session.__attrs__, "endpoint_url"]  # kept by pickling and deepcopy (google-auth copies it)

    def __init__(self, endpoint_url: str):
        super().__init__()
        self.endpoint_url = endpoint_url

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        return super().request(method, redirect(str(url), self.endpoint_url), *args, **kwargs)


def redirect(url: str, endpoint_url: str | None) -> str:
    """`url` with its https://*.googleapis.com origin replaced by `endpoint_url` (when there is one)."""
    if not endpoint_url:
        return url
    parts = urlsplit(url)
    if parts.scheme != "https" or not (parts.hostname or "").endswith(GOOGLE_API_DOMAIN):
        return url
    return endpoint_url + parts.path + (f"?{parts.query}" if parts.query else "")


def is_idempotent(method: str, url: str) -> bool:
    """Whether sending the request twice does no more than sending it once.

    Reads are; so are writes of given values to given cells (`values.update`, `values:batchUpdate`).
    An append adds rows each time it is sent, and a `spreadsheets:batchUpdate` inserting or deleting
    rows inserts them twice, or deletes other rows, the second time."""
    if method.upper() in IDEMPOTENT_METHODS:
        return True
    return urlsplit(url).path.endswith(IDEMPOTENT_SUFFIXES)


def retry_after(response: requests.Response) -> float:
    """Seconds a Retry-After header asks to wait (0 when absent, unreadable or not believable)."""
    try:
        seconds = float(response.headers.get("Retry-After", "0"))
    except ValueError:
        return 0.0
    return seconds if 0 < seconds <= MAX_RETRY_AFTER else 0.0


def _total(timeout: float | tuple[float, float]) -> float:
    return float(sum(timeout)) if isinstance(timeout, tuple) else float(timeout)


def _endpoint(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigurationError(f"GOOGLE_SHEETS_ENDPOINT_URL must be an http(s) URL such as "
                                 f"http://127.0.0.1:8766, not {url!r}")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
