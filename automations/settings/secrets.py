"""The one list of secret environment variables, and how their values are masked in every output
(logs, CLI output, the summary, the Journal, error texts an API echoed back)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from urllib.parse import quote, unquote, urlsplit

# Every variable whose value must never be printed. Anything that reads secrets from the environment
# reads these names; the masks are built from the same list.
SECRET_VARIABLES = (
    "DATABASE_URL", "SCALINGO_POSTGRESQL_URL", "POSTGRESQL_ADDON_URI", "SMTP_URL", "SENDGRID_API_KEY",
    "AIRTABLE_TOKEN", "GOOGLE_SERVICE_ACCOUNT_JSON", "AIDES_TERRITOIRES_TOKEN", "IMAP_URL",
)
MASK = "***"
MIN_SECRET_LENGTH = 4  # shorter fragments would mask ordinary words


def _url_secrets(value: str) -> list[str]:
    """The password of a URL as written and decoded, and its parts around a raw '@' (a library that
    splits at the first '@' would print the rest as the host)."""
    try:
        # the password is what lies between the first ':' and the last '@' of the authority
        authority = value.split("://", 1)[1].split("/", 1)[0]
        userinfo = authority.rpartition("@")[0]
        raw = userinfo.partition(":")[2] if ":" in userinfo else ""
        parsed = urlsplit(value).password or ""
    except (ValueError, IndexError):
        return []
    found = [raw, parsed, unquote(raw), quote(unquote(raw), safe="")]
    for password in (raw, unquote(raw)):
        found.extend(password.split("@"))
    return found


def _service_account_secrets(value: str) -> list[str]:
    """A Google service account key (JSON, or its base64): the whole key, its private key as written
    in the JSON and as PEM lines, and the key id."""
    text = value
    if not value.lstrip().startswith("{"):
        try:
            text = base64.b64decode(value, validate=False).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return []
    try:
        key = json.loads(text)
    except ValueError:
        return []
    if not isinstance(key, dict):
        return []
    found = [text]
    private = key.get("private_key")
    if isinstance(private, str):
        found += [private, json.dumps(private)[1:-1]]
        found += [line.strip() for line in private.splitlines() if not line.startswith("-----") and len(line.strip()) >= 16]
    if isinstance(key.get("private_key_id"), str):
        found.append(key["private_key_id"])
    return found


def secret_values(environ: Mapping[str, str]) -> list[str]:
    """Every value that must never be printed, longest first: each secret variable's value, the
    password inside each URL, the private key inside a service account key."""
    values: list[str] = []
    for name in SECRET_VARIABLES:
        value = (environ.get(name) or "").strip()
        if not value:
            continue
        values.append(value)
        if "://" in value:
            values.extend(_url_secrets(value))
        if name == "GOOGLE_SERVICE_ACCOUNT_JSON":
            values.extend(_service_account_secrets(value))
    return sorted({v for v in values if len(v) >= MIN_SECRET_LENGTH}, key=len, reverse=True)


def mask(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret replaced by ***."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text
