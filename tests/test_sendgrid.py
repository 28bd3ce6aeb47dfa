"""The SendGrid backend: the real sendgrid client over real HTTP, against the fake in tests/fakes."""

from __future__ import annotations

import base64
import datetime as dt
import logging
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from email import policy
from email.header import decode_header, make_header
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
import requests
from sendgrid import SendGridAPIClient

from connectors.errors import ConfigurationError
from connectors.mail import Attachment, DeliveryError, OutgoingMessage, build_message, message_id
from connectors.mail.sendgrid import (
    SendGridBackend, batch_personalizations, mail_payload, rate_limit_wait, retry_after_seconds,
)

from .conftest import PARIS, REPO
from .fakes.sendgrid import FakeSendGrid, Fault
from .fakes.smtp import SilentListener, free_port

NOW = dt.datetime(2026, 3, 2, 7, 30, tzinfo=PARIS)
KEY = "SG.cantines-test.9f8e7d6c5b4a"
KEY_NAME = "rappel:echeance:42:2026-03-09:-7"
ICS = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nSUMMARY:Bilan \xc3\xa0 rendre\r\n"
    b"END:VEVENT\r\nEND:VCALENDAR\r\n"
)
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 4


class Sleeper:
    """Records the waits instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def outgoing(key: str = KEY_NAME, **changes: object) -> OutgoingMessage:
    values: dict[str, object] = dict(
        key=key, kind="rappel-echeance",
        sender=Address("Réseau des Petites Cantines", "robot", "cantines.example"),
        to=("camille@lyon.example",), cc=("bureau@lyon.example",), reply_to="coordination@cantines.example",
        subject="Rappel : échéance",
        text="Bonjour Camille,\nLe bilan « Fondation Alpha » est à rendre le lundi 9 mars 2026 (12 500 €).\n",
        html="<p>Bonjour Camille,</p><p>Le bilan <strong>« Fondation Alpha »</strong> est à rendre.</p>",
        attachments=(
            Attachment("échéance.ics", ICS, "text/calendar"),
            Attachment("bilan-2025.pdf", PDF, "application/pdf"),
        ),
        headers=(("List-Unsubscribe", "<mailto:desinscription@cantines.example>"),),
    )
    values.update(changes)
    return OutgoingMessage(**values)  # type: ignore[arg-type]


def queued(key: str = KEY_NAME, **changes: object) -> EmailMessage:
    """The message as run.deliver hands it over: built, stored as bytes, parsed back."""
    data = build_message(outgoing(key, **changes), date=NOW).as_bytes(policy=policy.SMTP)
    message = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(message, EmailMessage)
    return message


@pytest.fixture
def fake() -> Iterator[FakeSendGrid]:
    with FakeSendGrid(api_key=KEY) as server:
        yield server


@pytest.fixture
def sleeper() -> Sleeper:
    return Sleeper()


@pytest.fixture
def backend(fake: FakeSendGrid, sleeper: Sleeper) -> Iterator[SendGridBackend]:
    with SendGridBackend(KEY, host=fake.url, sleeper=sleeper, timeout=5) as sendgrid:
        yield sendgrid


def full_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc)


# -- the payload ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "as_queued", [pytest.param(True, id="parsed-from-the-outbox"), pytest.param(False, id="as-built")]
)
def test_payload_carries_everything_and_the_message_id_comes_back(
    fake: FakeSendGrid, backend: SendGridBackend, as_queued: bool
) -> None:
    message = queued() if as_queued else build_message(outgoing(), date=NOW)
    provider_id = backend.deliver(message)

    assert provider_id == f"fake000001-{fake.port}"  # the X-Message-Id header
    (payload,) = fake.received
    assert payload["from"] == {"email": "robot@cantines.example", "name": "Réseau des Petites Cantines"}
    assert payload["reply_to"] == {"email": "coordination@cantines.example"}
    assert payload["personalizations"] == [
        {"to": [{"email": "camille@lyon.example"}], "cc": [{"email": "bureau@lyon.example"}]}
    ]
    assert payload["subject"] == "Rappel : échéance"
    assert [c["type"] for c in payload["content"]] == ["text/plain", "text/html"]
    assert payload["content"][0]["value"] == (
        "Bonjour Camille,\nLe bilan « Fondation Alpha » est à rendre le lundi 9 mars 2026 (12 500 €).\n"
    )
    assert "<strong>« Fondation Alpha »</strong>" in payload["content"][1]["value"]
    ics, pdf = payload["attachments"]
    assert (ics["filename"], ics["type"], ics["disposition"]) == ("échéance.ics", "text/calendar", "attachment")
    assert base64.b64decode(ics["content"]) == ICS
    assert (pdf["filename"], pdf["type"]) == ("bilan-2025.pdf", "application/pdf")
    assert base64.b64decode(pdf["content"]) == PDF
    assert payload["categories"] == ["rappel-echeance"]
    assert payload["custom_args"] == {"cantines_key": KEY_NAME}
    headers = payload["headers"]
    assert headers["Message-ID"] == message_id(KEY_NAME)
    assert headers["List-Unsubscribe"] == "<mailto:desinscription@cantines.example>"
    assert headers["X-Cantines-Key"] == KEY_NAME
    assert not {"from", "to", "cc", "subject", "reply-to", "content-type", "mime-version", "date"} & {
        name.lower() for name in headers
    }
    assert "mail_settings" not in payload
    assert fake.requests == 1


def test_non_ascii_keys_and_kinds_fit_sendgrid_rules(fake: FakeSendGrid, backend: SendGridBackend) -> None:
    key = "digest:cantine:Cantine de Lyon – Croix-Rousse:2026-W10"
    backend.deliver(queued(key, kind="récapitulatif-cantine"))
    (payload,) = fake.received  # the fake refuses non-ASCII header values and categories
    assert payload["custom_args"] == {"cantines_key": key}
    assert payload["categories"] == ["recapitulatif-cantine"]
    encoded = payload["headers"]["X-Cantines-Key"]
    assert encoded.isascii() and str(make_header(decode_header(encoded))) == key


def test_a_cc_repeating_a_to_address_is_sent_once(fake: FakeSendGrid, backend: SendGridBackend) -> None:
    backend.deliver(queued(to=("camille@lyon.example",), cc=("Camille@Lyon.example", "bureau@lyon.example")))
    (payload,) = fake.received  # SendGrid refuses an address twice in one personalization
    assert payload["personalizations"][0]["cc"] == [{"email": "bureau@lyon.example"}]


def test_a_message_with_only_cc_recipients_gets_a_to(fake: FakeSendGrid, backend: SendGridBackend) -> None:
    backend.deliver(queued(to=(), cc=("bureau@lyon.example",)))
    (payload,) = fake.received
    assert payload["personalizations"] == [{"to": [{"email": "bureau@lyon.example"}]}]


def test_a_message_sendgrid_could_never_take_is_held_before_any_request(
    fake: FakeSendGrid, backend: SendGridBackend
) -> None:
    with pytest.raises(DeliveryError) as caught:
        backend.deliver(queued(to=(), cc=()))
    assert not caught.value.retriable and "aucun destinataire" in str(caught.value)
    assert fake.requests == 0


def test_sandbox_mode_is_asked_for_and_returns_no_id(fake: FakeSendGrid, sleeper: Sleeper) -> None:
    with SendGridBackend(KEY, host=fake.url, sandbox=True, sleeper=sleeper) as backend:
        provider_id = backend.deliver(queued())
    (payload,) = fake.received
    assert payload["mail_settings"] == {"sandbox_mode": {"enable": True}}
    assert provider_id is None  # 200 without X-Message-Id: nothing was sent
    assert fake.statuses == [200]


# -- refusals -------------------------------------------------------------------------------------


def valid_payload(**changes: Any) -> dict[str, Any]:
    payload = dict(mail_payload(queued()))
    payload.update(changes)
    return {name: value for name, value in payload.items() if value is not None}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({"from": None}, "from.email: The from object must be provided", id="missing-from"),
        pytest.param({"personalizations": []}, "personalizations: The personalizations field is required",
                     id="empty-personalizations"),
        pytest.param({"personalizations": None}, "personalizations: The personalizations field is required",
                     id="missing-personalizations"),
        pytest.param({"personalizations": [{"to": [{"email": f"c{n}@lyon.example"}]} for n in range(1001)]},
                     "personalizations: The personalizations field is limited to 1000 items",
                     id="1001-personalizations"),
        pytest.param({"content": None},
                     "content: Unless a valid template_id is provided, the content parameter is required",
                     id="missing-content"),
    ],
)
def test_each_400_becomes_a_clear_permanent_error(
    fake: FakeSendGrid, backend: SendGridBackend, sleeper: Sleeper, changes: dict[str, Any], expected: str
) -> None:
    with pytest.raises(DeliveryError) as caught:
        backend.send(valid_payload(**changes))
    assert not caught.value.retriable
    assert str(caught.value).startswith("SendGrid a refusé le message (400 : ")
    assert expected in str(caught.value)
    assert fake.statuses == [400] and fake.received == [] and sleeper.waits == []


def test_a_wrong_key_names_sendgrid_api_key_and_never_shows_it(
    fake: FakeSendGrid, sleeper: Sleeper, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "SG.wrong-key.0123456789"
    caplog.set_level(logging.DEBUG)
    with SendGridBackend(wrong, host=fake.url, sleeper=sleeper) as backend:
        with pytest.raises(DeliveryError) as caught:
            backend.deliver(queued())
    error = caught.value
    assert not error.retriable
    assert "SENDGRID_API_KEY" in str(error) and "401" in str(error)
    assert "The provided authorization grant is invalid, expired, or revoked" in str(error)
    assert fake.statuses == [401] and sleeper.waits == []
    for text in (full_text(error), repr(backend), caplog.text):
        assert wrong not in text and "wrong-key" not in text


def test_the_http_library_debug_log_shows_no_key(backend: SendGridBackend, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="python_http_client.client")
    backend.deliver(queued())
    assert "Authorization" in caplog.text  # python_http_client logs the request headers…
    assert "Bearer ***" in caplog.text and KEY not in caplog.text  # …with the key masked


def test_forbidden_points_at_the_key_permissions_and_the_sender(
    fake: FakeSendGrid, backend: SendGridBackend, sleeper: Sleeper
) -> None:
    fake.fail_next(403)
    with pytest.raises(DeliveryError) as caught:
        backend.deliver(queued())
    assert not caught.value.retriable
    assert "SENDGRID_API_KEY" in str(caught.value) and "verified Sender Identity" in str(caught.value)
    assert sleeper.waits == []


def test_an_empty_key_is_a_configuration_error_even_with_the_variable_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENDGRID_API_KEY", KEY)  # the sendgrid client would silently fall back to it
    with pytest.raises(ConfigurationError) as caught:
        SendGridBackend("  ")
    assert "SENDGRID_API_KEY" in str(caught.value)


def test_repr_hides_the_key() -> None:
    backend = SendGridBackend(KEY, host="https://api.eu.sendgrid.com/")
    assert repr(backend) == "SendGridBackend(host='https://api.eu.sendgrid.com', sandbox=False)"


def test_a_payload_over_the_size_limit_is_refused_for_good(sleeper: Sleeper) -> None:
    with FakeSendGrid(api_key=KEY, max_bytes=1000) as small:
        with SendGridBackend(KEY, host=small.url, sleeper=sleeper) as backend, pytest.raises(DeliveryError) as caught:
            backend.deliver(queued())  # the PDF alone is over 1000 bytes in base64
        assert small.statuses == [413]
    assert not caught.value.retriable and "too large" in str(caught.value) and "413" in str(caught.value)
    assert sleeper.waits == []


# -- retries --------------------------------------------------------------------------------------


def test_429_then_202_waits_as_told_by_retry_after(
    fake: FakeSendGrid, backend: SendGridBackend, sleeper: Sleeper
) -> None:
    fake.fail_next(Fault(429, headers={"Retry-After": "7"}))
    provider_id = backend.deliver(queued())
    assert provider_id == f"fake000001-{fake.port}"
    assert sleeper.waits == [7.0]
    assert fake.statuses == [429, 202] and len(fake.received) == 1


def test_429_without_any_rate_limit_header_backs_off_exponentially(
    fake: FakeSendGrid, backend: SendGridBackend, sleeper: Sleeper
) -> None:
    fake.fail_next(Fault(429, headers={}), Fault(429, headers={}))  # e.g. a proxy's 429
    backend.deliver(queued())
    assert sleeper.waits == [1.0, 2.0]
    assert fake.statuses == [429, 429, 202]


RATE_LIMITED_AT = 1_772_433_000.0  # 2026-03-02 06:30:00 UTC, on the fake's clock


def test_sendgrids_429_is_waited_out_until_its_rate_limit_reset(sleeper: Sleeper) -> None:
    with FakeSendGrid(api_key=KEY, clock=lambda: RATE_LIMITED_AT, rate_limit_reset=12) as fake:
        fake.fail_next(429)  # SendGrid's: X-RateLimit-Limit/Remaining/Reset, no Retry-After
        with SendGridBackend(KEY, host=fake.url, sleeper=sleeper, timeout=5) as backend:
            assert backend.deliver(queued()) == f"fake000001-{fake.port}"
    assert sleeper.waits == [12.0]
    assert fake.statuses == [429, 202] and len(fake.received) == 1


def test_a_rate_limit_reset_beyond_a_minute_is_left_to_the_next_run(sleeper: Sleeper) -> None:
    with FakeSendGrid(api_key=KEY, clock=lambda: RATE_LIMITED_AT, rate_limit_reset=3600) as fake:
        fake.fail_next(429)
        with SendGridBackend(KEY, host=fake.url, sleeper=sleeper, timeout=5) as backend:
            with pytest.raises(DeliveryError) as caught:
                backend.deliver(queued())
    assert caught.value.retriable and "3600 s" in str(caught.value)
    assert sleeper.waits == [] and fake.requests == 1


def test_the_fakes_429_carries_sendgrids_rate_limit_headers() -> None:
    with FakeSendGrid(api_key=KEY, clock=lambda: RATE_LIMITED_AT, rate_limit_reset=12) as fake:
        fake.fail_next(429)
        response = requests.post(fake.url + "/v3/mail/send", json={}, timeout=5,
                                 headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 429 and "Retry-After" not in response.headers
    assert response.headers["X-RateLimit-Limit"] == "150" and response.headers["X-RateLimit-Remaining"] == "0"
    assert response.headers["X-RateLimit-Reset"] == str(int(RATE_LIMITED_AT) + 12)
    assert response.headers["Date"] == "Mon, 02 Mar 2026 06:30:00 GMT"
    assert response.json() == {"errors": [{"message": "too many requests", "field": None, "help": None}]}


@pytest.mark.parametrize(
    "headers, seconds",
    [
        pytest.param({"X-RateLimit-Reset": "1772433012", "Date": "Mon, 02 Mar 2026 06:30:00 GMT"}, 12.0, id="reset"),
        pytest.param({"X-RateLimit-Reset": "1772432990", "Date": "Mon, 02 Mar 2026 06:30:00 GMT"}, 0.0, id="past"),
        pytest.param({"Retry-After": "7", "X-RateLimit-Reset": "1772433012", "Date": "Mon, 02 Mar 2026 06:30:00 GMT"},
                     7.0, id="retry-after-first"),
        pytest.param({"X-RateLimit-Reset": "1772433012"}, None, id="reset-without-date"),
        pytest.param({"X-RateLimit-Reset": "soon", "Date": "Mon, 02 Mar 2026 06:30:00 GMT"}, None, id="unreadable"),
        pytest.param({}, None, id="none"),
    ],
)
def test_rate_limit_wait_is_read_without_a_clock(headers: dict[str, str], seconds: float | None) -> None:
    assert rate_limit_wait(headers) == seconds


def test_a_500_storm_ends_in_a_retriable_error_after_max_attempts(fake: FakeSendGrid, sleeper: Sleeper) -> None:
    fake.fail_next(*[500] * 10)
    with SendGridBackend(KEY, host=fake.url, sleeper=sleeper, max_attempts=4) as backend:
        with pytest.raises(DeliveryError) as caught:
            backend.deliver(queued())
    assert caught.value.retriable
    assert "SendGrid a répondu 500" in str(caught.value) and "après 4 tentatives" in str(caught.value)
    assert sleeper.waits == [1.0, 2.0, 4.0]  # max_attempts - 1 waits
    assert fake.requests == 4 and fake.received == []


def test_a_retry_after_beyond_a_minute_is_left_to_the_next_run(
    fake: FakeSendGrid, backend: SendGridBackend, sleeper: Sleeper
) -> None:
    fake.fail_next(Fault(429, headers={"Retry-After": "3600"}))
    with pytest.raises(DeliveryError) as caught:
        backend.deliver(queued())
    assert caught.value.retriable and "3600 s" in str(caught.value)
    assert sleeper.waits == [] and fake.requests == 1


def test_a_lost_answer_is_held_for_a_person_and_not_resent(
    fake: FakeSendGrid, backend: SendGridBackend, sleeper: Sleeper
) -> None:
    fake.fail_next(Fault(drop=True))
    with pytest.raises(DeliveryError) as caught:
        backend.deliver(queued())
    assert not caught.value.retriable  # SendGrid may have taken it: held, like a message cut by a crash
    assert "a peut-être été envoyé" in str(caught.value) and f"cantines_key = {KEY_NAME}" in str(caught.value)
    assert sleeper.waits == [] and fake.requests == 1  # no second request
    assert backend.after_crash == "hold"
    assert backend.deliver(queued("next")) is not None  # and the backend goes on


def test_an_unreachable_host_is_tried_again_then_retriable(sleeper: Sleeper) -> None:
    host = f"http://127.0.0.1:{free_port()}"  # nothing listens there: the request never left
    with SendGridBackend(KEY, host=host, sleeper=sleeper, max_attempts=3) as backend:
        with pytest.raises(DeliveryError) as caught:
            backend.deliver(queued())
    assert caught.value.retriable and "SendGrid injoignable" in str(caught.value)
    assert sleeper.waits == [1.0, 2.0]


def test_a_silent_server_times_out_quickly(sleeper: Sleeper) -> None:
    with SilentListener() as silent:
        started = time.monotonic()
        with SendGridBackend(KEY, host=f"http://127.0.0.1:{silent.port}", timeout=0.2, sleeper=sleeper) as backend:
            with pytest.raises(DeliveryError) as caught:
                backend.deliver(queued())
    assert "timed out" in str(caught.value)
    assert not caught.value.retriable  # the request was sent: only a person can tell whether it went out
    assert sleeper.waits == [] and time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        pytest.param({"Retry-After": "7"}, 7.0, id="seconds"),
        pytest.param({"Retry-After": "2.5"}, 2.5, id="fraction"),
        pytest.param({"Retry-After": "Mon, 02 Mar 2026 06:30:05 GMT", "Date": "Mon, 02 Mar 2026 06:30:00 GMT"}, 5.0,
                     id="http-date-against-the-response-date"),
        pytest.param({"Retry-After": "Mon, 02 Mar 2026 06:30:05 GMT"}, None, id="http-date-without-date"),
        pytest.param({"Retry-After": "soon"}, None, id="unreadable"),
        pytest.param({}, None, id="absent"),
    ],
)
def test_retry_after_is_read_without_a_clock(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after_seconds(headers) == seconds


# -- batching -------------------------------------------------------------------------------------


def test_personalizations_are_split_into_requests_of_1000() -> None:
    personalizations = [{"to": [{"email": f"cantine{n}@example.org"}]} for n in range(2500)]
    batches = batch_personalizations(personalizations)  # type: ignore[arg-type]
    assert [len(batch) for batch in batches] == [1000, 1000, 500]
    assert [p for batch in batches for p in batch] == personalizations  # order kept, nothing lost


def test_batches_also_respect_1000_recipients_per_request() -> None:
    two_each = [
        {"to": [{"email": f"a{n}@example.org"}], "cc": [{"email": f"b{n}@example.org"}]} for n in range(600)
    ]
    assert [len(batch) for batch in batch_personalizations(two_each)] == [500, 100]  # type: ignore[arg-type]
    assert batch_personalizations([]) == []
    with pytest.raises(ValueError, match="1001 recipients"):
        batch_personalizations([{"to": [{"email": f"x{n}@example.org"} for n in range(1001)]}])


# -- the fake on its own --------------------------------------------------------------------------


def test_the_fake_runs_standalone_for_manual_checks() -> None:
    port = free_port()
    with subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.sendgrid", "--port", str(port), "--api-key", KEY],
        cwd=Path(REPO), stdout=subprocess.PIPE, text=True,
    ) as process:
        try:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == f"fake SendGrid listening on http://127.0.0.1:{port}"
            response = SendGridAPIClient(api_key=KEY, host=f"http://127.0.0.1:{port}").send(valid_payload())
            assert response.status_code == 202 and response.headers["X-Message-Id"]
        finally:
            process.terminate()
