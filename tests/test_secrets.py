"""Secrets never printed: every secret variable set to a recognisable value, APIs echoing them back in
their errors, a database password holding a raw '@'; the CLI's output (with -v) and the worker's logs
are searched for every value and every part of it."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from automations.demo import write_demo_workbook
from automations.logs import MaskSecrets
from automations.settings import Settings
from automations.settings.secrets import SECRET_VARIABLES, mask, secret_values
from connectors.state import engine_url

from .conftest import PG_ENV, REPO
from .fakes.sendgrid import Fault, FakeSendGrid

MONDAY = dt.date(2026, 11, 23)
PRIVATE_KEY_LINE = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCRecognisableKeyLine"
SERVICE_ACCOUNT = json.dumps({
    "type": "service_account", "project_id": "cantines", "private_key_id": "KeyId-Recognisable-55",
    "private_key": f"-----BEGIN PRIVATE KEY-----\n{PRIVATE_KEY_LINE}\n-----END PRIVATE KEY-----\n",
    "client_email": "robot@cantines.iam.gserviceaccount.com",
})
SENDGRID_KEY = "SG.Recognisable-SendGrid-Key-42"
AIDES_TOKEN = "Aides-Token-Recognisable-31"
PG_PASSWORD = "S3cret@Pg-Pass-77"  # a raw '@': libraries that cut at the first one print the rest
# every value, and the parts a careless parser would print on their own
MUST_NOT_APPEAR = [
    SENDGRID_KEY, AIDES_TOKEN, PG_PASSWORD, "S3cret", "Pg-Pass-77", "Smtp-Pass-99", "patRecognisableAirtable123",
    PRIVATE_KEY_LINE, "KeyId-Recognisable-55",
]


def test_every_secret_variable_is_in_the_one_list() -> None:
    assert "AIDES_TERRITOIRES_TOKEN" in SECRET_VARIABLES and "GOOGLE_SERVICE_ACCOUNT_JSON" in SECRET_VARIABLES
    environ = {"DATABASE_URL": f"postgres://app:{PG_PASSWORD}@db:5432/app",
               "GOOGLE_SERVICE_ACCOUNT_JSON": base64.b64encode(SERVICE_ACCOUNT.encode()).decode(),
               "AIDES_TERRITOIRES_TOKEN": AIDES_TOKEN}
    values = secret_values(environ)
    text = (f"host 'Pg-Pass-77@db' unknown; key {PRIVATE_KEY_LINE}; {json.dumps(SERVICE_ACCOUNT)}; "
            f"token {AIDES_TOKEN}; password S3cret")
    masked = mask(text, values)
    assert not any(secret in masked for secret in ("Pg-Pass-77", PRIVATE_KEY_LINE, AIDES_TOKEN, "S3cret"))


def test_a_raw_at_sign_in_a_database_password_is_encoded_for_the_driver() -> None:
    assert engine_url(f"postgres://app:{PG_PASSWORD}@db:5432/app") == "postgresql+psycopg://app:S3cret%40Pg-Pass-77@db:5432/app"


def test_the_log_filter_masks_messages_tracebacks_and_malformed_calls() -> None:
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record) + (record.exc_text or ""))

    handler = Keep()
    handler.addFilter(MaskSecrets(secret_values({"AIDES_TERRITOIRES_TOKEN": AIDES_TOKEN})))
    log = logging.getLogger("cantines.test.secrets")
    log.addHandler(handler)
    try:
        log.warning("token %s refused", AIDES_TOKEN)
        try:
            raise RuntimeError(f"echoed {AIDES_TOKEN}")
        except RuntimeError:
            log.exception("failed")
        log.warning("two %s %s", AIDES_TOKEN)  # a malformed call still shows, masked
    finally:
        log.removeHandler(handler)
    assert len(records) == 3 and not any(AIDES_TOKEN in r for r in records)


class EchoingAides(BaseHTTPRequestHandler):
    """An Aides-territoires that quotes the token it refuses in its error."""

    def do_POST(self) -> None:  # noqa: N802
        body = json.dumps({"detail": f"token {self.headers.get('X-AUTH-TOKEN')} inconnu"}).encode()
        self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def echoing_aides() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoingAides)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_no_secret_appears_in_the_output_of_a_run_or_the_worker_logs(
    make_settings: Callable[..., Settings], pg_url: str, echoing_aides: str,
) -> None:
    base, _, query = os.environ[PG_ENV].partition("?")
    database_url = pg_url.replace("postgresql://postgres@", f"postgresql://postgres:{PG_PASSWORD}@", 1)
    assert PG_PASSWORD in database_url
    with FakeSendGrid(api_key=SENDGRID_KEY) as fake:
        # SendGrid refuses the first message quoting the key it was given
        fake.fail_next(Fault(status=400, body={"errors": [{"message": f"key {SENDGRID_KEY} not allowed here",
                                                           "field": None}]}))
        environ = {
            "DATABASE_URL": database_url, "SMTP_URL": "smtps://robot:Smtp-Pass-99@127.0.0.1:1",
            "SENDGRID_API_KEY": SENDGRID_KEY, "SENDGRID_HOST": fake.url,
            "AIRTABLE_TOKEN": "patRecognisableAirtable123", "GOOGLE_SERVICE_ACCOUNT_JSON": SERVICE_ACCOUNT,
            "AIDES_TERRITOIRES_TOKEN": AIDES_TOKEN, "AIDES_TERRITOIRES_URL": echoing_aides,
        }
        settings = make_settings(mail='backend = "sendgrid"', environ=environ,
                                 aides_territoires=f'config = "{REPO / "config" / "aides_territoires.toml"}"')
        write_demo_workbook(settings, MONDAY)
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")} | environ
        command = [sys.executable, "-m", "automations"]
        run = subprocess.run([*command, "-v", "run", "--config", str(settings.path), "--today", MONDAY.isoformat()],
                             cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        status = subprocess.run([*command, "-v", "status", "--config", str(settings.path)],
                                cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        # the database unreachable: its error names the host, never the part of the password after '@'
        unreachable = env | {"DATABASE_URL": f"postgresql://postgres:{PG_PASSWORD}@127.0.0.1:1/test"}
        broken = subprocess.run([*command, "-v", "status", "--config", str(settings.path)],
                                cwd=REPO, env=unreachable, capture_output=True, text=True, timeout=120)
        worker = subprocess.Popen([*command, "worker", "--config", str(settings.path)], cwd=REPO, env=env,
                                  text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(worker.stdout or []), daemon=True)
        reader.start()
        deadline = time.monotonic() + 240
        while not any("job aides:" in line and "errors)" in line for line in lines) and time.monotonic() < deadline:
            time.sleep(0.2)
        worker.send_signal(signal.SIGTERM)
        worker.wait(15)
        reader.join(5)
    outputs = {"run": run.stdout + run.stderr, "status": status.stdout + status.stderr,
               "unreachable database": broken.stdout + broken.stderr, "worker": "".join(lines)}
    # the paths where the secrets were echoed were really taken
    assert "import Aides-territoires impossible" in outputs["run"] and "not allowed here" in outputs["run"]
    assert "job aides:" in outputs["worker"] and "***" in outputs["worker"]
    assert broken.returncode != 0 and "127.0.0.1" in outputs["unreachable database"]
    # what staff and `cantines status` read back: the Journal tab and the runs' details
    import openpyxl

    from connectors.state import StateStore

    book = openpyxl.load_workbook(settings.workbook.path, read_only=True)
    outputs["Journal"] = " ".join(str(v) for row in book["Journal"].iter_rows(values_only=True) for v in row if v)
    state = StateStore.open(pg_url)
    try:
        outputs["runs"] = " ".join(str(r["detail"] or "") for r in state.last_runs(20))
    finally:
        state.close()
    assert "token *** inconnu" in outputs["Journal"] and "token *** inconnu" in outputs["runs"]
    for name, output in outputs.items():
        found = [secret for secret in MUST_NOT_APPEAR if secret in output]
        assert not found, f"{name} prints {found}:\n{output}"
    if os.environ.get("SHOW_OUTPUTS"):
        print("\n\n".join(f"== {name}\n{output}" for name, output in outputs.items()))
