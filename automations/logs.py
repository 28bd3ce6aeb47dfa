"""Worker logs: one line per event on standard output (what PaaS log viewers read), secrets masked."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Mapping
from urllib.parse import unquote, urlsplit

SECRET_VARIABLES = (
    "DATABASE_URL", "SCALINGO_POSTGRESQL_URL", "POSTGRESQL_ADDON_URI", "SMTP_URL", "SENDGRID_API_KEY",
    "AIRTABLE_TOKEN", "GOOGLE_SERVICE_ACCOUNT_JSON", "IMAP_URL",
)


def secret_values(environ: Mapping[str, str]) -> list[str]:
    """The values that must never be printed: each secret, and the password inside each URL."""
    values: list[str] = []
    for name in SECRET_VARIABLES:
        value = environ.get(name, "").strip()
        if not value:
            continue
        values.append(value)
        if "://" in value:
            password = urlsplit(value).password
            if password:
                values.extend({password, unquote(password)})  # as written, and as a server or a library shows it
    return sorted(set(values), key=len, reverse=True)


class MaskSecrets(logging.Filter):
    """Replaces any secret value in a log record by ***."""

    def __init__(self, secrets: Iterable[str]):
        super().__init__()
        self.secrets = [s for s in secrets if len(s) >= 4]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = message
        for secret in self.secrets:
            masked = masked.replace(secret, "***")
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            for secret in self.secrets:
                record.exc_text = record.exc_text.replace(secret, "***")
        return True


def configure_worker_logging(environ: Mapping[str, str], stream=sys.stdout) -> logging.Handler:  # type: ignore[no-untyped-def]
    """INFO lines on stdout, `time level logger: message`, with the secrets of `environ` masked."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskSecrets(secret_values(environ)))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return handler
