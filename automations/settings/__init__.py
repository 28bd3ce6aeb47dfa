"""Settings: one TOML file plus secrets from environment variables, validated once at start.

Each section declares its options; later backends add their own section to `SECTIONS`. Every problem
is reported at once, one line each, naming the key or the environment variable to fix. Relative paths
in the file are relative to the file itself, so the worker behaves the same from any directory.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email

from connectors.errors import ConfigurationError

from automations.domain.reference import Reference
from automations.domain.rules import Rule
from automations.domain.schema import Schema
from automations.domain.aides import ImportConfig, import_config
from automations.settings.files import load_reference, load_rules, load_schema, read_toml
from automations.settings.mapping import BaseNames, load_mapping
from automations.settings.secrets import SECRET_VARIABLES, mask, secret_values
from automations.settings.syncs import SyncDeclaration, check_syncs

REQUIRED = object()
# The settings used when none is named: the demo's, from the checkout the worker runs in.
DEFAULT_CONFIG = Path("config") / "demo.toml"

# Secrets and deployment variables read from the environment, never from files.
ENV_DATABASE_URLS = ("DATABASE_URL", "SCALINGO_POSTGRESQL_URL", "POSTGRESQL_ADDON_URI")
# Every other variable the settings read (secrets, and endpoints tests and compatible services set).
ENV_SECRETS = ("SMTP_URL", "SENDGRID_API_KEY", "SENDGRID_HOST", "AIRTABLE_TOKEN", "AIRTABLE_BASE_ID",
               "AIRTABLE_ENDPOINT_URL", "AIDES_TERRITOIRES_TOKEN", "AIDES_TERRITOIRES_URL",
               "GOOGLE_SERVICE_ACCOUNT_JSON", "GOOGLE_SHEETS_ENDPOINT_URL", "IMAP_URL")


@dataclass(frozen=True)
class Option:
    """One setting: its TOML type, its default, and what it may be."""

    type: type | tuple[type, ...]
    default: Any = REQUIRED
    choices: tuple[str, ...] = ()
    path: bool = False  # resolved against the config file's folder
    email: bool = False
    item_type: type | None = None  # for lists

    @property
    def type_name(self) -> str:
        names = {str: "text", int: "a whole number", bool: "true or false", list: "a list",
                 dict: "a table", float: "a number"}
        types = self.type if isinstance(self.type, tuple) else (self.type,)
        return " or ".join(names.get(t, t.__name__) for t in types)


SECTIONS: dict[str, dict[str, Option]] = {
    "network": {
        "name": Option(str, "Les Petites Cantines"),
        "coordinator_name": Option(str, "La coordination"),
        "coordinator_email": Option(str, email=True),
        "sender": Option(str, email=True),
        "sender_name": Option(str, "Réseau des Petites Cantines"),
        "reply_to": Option(str, "", email=True),
        "signature": Option(str, ""),
        "timezone": Option(str, "Europe/Paris"),
        "unsubscribe_url": Option(str, ""),
        # the association that signs the network's bilans (empty: « À compléter » in the drafts)
        "association": Option(str, ""),
        "siret": Option(str, ""),
        "address": Option(str, ""),
        "signatory": Option(str, ""),
    },
    "tables": {
        "backend": Option(str, "workbook", choices=("workbook", "airtable", "sheets")),
        "schema": Option(str, "schema.toml", path=True),
        "bindings": Option(dict, {}),
        # this base's own names for the tables, columns and choices (README: « Use your existing base »)
        "mapping": Option(str, "", path=True),
    },
    "workbook": {
        "path": Option(str, "", path=True),
    },
    "sheets": {
        "spreadsheet": Option(str, ""),
        "timeout_seconds": Option(int, 60),
    },
    "airtable": {
        "base_id": Option(str, ""),
        "timeout_seconds": Option(int, 60),
        # Airtable's limit per base; lower it when another tool (Zapier, a script) uses the same base
        "requests_per_second": Option(int, 5),
    },
    "state": {
        "backend": Option(str, "auto", choices=("auto", "sqlite", "postgresql")),
        "path": Option(str, "state.sqlite", path=True),
    },
    "mail": {
        "backend": Option(str, "outbox", choices=("outbox", "smtp", "sendgrid")),
        "outbox_dir": Option(str, "outbox", path=True),
        "timeout_seconds": Option(int, 30),
        "sendgrid_sandbox": Option(bool, False),
        # No wait or new message starts after this many seconds of delivery; the rest stay pending.
        "delivery_budget_seconds": Option(int, 300),
    },
    "reminders": {
        "rules": Option(str, "reminders.toml", path=True),
        "catch_up_days": Option(int, 14),
    },
    "digests": {
        "enabled": Option(bool, True),
        "weekday": Option(str, "lundi"),
        "hour": Option(int, 8),
    },
    "reports": {
        "enabled": Option(bool, True),
        "horizon_days": Option(int, 45),
        "drafts_dir": Option(str, "drafts", path=True),
        # a budget line whose actual amount differs from the planned one by more than this share is
        # listed in the compte rendu financier for the cantine to explain
        "gap_threshold_percent": Option(int, 15),
    },
    "aides_territoires": {
        "config": Option(str, "aides_territoires.toml", path=True),
        "match_unqualified": Option(bool, False),
        "network_only": Option(bool, True),
        "import_days": Option(str, "daily"),
        "import_at": Option(str, "06:30"),
    },
    "hotline": {  # the hotline mailbox, read when IMAP_URL is set
        "lookback_days": Option(int, 14),  # messages received since then are read (older ones were already)
        "staff_addresses": Option(list, []),  # besides the coordinator: whose replies answer a question
        "acknowledge": Option(bool, True),  # an acknowledgement to each new question's sender
        "every_hours": Option(int, 1),  # the worker reads the mailbox this often
        "ca_file": Option(str, "", path=True),  # a private CA's certificate, for a self-hosted mail server
    },
    "worker": {
        "cycle_days": Option(str, "weekdays"),
        "cycle_at": Option(str, "07:30"),
        "lock_wait_seconds": Option(int, 60),
    },
    "quotas": {  # each plan's budget; 0: none. Airtable Free 1,000 calls a month per workspace, Team 100,000
        "airtable_calls_per_month": Option(int, 0),
        "sheets_calls_per_month": Option(int, 0),
        "sendgrid_emails_per_day": Option(int, 0),  # SendGrid's free plan: 100
    },
    "matching": {
        "min_days_to_prepare": Option(int, 10),
        "threshold": Option(int, 50),
        "collective_min_cantines": Option(int, 3),
        "refusal_memory_days": Option(int, 365),
        "weights": Option(dict, {}),
    },
    "envois": {
        "retention_days": Option(int, 180),
    },
    "paths": {
        "templates": Option(str, "../templates", path=True),
        "reference": Option(str, "departements.csv", path=True),
    },
}

# Checks that need several options, or the environment: each returns problem lines.
CrossCheck = Callable[[dict[str, dict[str, Any]], Mapping[str, str]], list[str]]
CROSS_CHECKS: list[CrossCheck] = []


def cross_check(func: CrossCheck) -> CrossCheck:
    CROSS_CHECKS.append(func)
    return func


@cross_check
def _hotline_mailbox(values: dict[str, dict[str, Any]], environ: Mapping[str, str]) -> list[str]:
    problems = []
    if environ.get("IMAP_URL", "").strip():
        from connectors.mail.imap import parse_imap_url  # only then: the mail package loads every backend

        try:
            parse_imap_url(environ["IMAP_URL"])
        except ConfigurationError as exc:
            problems.extend(exc.problems)
    hotline = values["hotline"]
    if hotline["lookback_days"] < 1:
        problems.append("[hotline] lookback_days: expected a number of days ≥ 1")
    if not 1 <= hotline["every_hours"] <= 24:
        problems.append("[hotline] every_hours: expected 1 to 24")
    return problems


@cross_check
def _gap_threshold(values: dict[str, dict[str, Any]], environ: Mapping[str, str]) -> list[str]:
    if not 1 <= values["reports"]["gap_threshold_percent"] <= 100:
        return ["[reports] gap_threshold_percent: expected a percentage from 1 to 100"]
    return []


@cross_check
def _state_needs_database(values: dict[str, dict[str, Any]], environ: Mapping[str, str]) -> list[str]:
    if values["state"]["backend"] == "postgresql" and database_url(environ) is None:
        return ["[state] backend = 'postgresql' needs the DATABASE_URL environment variable"]
    return []


MAIL_SECRETS = {"smtp": "SMTP_URL", "sendgrid": "SENDGRID_API_KEY"}


def _backends_used(values: dict[str, dict[str, Any]]) -> set[str]:
    tables = values["tables"]
    return {tables["backend"], *tables["bindings"].values()}


@cross_check
def _table_backends_need_their_settings(values: dict[str, dict[str, Any]], environ: Mapping[str, str]) -> list[str]:
    problems = []
    used = _backends_used(values)
    if "airtable" in used:
        if not environ.get("AIRTABLE_TOKEN", "").strip():
            problems.append("tables in Airtable need the AIRTABLE_TOKEN environment variable (a personal access token)")
        if not (values["airtable"]["base_id"] or environ.get("AIRTABLE_BASE_ID", "").strip()):
            problems.append("tables in Airtable need [airtable] base_id or the AIRTABLE_BASE_ID environment variable")
    pace = values["airtable"]["requests_per_second"]
    if "airtable" in used and pace < 1:
        problems.append("[airtable] requests_per_second: at least 1 (Airtable allows 5 per base)")
    if "airtable" in used and pace > 5 and not environ.get("AIRTABLE_ENDPOINT_URL", "").strip():
        problems.append("[airtable] requests_per_second: at most 5, Airtable's limit (beyond, it refuses the "
                        "base for 30 s); more only for an Airtable-compatible endpoint (AIRTABLE_ENDPOINT_URL)")
    if "workbook" in used and not values["workbook"]["path"]:
        problems.append("[workbook] path: missing (required when a table is in the workbook)")
    if "sheets" in used and not values["sheets"]["spreadsheet"]:
        problems.append("[sheets] spreadsheet: missing (the key of the hub's Google spreadsheet, in its URL)")
    key = values["sheets"]["spreadsheet"]
    if key and ("/" in key or " " in key):
        problems.append("[sheets] spreadsheet: give the key in the spreadsheet's URL (between /d/ and /edit), "
                        "not the URL itself")
    return problems


@cross_check
def _mail_needs_its_secret(values: dict[str, dict[str, Any]], environ: Mapping[str, str]) -> list[str]:
    backend = values["mail"]["backend"]
    variable = MAIL_SECRETS.get(backend)
    if variable and not environ.get(variable, "").strip():
        return [f"[mail] backend = '{backend}' needs the {variable} environment variable"]
    if backend == "smtp":
        from connectors.mail.smtp import parse_smtp_url

        try:
            parse_smtp_url(environ["SMTP_URL"])
        except ConfigurationError as exc:
            return exc.problems
    return []


@cross_check
def _timezone_exists(values: dict[str, dict[str, Any]], environ: Mapping[str, str]) -> list[str]:
    name = values["network"]["timezone"]
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return [f"[network] timezone: unknown time zone '{name}' (e.g. 'Europe/Paris')"]
    return []


@cross_check
def _unsubscribe_url(values: dict[str, dict[str, Any]], environ: Mapping[str, str]) -> list[str]:
    url = values["network"]["unsubscribe_url"]
    if url and (not url.startswith("https://") or any(c.isspace() for c in url) or not url.isascii()):
        return [f"[network] unsubscribe_url: '{url}' must be an https:// URL (ASCII, no spaces)"]
    return []


@cross_check
def _digest_day(values: dict[str, dict[str, Any]], environ: Mapping[str, str]) -> list[str]:
    from automations.domain.weekdays import WEEKDAYS

    digests = values["digests"]
    problems = []
    if digests["weekday"].strip().lower() not in WEEKDAYS:
        problems.append(f"[digests] weekday: '{digests['weekday']}' is not a day (e.g. 'lundi' or 'monday')")
    if not 0 <= digests["hour"] <= 23:
        problems.append(f"[digests] hour: expected 0 to 23, got {digests['hour']}")
    return problems


@cross_check
def _worker_times(values: dict[str, dict[str, Any]], environ: Mapping[str, str]) -> list[str]:
    from automations.settings.days import parse_days, parse_time

    worker = values["worker"]
    problems = []
    for section, days, at in (("worker", "cycle_days", "cycle_at"), ("aides_territoires", "import_days", "import_at")):
        try:
            parse_days(values[section][days])
        except ValueError as exc:
            problems.append(f"[{section}] {days}: {exc}")
        try:
            parse_time(values[section][at])
        except ValueError:
            problems.append(f"[{section}] {at}: '{values[section][at]}' is not a time (e.g. '07:30')")
    if worker["lock_wait_seconds"] < 0:
        problems.append("[worker] lock_wait_seconds: expected a number of seconds ≥ 0")
    return problems


@cross_check
def _envois_retention(values: dict[str, dict[str, Any]], environ: Mapping[str, str]) -> list[str]:
    days = values["envois"]["retention_days"]
    return [] if days >= 1 else [f"[envois] retention_days: expected a number of days ≥ 1, got {days}"]


@cross_check
def _quotas(values: dict[str, dict[str, Any]], environ: Mapping[str, str]) -> list[str]:
    return [f"[quotas] {key}: expected a whole number ≥ 0, got {value}"
            for key, value in values["quotas"].items() if value < 0]


@cross_check
def _matching_weights(values: dict[str, dict[str, Any]], environ: Mapping[str, str]) -> list[str]:
    from automations.domain.matching import DEFAULT_WEIGHTS  # the criteria live with the matching code

    problems = []
    for name, weight in values["matching"]["weights"].items():
        if name not in DEFAULT_WEIGHTS:
            problems.append(
                f"[matching.weights] unknown criterion '{name}' (expected one of {', '.join(DEFAULT_WEIGHTS)})"
            )
        elif not isinstance(weight, int) or isinstance(weight, bool) or weight < 0:
            problems.append(f"[matching.weights] {name}: expected a whole number ≥ 0, got {weight!r}")
    matching = values["matching"]
    for key in ("min_days_to_prepare", "collective_min_cantines", "refusal_memory_days"):
        if matching[key] < 0:
            problems.append(f"[matching] {key}: expected a whole number ≥ 0, got {matching[key]}")
    if not 0 <= matching["threshold"] <= 100:
        problems.append(f"[matching] threshold: expected a score from 0 to 100, got {matching['threshold']}")
    return problems


# Domains reserved for examples (RFC 2606, RFC 6761): nobody reads mail there.
EXAMPLE_DOMAIN = re.compile(r"(^|\.)(example\.(org|com|net)|example|test|invalid|localhost)$", flags=re.IGNORECASE)
PLACEHOLDER_BASE = re.compile(r"app[Xx]{6,}")


def placeholder_problems(settings: Settings) -> list[str]:
    """The values of config/example.toml left as they were in a deployment that talks to real services
    (Airtable, Google Sheets, SMTP, SendGrid): `cantines check` refuses them, in French."""
    network, used = settings.network, {settings.tables.backend, *settings.tables.bindings.values()}
    real = bool(used & {"airtable", "sheets"}) or settings.mail.backend in ("smtp", "sendgrid")
    if not real:
        return []  # the demo: a local workbook and an outbox folder, example addresses are fine
    problems = []
    base = settings.secrets.get("AIRTABLE_BASE_ID") or settings.airtable.base_id
    if "airtable" in used and base and PLACEHOLDER_BASE.fullmatch(base):
        problems.append(
            f"[airtable] base_id : « {base} » est l'exemple de config/example.toml ; mettez l'identifiant de "
            "votre base (app… suivi de 14 caractères, dans l'adresse de la base) ou AIRTABLE_BASE_ID"
        )
    sheet = settings.sheets.spreadsheet
    if sheet and ("…" in sheet or "..." in sheet or sheet.startswith("1AbCdEf")):
        problems.append(f"[sheets] spreadsheet : « {sheet} » est l'exemple ; mettez la clé de votre classeur")
    for key in ("coordinator_email", "sender", "reply_to"):
        address = network[key]
        if address and EXAMPLE_DOMAIN.search(address.rpartition("@")[2]):
            problems.append(
                f"[network] {key} : « {address} » est une adresse d'exemple ; mettez une vraie adresse "
                "(les emails n'arriveraient à personne)"
            )
    return problems


def database_url(environ: Mapping[str, str]) -> str | None:
    """The PostgreSQL URL the platform gave, if any (Heroku, Scalingo, Clever Cloud names)."""
    for name in ENV_DATABASE_URLS:
        if environ.get(name, "").strip():
            return environ[name].strip()
    return None


class Section(Mapping[str, Any]):
    """The validated options of one section, readable as attributes (`settings.mail.backend`)."""

    def __init__(self, name: str, values: Mapping[str, Any]):
        self._name = name
        self._values = dict(values)

    def __getattr__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(f"[{self._name}] has no option '{key}'") from None

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


@dataclass(frozen=True)
class Secrets:
    """Values from the environment; never printed (the repr hides them)."""

    values: Mapping[str, str] = field(default_factory=dict)
    masked: tuple[str, ...] = ()  # every secret value of the environment, and its parts (secrets.py)

    def get(self, name: str) -> str | None:
        return self.values.get(name) or None

    def mask(self, text: str) -> str:
        """`text` with every secret of the environment replaced by ***: for anything printed or
        written where people read it (an API may echo a token back in its error)."""
        return mask(text, self.masked)

    def __repr__(self) -> str:
        return f"Secrets({', '.join(sorted(self.values))})"


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know, checked."""

    path: Path
    sections: Mapping[str, Section]
    schema: Schema
    reference: Reference
    secrets: Secrets
    rules: tuple[Rule, ...] = ()
    syncs: tuple[SyncDeclaration, ...] = ()
    # the base's own names (identity without a mapping file); `schema` is the shipped one, each table
    # named as in the base: what the worker's code reads
    names: BaseNames | None = None

    @property
    def base(self) -> BaseNames:
        return self.names if self.names is not None else BaseNames(self.schema)

    def features_off(self) -> dict[str, str]:
        """The features this base cannot have (a table or a column it lacks), and why, in French."""
        from automations.domain.needs import features_off

        from automations.domain.model import DOMAIN_TABLES

        base = self.base
        # a table the deployment's schema file does not declare (a copy older than the table) is absent
        undeclared = {code for code in DOMAIN_TABLES if code not in self.schema}
        return features_off(base.absent_tables() | undeclared, base.unmapped(),
                            lambda code: base.table_name(code) if code in self.schema else code)

    def __getattr__(self, name: str) -> Section:
        sections = object.__getattribute__(self, "sections")
        if name in sections:
            return sections[name]
        raise AttributeError(name)

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.sections["network"]["timezone"])

    @property
    def database_url(self) -> str | None:
        return self.secrets.get("DATABASE_URL")

    def backend_for(self, table: str) -> str:
        """Which table backend holds the table with code name `table`."""
        return self.sections["tables"]["bindings"].get(table, self.sections["tables"]["backend"])


