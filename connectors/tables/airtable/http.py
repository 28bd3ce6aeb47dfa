"""How the Airtable backend talks HTTP: one pacer per base, and a requests adapter that paces and retries.

Airtable allows 5 requests per second per base and answers 429 beyond, then refuses the base for 30 s.
So every HTTP request to a base first waits its turn at the base's `Pacer` (shared by every table and
thread of the run); a 429 anyway (another process on the same base) holds the whole base back for 30 s
and tries again, until the waiting would exceed a bound; 5xx answers and connection errors are retried,
with a short backoff, only for requests that cannot do the same thing twice.

Why a requests adapter, mounted on the session of an ordinary `pyairtable.Api(..., retry_strategy=None)`:
- pyairtable's own retries (`retry_strategy`, a urllib3 `Retry` on the session) sleep with `time.sleep`
  (not injectable), back off 0.1–1.6 s where Airtable wants 30 s, and by default (`allowed_methods=None`)
  retry every method after a read error: a create whose answer was lost would be sent again and create
  the record twice;
- overriding `Api.request` would see requests before pyairtable's long-URL fallback turns a GET into a
  POST `listRecords` (it calls `request` again: one HTTP request paced twice), and see failures only
  after they have been turned into `HTTPError`s;
- an adapter's `send` is where requests itself plugs retries: it sees each HTTP request exactly once,
  with its method and URL, and the answer before anything is raised. pyairtable is used unchanged.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from connectors.tables.pacing import Pacer

REQUESTS_PER_SECOND = 5  # Airtable's limit, per base
PACING_MARGIN = 0.05  # seconds added to the 1 s window: requests do not all take the same time to arrive
RATE_LIMIT_PAUSE = 30.0  # Airtable refuses a base for 30 s after a 429
MAX_RATE_LIMIT_WAIT = 300.0  # then give up: the run reports a retriable error
RETRY_BACKOFF = (1.0, 2.0, 4.0)  # seconds before each retry of a 5xx or a connection error
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PATCH", "PUT"})


_SHARED: dict[str, Pacer] = {}
_SHARED_LOCK = threading.Lock()


def base_pacer(per_second: int = REQUESTS_PER_SECOND, **kwargs: Any) -> Pacer:
    """A pacer at Airtable's per-base rate (5 requests per second, plus a small margin), or a lower
    one (`[airtable] requests_per_second`: another tool uses the base too)."""
    kwargs.setdefault("margin", PACING_MARGIN)
    return Pacer(per_second, 1.0, **kwargs)


def shared_pacer(base_key: str, per_second: int = REQUESTS_PER_SECOND) -> Pacer:
    """The one pacer of a base in this process: every client of the base (a new one each run, the
    worker's jobs, threads) waits on it, so the base never sees more than 5 requests per second."""
    with _SHARED_LOCK:
        key = f"{base_key}|{per_second}"
        if key not in _SHARED:
            _SHARED[key] = base_pacer(per_second)
        return _SHARED[key]


def is_idempotent(request: requests.PreparedRequest) -> bool:
    """Whether sending the request twice does no more than sending it once.

    GET reads; PATCH and PUT set records (by id, or by key with `performUpsert`) to given values; a POST
    to `.../listRecords` is a read. A plain POST creates records (or tables, or fields) and a DELETE of a
    record already deleted fails: neither is sent again when its answer is lost.
    """
    method = (request.method or "GET").upper()
    if method in IDEMPOTENT_METHODS:
        return True
    return method == "POST" and urlsplit(request.url or "").path.endswith("/listRecords")


class PacedAdapter(HTTPAdapter):
    """Every request waits for the pacer; 429s wait 30 s (bounded); failures of idempotent ones retry."""

    def __init__(
        self,
        pacer: Pacer,
        *,
        sleep: Callable[[float], None] = time.sleep,
        backoff: Sequence[float] = RETRY_BACKOFF,
        rate_limit_pause: float = RATE_LIMIT_PAUSE,
        max_rate_limit_wait: float = MAX_RATE_LIMIT_WAIT,
    ):
        super().__init__(max_retries=0)
        self.pacer = pacer
        self.sleep = sleep
        self.backoff = tuple(backoff)
        self.rate_limit_pause = rate_limit_pause
        self.max_rate_limit_wait = max_rate_limit_wait
        self.requests = 0  # requests sent, retries included: what Airtable's monthly quota counts
        self._count_lock = threading.Lock()

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        retriable = is_idempotent(request)
        failures = 0
        waited = 0.0
        while True:
            self.pacer.wait()
            with self._count_lock:
                self.requests += 1
            try:
                response = super().send(request, *args, **kwargs)
            except (requests.ConnectionError, requests.Timeout):
                if not retriable or failures >= len(self.backoff):
                    raise
                self.sleep(self.backoff[failures])
                failures += 1
                continue
            if response.status_code == 429 and waited + self.rate_limit_pause <= self.max_rate_limit_wait:
                response.close()
                waited += self.rate_limit_pause
                self.pacer.pause(self.rate_limit_pause)  # the next wait() sleeps it off, for every thread
                continue
            if response.status_code >= 500 and retriable and failures < len(self.backoff):
                response.close()
                self.sleep(self.backoff[failures])
                failures += 1
                continue
            return response  # pyairtable raises for what is still an error; the table names it
