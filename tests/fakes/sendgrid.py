"""A local stand-in for SendGrid's v3 mail/send endpoint, for the real sendgrid client to talk to.

    with FakeSendGrid(api_key="SG.test") as fake:
        SendGridAPIClient(api_key="SG.test", host=fake.url)…
        fake.received      # every accepted payload (parsed JSON), in order
        fake.requests      # every request, accepted or not

It answers like SendGrid: 202 with an X-Message-Id header and an empty body (200 without one in sandbox
mode); 400 with `{"errors": [{"message", "field", "help"}]}` for what SendGrid validates (from, subject,
personalizations and their limits, content and its order, attachments, reserved headers, categories,
custom_args); 401 without a valid `Authorization: Bearer` key; 413 above `max_bytes` (30 MB like
SendGrid). Faults are queued with `fail_next`: forced statuses (429, 500…) or dropped connections, one
request each. Error texts follow SendGrid's wording where it is known.

A 429 is answered as SendGrid documents it, with `X-RateLimit-Limit`, `X-RateLimit-Remaining: 0` and
`X-RateLimit-Reset` (the Unix time at which the limit resets) and no Retry-After (sendgrid/sendgrid-oai,
oai_v3_stoplight.json, « Rate Limit Response Header » / « When You Reach a Rate Limit »: `HTTP/1.1 429
TOO MANY REQUESTS`, `X-RateLimit-Limit: 150`, `X-RateLimit-Remaining: 0`, `X-RateLimit-Reset:
1392815263`, body `{"errors": [{"field": null, "message": "too many requests"}]}`; mail_send.json itself
lists no 429). The reset is `rate_limit_reset` seconds after the fake's `clock`, which also dates every
answer (`Date` header), so a client can tell how long to wait without a clock of its own. A `Fault`
given explicit `headers` answers with those instead (e.g. a proxy's Retry-After).

Standalone: `python -m tests.fakes.sendgrid --port 8025 [--api-key KEY]` serves until interrupted.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import email.utils
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

MAIL_SEND_PATH = "/v3/mail/send"
RATE_LIMIT = 150  # X-RateLimit-Limit of SendGrid's documented example
RATE_LIMIT_RESET = 5  # seconds from a 429 to the reset it announces
DEFAULT_API_KEY = "SG.fake-key-for-tests"
DEFAULT_MAX_BYTES = 30 * 1024 * 1024
MAX_PERSONALIZATIONS = 1000
MAX_RECIPIENTS = 1000
MAX_CUSTOM_ARGS_BYTES = 10_000
RESERVED_HEADERS = frozenset({
    "x-sg-id", "x-sg-eid", "received", "dkim-signature", "content-type", "content-transfer-encoding",
    "to", "from", "subject", "reply-to", "cc", "bcc",
})
DEFAULT_FAULT_MESSAGES = {
    401: "The provided authorization grant is invalid, expired, or revoked",
    403: "The from address does not match a verified Sender Identity. Mail cannot be sent until this error is "
         "resolved. Visit https://sendgrid.com/docs/for-developers/sending-email/sender-identity/ to see the "
         "Sender Identity requirements",
    429: "too many requests",
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
}
HELP = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html"


@dataclass(frozen=True)
class Fault:
    """What the fake does instead of its normal answer, for one request."""

    status: int = 500
    headers: dict[str, str] | None = None  # None: SendGrid's own (the rate-limit headers of a 429)
    body: dict[str, Any] | None = None
    drop: bool = False  # read the request, then close the connection without answering


def error(message: str, field: str | None = None, help: str | None = None) -> dict[str, Any]:
    return {"message": message, "field": field, "help": help}


def validate(payload: Any) -> list[dict[str, Any]]:
    """SendGrid's validation of a mail/send body, as far as this project's payloads go."""
    if not isinstance(payload, dict):
        return [error("Invalid type. Expected: object, given: " + type(payload).__name__ + ".")]
    errors: list[dict[str, Any]] = []
    sender = payload.get("from")
    if not isinstance(sender, dict) or not sender.get("email"):
        errors.append(error(
            "The from object must be provided for every email send. It is an object that requires the email "
            "parameter, but may also contain a name parameter.  e.g. {\"email\" : \"example@example.com\"}  or "
            "{\"email\" : \"example@example.com\", \"name\" : \"Example Recipient\"}.",
            "from.email", f"{HELP}#message.from",
        ))
    personalizations = payload.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        errors.append(error(
            "The personalizations field is required and must have at least one personalization.",
            "personalizations", f"{HELP}#-Personalizations-Errors",
        ))
    elif len(personalizations) > MAX_PERSONALIZATIONS:
        errors.append(error(
            f"The personalizations field is limited to {MAX_PERSONALIZATIONS} items.",
            "personalizations", f"{HELP}#-Personalizations-Errors",
        ))
    else:
        errors.extend(_validate_personalizations(personalizations, payload))
    content = payload.get("content")
    if not payload.get("template_id"):
        if not isinstance(content, list) or not content:
            errors.append(error(
                "Unless a valid template_id is provided, the content parameter is required. There must be at "
                "least one defined content block. We typically suggest both text/plain and text/html blocks are "
                "included, but only one block is required.",
                "content", f"{HELP}#message.content",
            ))
        else:
            errors.extend(_validate_content(content))
    errors.extend(_validate_extras(payload))
    return errors


def _validate_personalizations(personalizations: list[Any], payload: dict[str, Any]) -> list[dict[str, Any]]:
    errors = []
    total = 0
    for index, personalization in enumerate(personalizations):
        if not isinstance(personalization, dict):
            errors.append(error("The personalization block may not be null.", f"personalizations.{index}"))
            continue
        if not personalization.get("to"):
            errors.append(error(
                "The to array is required for all personalization objects, and must have at least one email "
                "object with a valid email address.",
                f"personalizations.{index}.to", f"{HELP}#message.personalizations.to",
            ))
        seen: set[str] = set()
        for kind in ("to", "cc", "bcc"):
            for position, recipient in enumerate(personalization.get(kind) or []):
                total += 1
                email = str((recipient or {}).get("email", "")).lower()
                if "@" not in email:
                    errors.append(error(
                        "Does not contain a valid address.", f"personalizations.{index}.{kind}.{position}.email"
                    ))
                elif email in seen:
                    errors.append(error(
                        "Each email address in the personalization block should be unique between to, cc, and "
                        f"bcc. We found the first duplicate instance of [{email}] in the "
                        f"personalizations.{index}.{kind} field.",
                        f"personalizations.{index}.{kind}",
                    ))
                seen.add(email)
                name = str((recipient or {}).get("name", ""))
                quoted = len(name) >= 2 and name[0] == name[-1] == '"'  # SendGrid accepts them quoted
                if (";" in name or "," in name) and not quoted:
                    errors.append(error(
                        "The name cannot contain ';' or ','.", f"personalizations.{index}.{kind}.{position}.name"
                    ))
    if total > MAX_RECIPIENTS:
        errors.append(error(
            f"The total number of recipients must be no more than {MAX_RECIPIENTS}.", "personalizations"
        ))
    every_one_has_a_subject = all(isinstance(p, dict) and p.get("subject") for p in personalizations)
    if not payload.get("subject") and not every_one_has_a_subject and not payload.get("template_id"):
        errors.append(error(
            "The subject is required. You can get around this requirement if you use a template with a "
            "subject defined or if every personalization has a subject defined.",
            "subject", f"{HELP}#message.subject",
        ))
    return errors


def _validate_content(content: list[Any]) -> list[dict[str, Any]]:
    errors = []
    types = [str((block or {}).get("type", "")) for block in content]
    for index, block in enumerate(content):
        if not isinstance(block, dict) or not block.get("value"):
            errors.append(error("The content value must be a string at least one character in length.",
                                f"content.{index}.value"))
    if "text/plain" in types and types.index("text/plain") != 0 or (
        "text/html" in types and "text/plain" in types and types.index("text/html") < types.index("text/plain")
    ):
        errors.append(error(
            "If present, text/plain content must be first, followed by text/html, followed by any other content.",
            "content", f"{HELP}#message.content",
        ))
    return errors


def _validate_extras(payload: dict[str, Any]) -> list[dict[str, Any]]:
    errors = []
    for index, attachment in enumerate(payload.get("attachments") or []):
        try:
            base64.b64decode(str(attachment.get("content", "")), validate=True)
        except (binascii.Error, ValueError):
            errors.append(error("The attachment content must be base64 encoded.", f"attachments.{index}.content"))
        if not attachment.get("filename"):
            errors.append(error("The attachment filename parameter is required.", f"attachments.{index}.filename"))
        if attachment.get("disposition") == "inline" and not attachment.get("content_id"):
            errors.append(error("The content_id parameter is required if disposition is set to inline.",
                                f"attachments.{index}.content_id"))
    for name, value in (payload.get("headers") or {}).items():
        if name.lower() in RESERVED_HEADERS:
            errors.append(error(f"The header {name} is reserved and cannot be set.", f"headers.{name}"))
        elif not isinstance(value, str) or not value.isascii():
            errors.append(error("Header values must be ASCII strings (encode unicode values).", f"headers.{name}"))
    categories = payload.get("categories") or []
    if len(categories) > 10:
        errors.append(error("You may not have more than 10 categories per request.", "categories"))
    for index, category in enumerate(categories):
        if not isinstance(category, str) or not category.isascii() or len(category) > 255:
            errors.append(error("A category must be an ASCII string of at most 255 characters.", f"categories.{index}"))
    custom_args = payload.get("custom_args") or {}
    if not isinstance(custom_args, dict):
        errors.append(error(f"Invalid type. Expected: object, given: {type(custom_args).__name__}.", "custom_args"))
    else:
        if any(not isinstance(value, str) for value in custom_args.values()):
            errors.append(error("Custom argument values must be strings.", "custom_args"))
        if len(json.dumps(custom_args).encode("utf-8")) >= MAX_CUSTOM_ARGS_BYTES:
            errors.append(error("The total length of custom arguments must be less than 10000 bytes.", "custom_args"))
    return errors


class FakeSendGrid:
    """A threaded HTTP server on 127.0.0.1 that answers POST /v3/mail/send like SendGrid."""

    def __init__(self, *, api_key: str = DEFAULT_API_KEY, max_bytes: int = DEFAULT_MAX_BYTES, port: int = 0,
                 clock: Callable[[], float] = time.time, rate_limit: int = RATE_LIMIT,
                 rate_limit_reset: int = RATE_LIMIT_RESET):
        self.api_key = api_key
        self.max_bytes = max_bytes
        self.clock = clock
        self.rate_limit = rate_limit
        self.rate_limit_reset = rate_limit_reset
        self.received: list[dict[str, Any]] = []
        self.requests = 0
        self.statuses: list[int | None] = []  # the answer to each request (None: dropped)
        self.faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail_next(self, *faults: Fault | int) -> None:
        """Answer the next requests with these faults (a bare int is that status), one request each."""
        with self._lock:
            self.faults.extend(f if isinstance(f, Fault) else Fault(status=f) for f in faults)

    def start(self) -> FakeSendGrid:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-sendgrid", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeSendGrid:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- called from the handler threads ----------------------------------------------------

    def _next_fault(self) -> Fault | None:
        with self._lock:
            self.requests += 1
            return self.faults.popleft() if self.faults else None

    def rate_limit_headers(self) -> dict[str, str]:
        """The headers of SendGrid's 429: the limit, nothing remaining, and when it resets (Unix time)."""
        return {"X-RateLimit-Limit": str(self.rate_limit), "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(int(self.clock()) + self.rate_limit_reset)}

    def _accept(self, payload: dict[str, Any]) -> str:
        with self._lock:
            self.received.append(payload)
            return f"fake{len(self.received):06d}-{self.port}"

    def _record(self, status: int | None) -> None:
        with self._lock:
            self.statuses.append(status)


def _handler_for(fake: FakeSendGrid) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "nginx"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:  # quiet under pytest
            pass

        def date_time_string(self, timestamp: float | None = None) -> str:  # the Date header, on the fake's clock
            return email.utils.formatdate(fake.clock() if timestamp is None else timestamp, usegmt=True)

        def do_POST(self) -> None:
            fault = fake._next_fault()
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if fault is not None:
                if fault.drop:
                    fake._record(None)
                    self.close_connection = True
                    return
                body = fault.body or {"errors": [error(DEFAULT_FAULT_MESSAGES.get(fault.status, "fault"))]}
                headers = fault.headers
                if headers is None:
                    headers = fake.rate_limit_headers() if fault.status == 429 else {}
                self._answer(fault.status, body, headers)
                return
            if self.path != MAIL_SEND_PATH:
                self._answer(404, {"errors": [error("not found")]})
                return
            authorization = self.headers.get("Authorization", "")
            if not authorization.startswith("Bearer "):
                self._answer(401, {"errors": [error("authorization required")]})
                return
            if authorization.removeprefix("Bearer ") != fake.api_key:
                self._answer(401, {"errors": [error(DEFAULT_FAULT_MESSAGES[401])]})
                return
            if length > fake.max_bytes:
                self._answer(413, {"errors": [error(
                    f"The request body is too large: mail send requests must be under {fake.max_bytes} bytes."
                )]})
                return
            try:
                payload = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                self._answer(400, {"errors": [error("Bad Request")]})
                return
            problems = validate(payload)
            if problems:
                self._answer(400, {"errors": problems})
                return
            message_id = fake._accept(payload)
            if ((payload.get("mail_settings") or {}).get("sandbox_mode") or {}).get("enable"):
                self._answer(200, None)  # sandbox: validated, not sent, no message id
            else:
                self._answer(202, None, {"X-Message-Id": message_id})

        def do_GET(self) -> None:
            fake._next_fault()
            self._answer(405, {"errors": [error("method not allowed")]})

        def _answer(self, status: int, body: dict[str, Any] | None, headers: dict[str, str] | None = None) -> None:
            fake._record(status)
            data = json.dumps(body).encode("utf-8") if body is not None else b""
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A fake SendGrid v3 mail/send server on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: any free port)")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help="the API key it accepts")
    parser.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES, help="largest accepted request body")
    args = parser.parse_args(argv)
    fake = FakeSendGrid(api_key=args.api_key, max_bytes=args.max_bytes, port=args.port)
    print(f"fake SendGrid listening on {fake.url}", flush=True)
    try:
        fake._server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        fake._server.server_close()


if __name__ == "__main__":
    main()
