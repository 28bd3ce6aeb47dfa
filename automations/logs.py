"""Worker logs: one line per event on standard output (what PaaS log viewers read), secrets masked."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Mapping

from automations.settings.secrets import MIN_SECRET_LENGTH, SECRET_VARIABLES, mask, secret_values

__all__ = ["SECRET_VARIABLES", "MaskSecrets", "configure_cli_logging", "configure_worker_logging", "secret_values"]


class MaskSecrets(logging.Filter):
    """Replaces any secret value in a log record by ***."""

    def __init__(self, secrets: Iterable[str]):
        super().__init__()
        self.secrets = sorted((s for s in secrets if len(s) >= MIN_SECRET_LENGTH), key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed log call: show its parts, masked
            message = f"{record.msg} {record.args}"
        masked = mask(message, self.secrets)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = mask(record.stack_info, self.secrets)
        return True


def configure_cli_logging(environ: Mapping[str, str], *, verbose: bool, stream=None) -> logging.Handler:  # type: ignore[no-untyped-def]
    """The commands' logging: warnings (every step with -v) on standard error, secrets masked."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskSecrets(secret_values(environ)))
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_cantines", False):
            root.removeHandler(old)
    handler._cantines = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    return handler


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
