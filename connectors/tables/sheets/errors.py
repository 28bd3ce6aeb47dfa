"""Google Sheets' failures turned into ours: one line naming what to fix.

Lines staff act on are French (share a spreadsheet, add a tab, wait for the quota); lines about the
deployment name the environment variable in English, like the rest of `connectors.errors`' messages.
"""

from __future__ import annotations

import requests
from google.auth import exceptions as auth_exceptions
from gspread.exceptions import APIError

from connectors.errors import BackendError, CantinesError, ConfigurationError, RetriableBackendError, SchemaError
from connectors.tables.sheets.auth import ENV_NAME

INIT_HINT = "lancez `cantines init sheets`"
RANGE_ERROR = "Unable to parse range"


class SpreadsheetAccessError(ConfigurationError, BackendError):
    """The spreadsheet does not exist or is not shared (as editor) with the service account.

    A configuration problem (fix the sharing, run again) that is also a backend failure, so that a sync
    reading many cantines' spreadsheets can report one unshared spreadsheet and go on with the others."""


def is_missing_range(exc: BaseException) -> bool:
    """Whether Google refused a range: a tab named in it does not exist."""
    return isinstance(exc, APIError) and exc.code == 400 and str(exc.error.get("message", "")).startswith(RANGE_ERROR)


def missing_tab(name: str, where: str) -> SchemaError:
    return SchemaError(f"Onglet « {name} » absent du classeur Google Sheets {where} ({INIT_HINT} "
                       "ou ajoutez l'onglet)")


def missing_columns(names: list[str], tab: str, where: str) -> SchemaError:
    many = len(names) > 1
    return SchemaError(f"{'Colonnes' if many else 'Colonne'} {', '.join(f'« {n} »' for n in names)} "
                       f"{'absentes' if many else 'absente'} de l'onglet « {tab} » "
                       f"du classeur Google Sheets {where} ({INIT_HINT})")


def not_shared(where: str, account: str | None) -> SpreadsheetAccessError:
    who = account or "le compte de service du worker"
    return SpreadsheetAccessError(
        f"Classeur Google Sheets {where} introuvable ou non partagé avec {who} : vérifiez la clé du classeur "
        f"et partagez-le avec {who} (droit « Éditeur »)"
    )


def translate(exc: BaseException, *, where: str, account: str | None, tab: str | None = None) -> CantinesError:
    """The error to raise for a request on the spreadsheet `where` (and `tab`, if one) that failed."""
    if isinstance(exc, auth_exceptions.RefreshError):
        reason = str(exc.args[0]) if exc.args else exc.__class__.__name__
        return ConfigurationError(f"Google refused a token to the service account {account or ''} "
                                  f"({reason[:120]}): check {ENV_NAME} (the key may have been deleted or "
                                  "the account disabled)")
    if isinstance(exc, auth_exceptions.TransportError):
        return RetriableBackendError(f"Le service d'authentification de Google est injoignable "
                                     f"({exc.__class__.__name__}) : le prochain cycle réessaiera")
    if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
        return RetriableBackendError(f"Google Sheets injoignable pour le classeur {where} "
                                     f"({exc.__class__.__name__}) : réessayez plus tard")
    if not isinstance(exc, APIError):
        return BackendError(f"Google Sheets : échec sur le classeur {where} ({exc.__class__.__name__}: {exc})")
    status = exc.code if isinstance(exc.code, int) and exc.code > 0 else exc.response.status_code
    name = str(exc.error.get("status") or "")
    message = str(exc.error.get("message") or "")
    attempts = getattr(exc, "attempts", 1)
    waited = getattr(exc, "waited", 0.0)
    on = f"l'onglet « {tab} » du classeur {where}" if tab else f"le classeur {where}"
    reasons = {str(d.get("reason")) for d in exc.error.get("details") or () if isinstance(d, dict)}
    if status == 403 and ("SERVICE_DISABLED" in reasons or "has not been used in project" in message):
        return ConfigurationError("The Google Sheets API is not enabled in the service account's Google Cloud "
                                  f"project: enable it in the console, then run again (Google: {message[:160]})")
    if status == 403 and ("ACCESS_TOKEN_SCOPE_INSUFFICIENT" in reasons or "insufficient authentication" in message):
        return ConfigurationError("The service account's token lacks the spreadsheets scope "
                                  "(https://www.googleapis.com/auth/spreadsheets): check how the credentials are built")
    if status in (403, 404):
        return not_shared(where, account)
    if status == 401:
        return ConfigurationError(f"Google Sheets rejected the service account's credentials (HTTP 401 {name}): "
                                  f"check {ENV_NAME}")
    if status == 429:
        return RetriableBackendError(
            f"Quota Google Sheets dépassé sur {on} : encore refusé (429 {name}) après {attempts} essais et "
            f"{waited:.0f} s d'attente ; réessayez dans quelques minutes"
        )
    if status >= 500:
        tries = f" après {attempts} essais" if attempts > 1 else ""
        return RetriableBackendError(f"Google Sheets en erreur sur {on} (HTTP {status} {name}){tries} : "
                                     "réessayez plus tard")
    if is_missing_range(exc) and tab:
        return missing_tab(tab, where)
    return BackendError(f"Google Sheets a refusé la requête sur {on} (HTTP {status} {name} : {message})")
