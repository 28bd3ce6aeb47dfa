"""Google service-account credentials from the text of GOOGLE_SERVICE_ACCOUNT_JSON (read by the caller).

The text is the JSON key file Google gives for a service account, or its base64 (PaaS dashboards mangle
multi-line values). Keys pasted through shells and dashboards often arrive with the private key's
newlines as the two characters backslash-n, or with real newlines inside the JSON string: both are
accepted. Messages never show the key or any part of the text.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from typing import Any

from google.auth.credentials import Credentials
from google.oauth2 import service_account

from connectors.errors import ConfigurationError

ENV_NAME = "GOOGLE_SERVICE_ACCOUNT_JSON"
SCOPES = ("https://www.googleapis.com/auth/spreadsheets",)  # spreadsheets opened by key: no Drive scope
REQUIRED_KEYS = ("client_email", "private_key", "token_uri")
HELP = ("set it to the service account's JSON key file (Google Cloud console > IAM > Service accounts > "
        "Keys > Add key > JSON), as is or base64-encoded")
PEM_KEY = re.compile(r"-----BEGIN (?:RSA )?PRIVATE KEY-----.+-----END (?:RSA )?PRIVATE KEY-----", re.S)


def load_credentials(text: str, *, scopes: Sequence[str] = SCOPES) -> service_account.Credentials:
    """Service-account credentials from the JSON key's text (or its base64). Raises ConfigurationError."""
    info = _key_info(text)
    try:
        return service_account.Credentials.from_service_account_info(info, scopes=list(scopes))
    except Exception:  # google-auth and cryptography raise many types for a damaged key
        raise _invalid("its private_key cannot be read as an RSA private key (was the key copied whole?)") from None


def account_email(credentials: Credentials | None) -> str | None:
    """The email address of the account behind `credentials`, where it has one (a service account)."""
    email = getattr(credentials, "service_account_email", None)
    return email if isinstance(email, str) and "@" in email else None


def _key_info(text: str) -> dict[str, Any]:
    if not isinstance(text, str) or not text.strip():
        raise ConfigurationError(f"{ENV_NAME} is empty: {HELP}")
    body = text.strip()
    if len(body) >= 2 and body[0] == body[-1] and body[0] in "'\"":
        body = body[1:-1].strip()  # quotes kept from a .env file
    if not body.startswith("{"):
        body = _from_base64(body)
    try:
        info = json.loads(body, strict=False)  # strict=False: real newlines inside the key's string
    except json.JSONDecodeError as exc:
        raise _invalid(f"it is not valid JSON (line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(info, dict):
        raise _invalid("it is JSON, but not an object")
    if info.get("type") != "service_account":
        kind = info.get("type")
        shown = f"a '{kind}' key" if isinstance(kind, str) and re.fullmatch(r"[a-z_]{1,40}", kind) else "not a key"
        raise _invalid(f"it is {shown}, not a service account key (\"type\": \"service_account\")")
    missing = [k for k in REQUIRED_KEYS if not isinstance(info.get(k), str) or not info[k].strip()]
    if missing:
        raise _invalid(f"it has no {', '.join(missing)}")
    if "@" not in info["client_email"]:
        raise _invalid("its client_email is not an email address")
    key = info["private_key"].replace("\\r", "").replace("\\n", "\n").replace("\r\n", "\n")
    if not PEM_KEY.search(key):
        raise _invalid("its private_key is not a PEM private key (-----BEGIN PRIVATE KEY-----…)")
    info["private_key"] = key
    return info


def _from_base64(body: str) -> str:
    compact = re.sub(r"\s+", "", body)
    padded = compact + "=" * (-len(compact) % 4)
    for altchars in (None, b"-_"):  # standard, then URL-safe alphabet
        try:
            text = base64.b64decode(padded, altchars=altchars, validate=True).decode("utf-8").strip()
        except (binascii.Error, ValueError, UnicodeError):
            continue
        if text.startswith("{"):
            return text
    raise _invalid("it is neither JSON nor base64-encoded JSON")


def _invalid(reason: str) -> ConfigurationError:
    return ConfigurationError(f"{ENV_NAME} is not a valid service account key: {reason}; {HELP}")