def _check_value(where: str, option: Option, value: Any, base: Path) -> tuple[Any, list[str]]:
    types = option.type if isinstance(option.type, tuple) else (option.type,)
    if isinstance(value, bool) and bool not in types or not isinstance(value, types):
        return None, [f"{where}: expected {option.type_name}, got {type(value).__name__} {value!r}"]
    if option.choices and value not in option.choices:
        return None, [f"{where}: '{value}' is not one of {', '.join(option.choices)}"]
    if option.item_type is not None:
        bad = [v for v in value if not isinstance(v, option.item_type) or isinstance(v, bool)]
        if bad:
            return None, [f"{where}: every item must be {Option(option.item_type).type_name}, got {bad!r}"]
    if option.email and value:
        try:
            validate_email(value, check_deliverability=False)
        except EmailNotValidError as exc:
            return None, [f"{where}: '{value}' is not a valid email address ({exc})"]
    if option.path:
        value = (base / value).resolve() if value else None
    return value, []


def load_settings(path: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> Settings:
    """Read, check and resolve the settings; raise ConfigurationError listing every problem."""
    config_path = Path(path) if path else DEFAULT_CONFIG
    try:
        raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"configuration file not found: {config_path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{config_path}: invalid TOML: {exc}") from None
    base = config_path.resolve().parent
    problems: list[str] = []
    values: dict[str, dict[str, Any]] = {}
    for section in sorted(set(raw) - set(SECTIONS) - {"syncs"}):
        problems.append(f"unknown section [{section}]{_suggest(section, SECTIONS)}")
    for name, options in SECTIONS.items():
        given = raw.get(name, {})
        if not isinstance(given, dict):
            problems.append(f"[{name}] must be a table of options")
            given = {}
        for key in sorted(set(given) - set(options)):
            problems.append(f"[{name}] unknown key '{key}'{_suggest(key, options)}")
        resolved: dict[str, Any] = {}
        for key, option in options.items():
            where = f"[{name}] {key}"
            if key not in given:
                if option.default is REQUIRED:
                    problems.append(f"{where}: missing (required)")
                    continue
                value = option.default
                if option.path and value:
                    value = (base / value).resolve()
                resolved[key] = value
                continue
            value, found = _check_value(where, option, given[key], base)
            problems.extend(found)
            resolved[key] = value
        values[name] = resolved
    if problems:
        raise ConfigurationError(problems)
    for check in CROSS_CHECKS:
        problems.extend(check(values, environ))
    schema = reference = None
    names: BaseNames | None = None
    try:
        schema = load_schema(values["tables"]["schema"])
    except ConfigurationError as exc:
        problems.extend(exc.problems)
    if schema is not None:
        names = BaseNames(schema)
        if values["tables"]["mapping"]:
            try:
                names = load_mapping(values["tables"]["mapping"], schema)
            except ConfigurationError as exc:
                problems.extend(f"[tables] mapping: {p}" for p in exc.problems)
        schema = names.domain_schema()
    try:
        reference = load_reference(values["paths"]["reference"])
    except ConfigurationError as exc:
        problems.extend(exc.problems)
    syncs: list[SyncDeclaration] = []
    if schema is not None:
        syncs, found = check_syncs(raw.get("syncs"), schema, base)
        problems.extend(found)
        for table, backend in values["tables"]["bindings"].items():
            if table not in schema:
                problems.append(f"[tables.bindings] unknown table '{table}'{_suggest(table, schema)}")
            if backend not in SECTIONS["tables"]["backend"].choices:
                choices = ", ".join(SECTIONS["tables"]["backend"].choices)
                problems.append(f"[tables.bindings] {table}: '{backend}' is not one of {choices}")
    uses_sheets = "sheets" in {values["tables"]["backend"], *values["tables"]["bindings"].values()} or any(
        d.source.spreadsheet or d.target.spreadsheet for d in syncs
    )
    if uses_sheets and not environ.get("GOOGLE_SERVICE_ACCOUNT_JSON", "").strip():
        problems.append("Google Sheets need the GOOGLE_SERVICE_ACCOUNT_JSON environment variable "
                        "(the service account's JSON key, or its base64)")
    templates = values["paths"]["templates"]
    rules: tuple[Rule, ...] = ()
    if not Path(templates).is_dir():
        problems.append(f"[paths] templates: folder not found: {templates}")
    else:
        try:
            rules = load_rules(values["reminders"]["rules"], Path(templates))
        except ConfigurationError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigurationError(problems)
    secrets = {}
    url = database_url(environ)
    if url is not None and values["state"]["backend"] != "sqlite":
        secrets["DATABASE_URL"] = url
    for name in ENV_SECRETS:
        if environ.get(name, "").strip():
            secrets[name] = environ[name].strip()
    assert schema is not None and reference is not None
    settings = Settings(
        path=config_path.resolve(),
        sections={name: Section(name, opts) for name, opts in values.items()},
        schema=schema,
        reference=reference,
        secrets=Secrets(secrets, masked=tuple(secret_values(environ))),
        rules=rules,
        syncs=tuple(syncs),
        names=names,
    )
    if secrets.get("AIDES_TERRITOIRES_TOKEN"):  # the import will run: its table must be right
        load_import_config(settings)
    return settings


def _suggest(word: str, known: Mapping[str, Any] | Any) -> str:
    close = difflib.get_close_matches(word, list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def load_import_config(settings: Settings) -> ImportConfig:
    """config/aides_territoires.toml, checked against the schema's Thématiques and the départements."""
    path = settings.aides_territoires.config
    data = read_toml(path, "[aides_territoires] config: file")
    themes = settings.schema["opportunites"].column("Thématiques").choices
    return import_config(data, theme_choices=themes, reference=settings.reference, source=path.name)
