"""One cycle: load, parse, compute, write back, queue and send, report. `cantines run` and the
scheduled worker both call `run_cycle`; every step takes `today` so any run can be replayed."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from connectors.errors import BackendError, CantinesError, ConfigurationError, InvalidValueError, SchemaError, StopRequested
from connectors.mail import DeliveryError, MailBackend, OutboxBackend, OutgoingMessage, build_message
from connectors.mail.message import WIRE
from connectors.state import StateStore
from connectors.tables.base import Row, Table

from connectors.aides_territoires import AidesTerritoiresClient

from automations.cycle.aides_import import SYNC_NAME as AIDES_SYNC
from automations.cycle.aides_import import ImportResult, import_aides
from automations.cycle.backends import calls_made, ensure_tables, hub_batch, open_mail, open_state, open_state_if_present, open_sync_side, open_tables
from automations.cycle.backends import hub_flush, hub_release, open_workbook_problems, paced_requests
from automations.domain.matching import ACTIVE, NO_LONGER, CollectiveSuggestion, Match, Matcher, MatchingRules, collective_suggestions
from automations.domain.digests import cantine_digests, coordinator_digest, digest_day
from automations.domain.weekdays import WEEKDAYS
from automations.domain.french import pluriel
from automations.cycle.draft_delivery import prepare_drafts
from automations.cycle.events import event_mail
from automations.domain.events import community_summary, event_messages
from automations.cycle.hotline import HotlineResult, hotline_enabled, read_hotline
from automations.cycle.envois import EnvoisStep, read_envois, relaunch, to_handle, write_envois
from automations.domain.envois import Envoi
from automations.cycle.drafts import gap_threshold, network_identity
from automations.cycle.messages import Network, coordinator_digest_key, digest_key, digest_messages, reminder_messages
from automations.domain import needs
from automations.domain.checks import funding_checks
from automations.cycle.quotas import budget_note, emails_left_today, last_calls, mail_limit_note, recent_notes, record_calls
from automations.domain.model import DOMAIN_TABLES, DataProblem, Dataset, parse_dataset
from automations.domain.needs import missing_for, reminder_needs
from automations.domain.offers import OfferProposal, propose_offers
from automations.domain.parsing import clip
from automations.domain.reminders import due_reminders
from automations.cycle.render import Renderer
from automations.domain.reports import build_drafts
from automations.settings import Settings
from automations.cycle.sync import SyncResult, read_once, run_sync
from automations.settings.syncs import SyncDeclaration
from automations.cycle.writeback import WriteCounts, replace_rows, upsert_results, write_tolerantly

log = logging.getLogger(__name__)

# Tables of optional features (community life): a deployment without them has the feature off.
OPTIONAL_TABLES = frozenset({"evenements", "inscriptions", "budgets"})

WORKER_TABLES = ("correspondances", "suggestions", "journal", "problemes", "envois")
# What a cycle does besides reading, checking and journaling: the scheduled worker runs the
# reminders and the digests as separate jobs; `cantines run` does everything.
SYNC, AIDES, MATCHING, REMINDERS, DIGESTS, DRAFTS = "sync", "aides", "matching", "reminders", "digests", "drafts"
HOTLINE = "hotline"
ALL_PARTS = frozenset({SYNC, AIDES, MATCHING, REMINDERS, DIGESTS, DRAFTS, HOTLINE})
OPTIONAL = frozenset({SYNC, AIDES, HOTLINE})  # jobs of these parts only wait when the API budget is short


class Stopped(StopRequested):
    """The worker was asked to stop (SIGTERM): no new step starts."""

OK, WARNINGS, FAILED = "OK", "Avertissements", "Échec"
# Not a completed run: the next one covers the same days again (reminders, catch-up at start-up).
INCOMPLETE, INTERRUPTED = "Incomplet", "Interrompu"


@dataclass
class RunReport:
    """What one cycle did, for the summary, the Journal tab and the state store."""

    today: dt.date
    started_at: dt.datetime
    dry_run: bool = False
    finished_at: dt.datetime | None = None
    rows_read: int = 0
    rows_written: int = 0
    reminders: int = 0
    digests: int = 0
    queued: int = 0
    already_queued: int = 0
    sent: int = 0
    send_failures: int = 0
    deferred: int = 0  # pending messages not tried: the run's delivery time was up
    pending: int = 0
    held: int = 0  # held by this run (interrupted sends)
    held_total: int = 0
    syncs: list[SyncResult] = field(default_factory=list)
    aides: ImportResult | None = None
    aides_note: str | None = None  # why the Aides-territoires import did not run
    hotline: HotlineResult | None = None
    features_off: list[str] = field(default_factory=list)  # optional tables a deployment does not have
    off: frozenset[str] | None = None  # keys of the features (needs.FEATURES) this base cannot have
    drafts: int = 0
    draft_files: list[Path] = field(default_factory=list)
    problems: list[DataProblem] = field(default_factory=list)
    checks: list[DataProblem] = field(default_factory=list)  # the subsidy checks (also in `problems`)
    errors: list[str] = field(default_factory=list)
    messages: list[OutgoingMessage] = field(default_factory=list)
    matches: list[Match] = field(default_factory=list)
    matching_waits: bool = False  # matching could not run on complete data: `matches` says nothing
    new_matches: int = 0
    suggestions: list[CollectiveSuggestion] = field(default_factory=list)
    offer_proposals: list[OfferProposal] = field(default_factory=list)
    to_handle: list[Envoi] = field(default_factory=list)  # messages held or refused, for the coordinator
    relaunched: int = 0  # messages put back in the queue from the Envois table
    envois: EnvoisStep | None = field(default=None, repr=False)  # the Envois table as read, written at the end
    fatal: bool = False
    incomplete: bool = False  # a table the run needs could not be read, or lacks a column
    postponed: list[str] = field(default_factory=list)  # what waits for a complete run, and why (French)
    skipped: str | None = None  # why the cycle did nothing (already done by another worker)
    quota_note: str | None = None  # why optional work waited for the API budget
    over_limit: int = 0  # pending messages left for the next day: the day's SendGrid limit is reached
    mail_note: str | None = None  # the same, said in French
    calls: dict[str, int] = field(default_factory=dict)  # API calls made, by provider
    stopped: bool = False

    @property
    def result(self) -> str:
        if self.fatal:
            return FAILED
        if self.stopped:
            return INTERRUPTED
        if self.incomplete:
            return INCOMPLETE
        return WARNINGS if self.problems or self.errors or self.send_failures else OK

    @property
    def counts(self) -> dict[str, int]:
        return {
            "lu": self.rows_read, "ecrit": self.rows_written, "rappels": self.reminders, "recapitulatifs": self.digests,
            "mis_en_file": self.queued, "envoyes": self.sent, "echecs_envoi": self.send_failures,
            "non_tentes": self.deferred, "reportes_quota": self.over_limit,
            "en_attente": self.pending, "brouillons": self.drafts, "problemes": len(self.problems),
            "correspondances": len(self.matches), "nouvelles_correspondances": self.new_matches,
            "suggestions_collectives": len(self.suggestions), "offres_proposees": len(self.offer_proposals),
        } | {f"appels_{provider}": n for provider, n in self.calls.items()}


def read_tables(tables: dict[str, Table], report: RunReport) -> dict[str, list[Row]]:
    """Read every staff table; one that cannot be read is reported and left out, the rest go on."""
    rows: dict[str, list[Row]] = {}
    for code in DOMAIN_TABLES:
        table = tables.get(code)
        if table is not None and (read := read_table(table, report)) is not None:
            rows[code] = read
    return rows


def read_table(table: Table, report: RunReport) -> list[Row] | None:
    """One staff table's rows; None (and said in the report) if it cannot be read."""
    try:
        return table.read()
    except ConfigurationError:
        raise  # the hub itself cannot be reached (no such workbook, spreadsheet not shared): said once
    except SchemaError as exc:
        if table.spec.code in OPTIONAL_TABLES:  # a feature's table the deployment has not created yet: the feature is off
            report.features_off.append(f"{table.spec.name} : table absente, fonctionnalité désactivée "
                                       "(`cantines init` la crée)")
            return []
        report.errors.append(f"{table.spec.name} : lecture impossible : {exc}")
        report.incomplete = True
        report.problems.append(DataProblem(
            table.spec.name, "onglet entier", "", "",
            f"{exc} : ce qui en dépend attend que la table soit rétablie (rien n'est calculé sans elle)",
        ))
        log.info("cannot read table %s: %s", table.spec.name, exc)
    except BackendError as exc:
        report.errors.append(f"{table.spec.name} : lecture impossible : {exc}")
        report.incomplete = True
        log.info("cannot read table %s: %s", table.spec.name, exc)  # reported in the summary
    return None


class ReadAhead(Mapping[str, list[Row]]):
    """The staff tables read one after the other, in the order they are parsed, by a thread: on
    Airtable each page waits for the rate (5 requests a second) while the CPU would be idle, so the
    tables already read are parsed meanwhile. A mapping of the tables read, whose lookups wait for
    the table asked; `missing` gives the (required) columns each lacks. The thread works on a report
    of its own, merged by `finish`, which also raises what the thread raised (a hub that cannot be
    reached); so does the lookup of a table after it."""

    def __init__(self, tables: dict[str, Table], report: RunReport, should_stop: Callable[[], bool] = lambda: False):
        self._tables = tables
        self._cancel = threading.Event()
        self._should_stop = should_stop
        self._ready = {code: threading.Event() for code in DOMAIN_TABLES if tables.get(code) is not None}
        self._rows: dict[str, list[Row]] = {}
        self._own = RunReport(today=report.today, started_at=report.started_at)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._read, name="read-ahead", daemon=True)
        self._thread.start()
        self.missing: Mapping[str, tuple[str, ...]] = _Missing(self)

    def _read(self) -> None:
        try:
            for code in self._ready:
                if self._cancel.is_set() or self._should_stop():  # between two tables, never within one
                    raise Stopped("arrêt demandé pendant la lecture des tables")
                rows = read_table(self._tables[code], self._own)
                if rows is not None:
                    self._rows[code] = rows
                self._ready[code].set()
        except BaseException as exc:  # raised again in the run's thread
            self._error = exc
        finally:
            for ready in self._ready.values():
                ready.set()

    def _wait(self, code: str | None = None) -> None:
        if code is None:
            self._thread.join()
        elif code in self._ready:
            self._ready[code].wait()
        if self._error is not None:
            raise self._error

    def __getitem__(self, code: str) -> list[Row]:
        self._wait(code)
        return self._rows[code]

    def __iter__(self) -> Iterator[str]:
        self._wait()
        return iter(list(self._rows))

    def __len__(self) -> int:
        self._wait()
        return len(self._rows)

    def abandon(self, report: RunReport, raising: BaseException) -> None:
        """The run ends early (`raising`): the reads stop before the next table; what they said is
        kept, and what the thread raised, unless it is what the run raises (said by the run)."""
        self._cancel.set()
        try:
            self.finish(report)
        except BaseException as exc:  # the run's own error goes on
            if exc is not raising and not isinstance(exc, StopRequested):
                report.errors.append(str(exc))

    def finish(self, report: RunReport) -> None:
        """Wait for every read, merge what the thread said into `report`, raise its error."""
        self._thread.join()
        own = self._own
        report.errors.extend(own.errors)
        report.problems.extend(own.problems)
        report.features_off.extend(own.features_off)
        report.incomplete = report.incomplete or own.incomplete
        if self._error is not None:
            raise self._error


class _Missing(Mapping[str, tuple[str, ...]]):
    """The required columns each table read lacks, known once it is read."""

    def __init__(self, reading: ReadAhead):
        self._reading = reading

    def __getitem__(self, code: str) -> tuple[str, ...]:
        if code not in self._reading:  # waits for the table
            raise KeyError(code)
        return required_missing(self._reading._tables[code])

    def __iter__(self) -> Iterator[str]:
        return iter(self._reading)

    def __len__(self) -> int:
        return len(self._reading)


def required_missing(table: Table) -> tuple[str, ...]:
    """The columns of `table`'s schema it was read without (deleted, renamed) that are not optional."""
    return tuple(c for c in table.absent_columns() if not table.spec.column(c).optional)


def switch_off(settings: Settings, report: RunReport) -> frozenset[str]:
    """The features this base cannot have (a table or a column it lacks), said once in the summary."""
    if report.off is None:
        off = settings.features_off()
        report.off = frozenset(off)
        report.features_off.extend(off.values())
    return report.off


def load(settings: Settings, tables: dict[str, Table], report: RunReport,
         should_stop: Callable[[], bool] = lambda: False) -> Dataset:
    """Read and parse the staff tables into a Dataset; problems go into the report. A table read
    without some of its columns makes the run incomplete, like a table not read."""
    switch_off(settings, report)
    rows: Mapping[str, list[Row]]
    if paced_requests(tables, DOMAIN_TABLES):  # parsed while the next tables are read
        reading = ReadAhead(tables, report, should_stop)
        try:
            dataset = parse_dataset(reading, settings.schema, settings.reference, settings.timezone, reading.missing)
        except BaseException as exc:
            reading.abandon(report, exc)
            raise
        reading.finish(report)
        rows = reading
    else:
        rows = read_tables(tables, report)
        dataset = parse_dataset(rows, settings.schema, settings.reference, settings.timezone,
                                {code: required_missing(tables[code]) for code in rows})
    absent, absent_optional = {}, {}
    for code in rows:
        spec = tables[code].spec
        gone = tables[code].absent_columns()
        if missing := required_missing(tables[code]):
            absent[code] = missing
        if optional := tuple(c for c in gone if spec.column(c).optional):
            absent_optional[code] = optional
    names = settings.base
    dataset.incomplete = {code: names.text(code, why) for code, why in dataset.incomplete.items()}
    # an optional column is absent too when this deployment's schema file does not declare it (a copy
    # older than the column) or its mapping says the base has none (`false`): a check then says « add
    # the column » once, instead of reading every row as unticked
    unmapped = settings.base.unmapped()
    for code, cls in DOMAIN_TABLES.items():
        declared = set(settings.schema[code].column_names) if code in settings.schema else set()
        lacking = [c for c in getattr(cls, "COLUMNS", {}) if c not in declared or c in unmapped.get(code, ())]
        if code in rows and lacking:
            absent_optional[code] = tuple(dict.fromkeys([*absent_optional.get(code, ()), *lacking]))
    dataset.absent_optional = absent_optional
    report.rows_read = dataset.rows_read
    report.problems.extend(dataset.problems)
    if absent:
        report.incomplete = True
    report.problems.extend(open_workbook_problems(tables))
    if "checks" not in switch_off(settings, report) and not waits(dataset, needs.CHECKS, "contrôles des subventions", report):
        # in the base's names now: the coordinator's digest lists them before the run's end
        report.checks = settings.base.problems(
            funding_checks(dataset, {code: spec.name for code, spec in settings.schema.items()}))
        report.problems.extend(report.checks)
    return dataset


def waits(dataset: Dataset, needs: Iterable[str], what: str, report: RunReport) -> bool:
    """Whether `what` must wait for a complete run (a table it needs is not read or lacks a column);
    if so, the summary and the Journal say so."""
    missing = missing_for(dataset, needs)
    if missing:
        report.postponed.append(f"{what} : en attente d'une lecture complète ({', '.join(missing)})")
    return bool(missing)


def run_syncs(settings: Settings, tables: dict[str, Table], state: StateStore, report: RunReport,
              after_save: list[Callable[[], None]] | None = None) -> None:
    """Every declared sync, each with its snapshot; one failing (a sheet not shared, a missing file)
    is reported and the others go on. Every side is opened first, so that each spreadsheet is read
    in one request for all its tabs; the hub's writes are sent together at the end (or, given
    `after_save`, by the cycle's own batch: the snapshots are then recorded by it, once saved)."""
    books: dict[str, Any] = {}
    opened: dict[tuple[int, Any], Any] = {}  # each tab read once for every sync of the run
    sides: list[tuple[SyncDeclaration, Table, Table] | tuple[SyncDeclaration, CantinesError]] = []
    for declaration in settings.syncs:
        try:
            source = open_sync_side(settings, declaration.source, declaration.source_spec, tables, books)
            target = open_sync_side(settings, declaration.target, declaration.target_spec, tables, books)
            sides.append((declaration, read_once(source, opened), read_once(target, opened)))
        except CantinesError as exc:
            sides.append((declaration, exc))
    snapshots: list[tuple[str, dict[str, dict[str, Any]]]] = []
    with hub_batch(tables):
        for entry in sides:
            declaration = entry[0]
            spec = declaration.spec
            try:
                if len(entry) == 2:
                    raise entry[1]  # type: ignore[misc]
                _, source, target = entry  # type: ignore[misc]
                if declaration.target.external:
                    target.ensure_schema()  # the worker's own tab in a cantine's sheet: created if missing
                result = run_sync(spec, source, target, state.load_snapshot(spec.name),
                                  source_label=declaration.source.label)
            except CantinesError as exc:
                report.errors.append(f"synchronisation « {spec.name} » impossible : {exc}")
                log.info("sync %s failed: %s", spec.name, exc)  # the summary and the journal report it
                continue
            snapshots.append((spec.name, result.snapshot))
            report.syncs.append(result)
            report.problems.extend(result.problems)
            report.rows_written += result.written
    for name, snapshot in snapshots:  # only once the writes they describe were sent
        record = lambda name=name, snapshot=snapshot: state.save_snapshot(name, snapshot)  # noqa: E731
        if after_save is None:
            record()
        else:
            after_save.append(record)


def run_aides_import(settings: Settings, tables: dict[str, Table], state: StateStore, today: dt.date,
                     report: RunReport, after_save: list[Callable[[], None]] | None = None) -> None:
    """The Aides-territoires import, when a token is set; a failing API is reported, the cycle goes on."""
    token = settings.secrets.get("AIDES_TERRITOIRES_TOKEN")
    if not token:
        report.aides_note = "désactivé (pas de jeton AIDES_TERRITOIRES_TOKEN)"
        return
    if "aides" in switch_off(settings, report):
        report.aides_note = "désactivé (cette base n'a pas ce qu'il lui faut : voir plus haut)"
        return
    options = {"base_url": settings.secrets.get("AIDES_TERRITOIRES_URL")} if settings.secrets.get("AIDES_TERRITOIRES_URL") else {}
    try:
        with AidesTerritoiresClient(token, **options) as client:
            result = import_aides(settings, tables, client, today, state.load_snapshot(AIDES_SYNC))
    except CantinesError as exc:
        report.errors.append(f"import Aides-territoires impossible : {exc}")
        log.info("aides-territoires import failed: %s", exc)
        return
    if result.sync is not None:
        snapshot = result.sync.snapshot
        record = lambda: state.save_snapshot(AIDES_SYNC, snapshot)  # noqa: E731
        if after_save is None:
            record()
        else:
            after_save.append(record)
        report.rows_written += result.sync.written
    report.aides = result
    report.problems.extend(result.problems)


def reminder_window_start(settings: Settings, state: StateStore | None, today: dt.date) -> dt.date:
    """The day after which reminders are due: the last completed run's day (so that a missed day
    is caught up), at most `catch_up_days` back; yesterday when there is no earlier run."""
    yesterday = today - dt.timedelta(days=1)
    last = state.last_completed_day("cycle", before=today) if state is not None else None
    if last is None:
        return yesterday
    return max(last, today - dt.timedelta(days=settings.reminders.catch_up_days))


def compute_messages(
    settings: Settings, dataset: Dataset, today: dt.date, report: RunReport, since: dt.date | None = None,
    parts: frozenset[str] = ALL_PARTS, queued: Callable[[list[str]], set[str]] | None = None,
    quota_notes: tuple[str, ...] = (),
) -> list[OutgoingMessage]:
    """Every message due in (since, today] (nothing is written). A digest whose key `queued` says is
    already in the outbox (a rerun) is counted, not rendered again."""
    renderer = Renderer(settings.paths.templates, settings.base)
    network = Network.from_settings(settings)
    since = since if since is not None else today - dt.timedelta(days=1)
    messages: list[OutgoingMessage] = []
    if REMINDERS in parts:
        off = switch_off(settings, report)
        rules = [r for r in settings.rules if f"reminders:{r.source}" not in off
                 and not waits(dataset, reminder_needs(r), f"rappels « {r.id} »", report)]
        reminders = due_reminders(rules, dataset, today, since)
        report.reminders = len(reminders)
        messages, problems = reminder_messages(reminders, dataset, network, renderer, today)
        report.problems.extend(problems)
    day = digest_day(today, WEEKDAYS[settings.digests.weekday.strip().lower()])
    if DIGESTS in parts and settings.digests.enabled and day is not None:
        digests = [] if "cantine_emails" in switch_off(settings, report) \
            or waits(dataset, needs.CANTINE_DIGESTS, "récapitulatifs des cantines", report) \
            else cantine_digests(dataset, report.matches, today, report.offer_proposals)
        coordinator = None if waits(dataset, needs.COORDINATOR_DIGEST, "récapitulatif de la coordination", report) \
            else replace(coordinator_digest(dataset, report.matches, report.suggestions, len(report.problems), today),
                         community=community_summary(dataset, today), quota_notes=quota_notes,
                         checks=tuple(report.checks))
        # a digest already queued this week is not rendered again (a rerun, the worker's catch-up)
        keys = [digest_key(d.cantine.name, day) for d in digests if d.cantine.manager_email]
        known = queued(keys + [coordinator_digest_key(day)] * (coordinator is not None)) if queued else set()
        digests = [d for d in digests if digest_key(d.cantine.name, day) not in known]
        coordinator = None if coordinator_digest_key(day) in known else coordinator
        digest_mail, problems = digest_messages(digests, coordinator, network, renderer, day, report.to_handle)
        report.digests = len(digest_mail) + len(known)
        report.already_queued += len(known)
        report.problems.extend(problems)
        messages.extend(digest_mail)
    return messages


@dataclass
class Matching:
    """What matching computed for one day (pure), ready to be written back."""

    matcher: Matcher | None  # None: matching waits for a complete run (nothing written, nothing marked)
    matches: list[Match]
    suggestions: list[CollectiveSuggestion]
    proposals: list[OfferProposal]


def compute_matching(settings: Settings, dataset: Dataset, today: dt.date, report: RunReport) -> Matching:
    """Matches, collective-application suggestions and partner-offer proposals for today."""
    rules = MatchingRules.from_settings(
        settings.matching, match_unqualified_imports=settings.aides_territoires.match_unqualified
    )
    off = switch_off(settings, report)
    proposals = [] if "offers" in off or waits(dataset, needs.OFFERS, "offres partenaires", report) \
        else propose_offers(dataset, today)
    if "matching" in off:  # this base cannot have it: nothing computed, nothing marked
        outcome = Matching(None, [], [], proposals)
    elif waits(dataset, needs.MATCHING, "correspondances et suggestions collectives", report):
        report.matching_waits = True
        outcome = Matching(None, [], [], proposals)
    else:
        matcher = Matcher(dataset, today, rules)
        matches = matcher.matches()
        outcome = Matching(matcher, matches, collective_suggestions(matches, rules), proposals)
    report.matches = outcome.matches
    report.suggestions = outcome.suggestions
    report.offer_proposals = outcome.proposals
    return outcome


def match_order(fields: Mapping[str, object]) -> tuple[Any, ...]:
    """Correspondances by opportunity (the nearest deadline first), best score first within each."""
    deadline = fields.get("Date limite")
    score = fields.get("Score")
    return (deadline if isinstance(deadline, dt.date) else dt.date.max, str(fields.get("Opportunité") or ""),
            -(score if isinstance(score, int) else 0), str(fields.get("Cantine") or ""))


def write_matching(settings: Settings, tables: dict[str, Table], outcome: Matching, today: dt.date, report: RunReport) -> None:
    """Correspondances and Suggestions collectives upserted (staff columns kept, nothing deleted);
    partner-offer proposals created as Déclinaisons."""
    matcher = outcome.matcher
    if matcher is None:  # matching waits: the rows staff see are left as they are
        if outcome.proposals:
            propose(tables["declinaisons"], outcome.proposals, report)
        return

    def stale_match(fields: Mapping[str, object]) -> dict[str, object]:
        opportunity = matcher.opportunities.get(str(fields.get("Opportunité") or ""))
        cantine = matcher.dataset.cantine(str(fields.get("Cantine") or ""))
        if opportunity is None or cantine is None:
            return {"État": NO_LONGER}
        state = matcher.pair_state(opportunity, cantine)
        return {"État": NO_LONGER if state == ACTIVE else state}  # ACTIVE but not wanted: score too low

    counts = upsert_results(
        tables["correspondances"],
        (
            {"Clé": m.key, "Opportunité": m.opportunity.title, "Cantine": m.cantine.name, "Score": m.score,
             "Raisons": m.reasons, "Date limite": m.opportunity.deadline, "État": ACTIVE, "Statut": "Proposée"}
            for m in outcome.matches
        ),
        settings.schema["correspondances"].key,
        staff_columns=("Statut", "Commentaire"), first_seen="Proposée le", updated="Mise à jour le",
        today=today, stale=stale_match,
    )
    report.new_matches = counts.created
    report.rows_written += counts.total
    report.problems.extend(counts.refused)
    sort_rows = getattr(tables["correspondances"], "sort_rows", None)  # a workbook: staff read it as a list
    if sort_rows is not None:
        sort_rows(match_order)

    def stale_suggestion(fields: Mapping[str, object]) -> dict[str, object]:
        opportunity = matcher.opportunities.get(str(fields.get("Opportunité") or ""))
        state = matcher.opportunity_state(opportunity) if opportunity is not None else NO_LONGER
        return {"État": NO_LONGER if state == ACTIVE else state}

    counts = upsert_results(
        tables["suggestions"],
        (
            {"Opportunité": s.opportunity.title, "Cantines": list(s.cantines), "Nombre de cantines": len(s.cantines),
             "Budget cumulé": s.combined_budget, "Date limite": s.opportunity.deadline, "État": ACTIVE}
            for s in outcome.suggestions
        ),
        settings.schema["suggestions"].key,
        staff_columns=("Commentaire",), first_seen="Proposée le", updated="Mise à jour le",
        today=today, stale=stale_suggestion,
    )
    report.rows_written += counts.total
    report.problems.extend(counts.refused)
    if outcome.proposals:
        propose(tables["declinaisons"], outcome.proposals, report)


MATCHING_TABLES = ("correspondances", "suggestions", "declinaisons")


class MatchingWriteBack:
    """The matching's write-back. When every write is a request of its own (Airtable, 5 a second),
    it is sent from a thread while the run renders, queues and sends its mail: the CPU would
    otherwise wait for the requests, then the requests for the CPU. Otherwise (a workbook, a
    spreadsheet: the writes are held for the hub's one save at the end) it is written at once,
    before the mail, as it always was.

    The thread works on a report of its own, merged by `finish`, which also raises what the thread
    raised (a write-back that failed fails the run; the mail has gone, once, and the next run writes
    what is missing). A stop asked (`should_stop`, or `abandon`) ends it before its next batch of
    writes: upserts by key, so the next run finishes the job."""

    def __init__(self, settings: Settings, tables: dict[str, Table], outcome: Matching, today: dt.date,
                 report: RunReport, should_stop: Callable[[], bool] = lambda: False):
        self._cancel = threading.Event()
        self.threaded = paced_requests(tables, MATCHING_TABLES)
        if self.threaded:
            stopped = lambda: self._cancel.is_set() or should_stop()  # noqa: E731
            tables = {**tables, **{code: StopBetweenWrites(tables[code], stopped) for code in MATCHING_TABLES if code in tables}}
        self._work = lambda own: refused_value(own, lambda: write_matching(settings, tables, outcome, today, own))
        self._own = RunReport(today=report.today, started_at=report.started_at,
                              offer_proposals=list(report.offer_proposals))
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        if self.threaded:
            self._thread = threading.Thread(target=self._run, name="matching-write-back", daemon=True)
            self._thread.start()
        else:
            self._run()

    def _run(self) -> None:
        try:
            self._work(self._own)
        except BaseException as exc:  # raised again by finish(), in the run's thread
            self._error = exc

    def _merge(self, report: RunReport) -> None:
        if self._thread is not None:
            self._thread.join()
        own = self._own
        report.new_matches += own.new_matches
        report.rows_written += own.rows_written
        report.offer_proposals = own.offer_proposals
        report.problems.extend(own.problems)
        report.errors.extend(own.errors)

    def finish(self, report: RunReport) -> None:
        """Wait for the write-back, merge what it did into `report`, raise its error."""
        self._merge(report)
        if self._error is not None:
            raise self._error

    def abandon(self, report: RunReport) -> None:
        """The run ends early (a stop, a failure): the write-back stops before its next batch; what it
        did is kept and what it raised is said (the run's own error goes on)."""
        self._cancel.set()
        self._merge(report)
        error = self._error
        if error is None or isinstance(error, StopRequested):
            return
        if isinstance(error, CantinesError):
            report.errors.append(f"écriture des correspondances interrompue : {error}")
            return
        log.error("the matching's write-back failed", exc_info=error)  # a bug: the run is a failure too
        report.fatal = True
        report.errors.append(f"{type(error).__name__}: {error}")


class StopBetweenWrites:
    """A table whose every write first checks for a stop (StopRequested): a write-back from a thread
    ends between two batches, never in the middle of one. Everything else goes to the table."""

    def __init__(self, table: Table, stopped: Callable[[], bool]):
        self._table = table
        self._stopped = stopped

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._table, name)
        if name not in ("create", "update", "upsert", "delete"):
            return attribute

        def write(*args: Any, **kwargs: Any) -> Any:
            if self._stopped():
                raise Stopped("arrêt demandé : écriture des correspondances interrompue entre deux lots")
            return attribute(*args, **kwargs)
        write.__self__ = self  # type: ignore[attr-defined]  # write_tolerantly reads the batch size there
        return write


def propose(declinaisons: Table, proposals: list[OfferProposal], report: RunReport) -> None:
    """Create the Déclinaisons of the offers proposed, never for a pair the table already has (even a
    row skipped for a data problem: its place is taken), never when the table cannot be read."""
    try:
        existing = {(str(r.fields.get("Offre")), str(r.fields.get("Cantine"))) for r in declinaisons.read(["Offre", "Cantine"])}
    except BackendError as exc:
        report.errors.append(f"{declinaisons.spec.name} : lecture impossible, aucune offre proposée : {exc}")
        report.offer_proposals = []
        return
    fresh = [p for p in proposals if (p.offer.name, p.cantine.name) not in existing]
    report.offer_proposals = fresh
    counts = WriteCounts()
    created = write_tolerantly(
        declinaisons.create,
        [{"Offre": p.offer.name, "Cantine": p.cantine.name, "Statut": "Proposée"} for p in fresh],
        counts.refuse(declinaisons),
    )
    report.rows_written += created
    report.problems.extend(counts.refused)


def problem_rows(problems: list[DataProblem], today: dt.date) -> list[dict[str, object]]:
    """Problèmes rows; a 100 000-character cell is quoted by its beginning (a cell holds 32 767 in
    Excel, 50 000 in Google Sheets)."""
    return [
        {"Table": p.table, "Ligne": clip(p.row, 200), "Colonne": p.column, "Valeur": clip(p.value, 200),
         "Problème": clip(p.message, 2000), "Vu le": today}
        for p in problems
    ]


def queue(state: StateStore, messages: list[OutgoingMessage], now: dt.datetime, report: RunReport) -> None:
    """Put each message in the outbox under its idempotency key; a key seen before is skipped."""
    known = state.known_keys([m.key for m in messages])
    for outgoing in messages:
        if outgoing.key in known:
            report.already_queued += 1
            continue
        try:
            data = build_message(outgoing, date=now).as_bytes(policy=WIRE)
        except (ValueError, TypeError, LookupError) as exc:  # this message only: the others go on
            report.problems.append(unbuildable(outgoing, exc))
            continue
        if state.enqueue(
            key=outgoing.key, kind=outgoing.kind, recipients=outgoing.recipients, subject=outgoing.subject,
            message=data, now=now,
        ):
            report.queued += 1
        else:
            report.already_queued += 1


def unbuildable(outgoing: OutgoingMessage, exc: Exception) -> DataProblem:
    """A message the email library refused to build, for the Problèmes tab."""
    return DataProblem(
        "Emails", outgoing.subject or outgoing.key, "", "",
        f"ce message n'a pas pu être préparé ({type(exc).__name__} : {exc}) : il n'est pas parti, "
        "les autres messages sont envoyés",
    )


def deliver(
    state: StateStore, backend: MailBackend, clock: Callable[[], dt.datetime], report: RunReport,
    should_stop: Callable[[], bool] = lambda: False, *, stop: threading.Event | None = None,
    budget_seconds: float | None = None, emails_left: int | None = None,
    mask: Callable[[str], str] = lambda text: text,
) -> None:
    """Deliver pending messages: claim, hand over, mark sent. A failure leaves it for the next run.
    With `emails_left` (the day's provider limit, each recipient counted), delivery stops before the
    first message that would pass it: it and those after it stay pending (`report.over_limit`).
    When asked to stop (`should_stop`, or `stop` set, which also wakes the backend's waits), the
    message being handed over finishes and the others stay pending; so do those not tried within
    `budget_seconds`. A message the provider refused at every attempt (429, 5xx) goes back to
    pending, never held: while the backend waits between attempts it is not "sending". The error kept
    with a message goes through `mask` (a provider may echo a secret back in its error)."""
    parser = BytesParser(policy=policy.default)
    window = backend.window
    if stop is not None:
        window.stop = stop
    if budget_seconds is not None:
        window.deadline = window.monotonic() + budget_seconds
        window.out_of_time = False

    def stopping() -> bool:
        return should_stop() or window.stopping()

    def out_of_time(left: int) -> None:
        report.deferred = left
        report.errors.append(
            f"délai d'envoi de {budget_seconds or 0:.0f} s écoulé : {left} message(s) non tenté(s), "
            "ils partiront au prochain cycle"
        )

    for stuck in state.interrupted():  # we hold the run lock: whoever was sending it died
        resend = backend.after_crash == "resend"
        state.recover(
            stuck.id, resend=resend,
            note="interrompu pendant l'envoi : renvoyé avec le même Message-ID" if resend
            else f"interrompu pendant l'envoi par {backend.name} : vérifiez s'il est parti avant de le relancer",
        )
        if not resend:
            report.held += 1
            report.errors.append(
                f"« {stuck.subject} » : envoi interrompu, peut-être déjà parti ; mis de côté pour vérification"
            )
    waiting = state.pending()
    if waiting and stopping():
        report.stopped = True
        waiting = []
    if waiting and emails_left is not None and len(waiting[0].recipients) > emails_left:
        report.over_limit = len(waiting)  # the day's limit is reached: no connection at all
        waiting = []
    if waiting:
        try:
            backend.open()
        except DeliveryError as exc:  # the provider is unreachable or refuses us: all stay pending
            report.send_failures += 1
            report.errors.append(f"envoi impossible ({backend.name}) : {exc} ; {pluriel(len(waiting), 'message')} en attente")
            waiting = []
        try:
            for index, queued in enumerate(waiting):
                if stopping():
                    report.stopped = True
                    break
                if window.expired():
                    out_of_time(len(waiting) - index)
                    break
                if emails_left is not None and len(queued.recipients) > emails_left:
                    report.over_limit = len(waiting) - index  # in order: none overtakes an older one
                    break
                if not state.claim(queued.id):
                    continue  # another process is sending it
                window.idle = lambda message_id=queued.id: state.unclaim(message_id)  # type: ignore[misc]
                window.busy = lambda message_id=queued.id: state.claim(message_id)  # type: ignore[misc]
                try:
                    provider_id = backend.deliver(parser.parsebytes(queued.message))
                except DeliveryError as exc:
                    report.send_failures += 1
                    report.errors.append(f"envoi impossible de « {queued.subject} » : {exc}")
                    if exc.stops_delivery:  # nothing was sent; every other message would fail alike
                        state.mark_failed(queued.id, mask(str(exc)))
                        if window.stopping():
                            report.stopped = True
                        elif window.out_of_time:
                            out_of_time(len(waiting) - index - 1)
                        break
                    state.mark_failed(queued.id, mask(str(exc)), hold=not exc.retriable)
                    continue
                finally:
                    window.idle, window.busy = (lambda: None), (lambda: True)
                state.mark_sent(queued.id, backend=backend.name, provider_id=provider_id, now=clock())
                report.sent += 1
                if emails_left is not None:
                    emails_left -= len(queued.recipients)
        finally:
            backend.close()
    counts = state.counts()
    report.pending = counts.get("pending", 0)
    report.held_total = counts.get("held", 0) + counts.get("failed", 0)


def journal_row(report: RunReport) -> dict[str, object]:
    detail = ([pluriel(len(report.problems), "problème de données")] + report.errors + report.postponed
              + [note for note in (report.quota_note, report.mail_note) if note])
    return {
        "Début": report.started_at, "Fin": report.finished_at, "Résultat": report.result,
        "Lu": report.rows_read, "Écrit": report.rows_written, "Emails envoyés": report.sent,
        "Brouillons": report.drafts, "Problèmes": len(report.problems), "Détail": "\n".join(detail),
    }


def on_day(now: dt.datetime, today: dt.date) -> dt.datetime:
    """`now`'s time of day on the day the run plays: a preview of another day is dated that day."""
    return now if now.date() == today else dt.datetime.combine(today, now.timetz())


def plan(
    settings: Settings, *, today: dt.date, clock: Callable[[], dt.datetime], out: Path | None = None,
    tables: dict[str, Table] | None = None,
) -> RunReport:
    """What a run would do today, writing nothing anywhere: the messages it would send (those not
    already in the state store), rendered into `out` with an index.html when given."""
    report = RunReport(today=today, started_at=clock(), dry_run=True)
    tables = tables if tables is not None else open_tables(settings)
    dataset = load(settings, tables, report)
    compute_matching(settings, dataset, today, report)
    state = open_state_if_present(settings)
    try:
        report.to_handle = to_handle(state, settings.timezone) if state is not None else []
        since = reminder_window_start(settings, state, today)
        messages = compute_messages(settings, dataset, today, report, since)
        messages += community_messages(settings, dataset, today, since,
                                       state.has_prefix if state is not None else (lambda prefix: False), clock(), report)
        known = state.known_keys([m.key for m in messages]) if state is not None else set()
    finally:
        if state is not None:
            state.close()
    report.already_queued = sum(1 for m in messages if m.key in known)
    report.messages = [m for m in messages if m.key not in known]
    if out is not None:
        with OutboxBackend(out) as backend:
            for message in report.messages:
                try:
                    built = build_message(message, date=on_day(clock(), today))
                    built.as_bytes(policy=WIRE)  # what the outbox will write: it can be written
                except (ValueError, TypeError, LookupError) as exc:
                    report.problems.append(unbuildable(message, exc))
                    continue
                backend.deliver(built)
    report.finished_at = clock()
    mask_report(settings, report)
    return report


def mask_report(settings: Settings, report: RunReport) -> None:
    """No secret in what the summary, the Journal and the state store show: an API may have echoed a
    token or a URL back in an error text."""
    report.errors = [settings.secrets.mask(error) for error in report.errors]
    report.problems = settings.base.problems(report.problems)  # in the base's names (its columns, its choices)
    report.problems = [
        dataclasses.replace(p, message=settings.secrets.mask(p.message), value=settings.secrets.mask(str(p.value)))
        if settings.secrets.mask(f"{p.message}\0{p.value}") != f"{p.message}\0{p.value}" else p
        for p in report.problems
    ]


def run_cycle(
    settings: Settings,
    *,
    today: dt.date,
    clock: Callable[[], dt.datetime],
    dry_run: bool = False,
    lock_wait_seconds: float = 0,
    job: str = "cycle",
    parts: frozenset[str] = ALL_PARTS,
    skip_if_done_since: dt.datetime | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    stop: threading.Event | None = None,
    tables: dict[str, Table] | None = None,
) -> RunReport:
    """Run one cycle for `today`. `clock` gives the current time for timestamps only.

    The run lock makes cycles run one at a time across processes and machines. With
    `skip_if_done_since`, a cycle that finds `job` already completed since then (by another worker,
    while it waited for the lock) does nothing. `should_stop` is checked between steps; `stop` (the
    SIGTERM event) is too, and it also ends at once the wait for the lock and the mail backend's waits."""
    if dry_run:
        return plan(settings, today=today, clock=clock, tables=tables)
    if stop is not None:
        asked = should_stop
        should_stop = lambda: asked() or stop.is_set()  # noqa: E731
    report = RunReport(today=today, started_at=clock(), dry_run=dry_run)
    tables = tables if tables is not None else open_tables(settings)
    calls_before = calls_made(tables)
    state = open_state(settings)
    try:
        state.migrate(report.started_at)
        try:
            lock = state.run_lock("cycle", wait_seconds=lock_wait_seconds, stop=stop)
            lock.__enter__()
        except StopRequested:
            report.stopped = True
            report.skipped = "stop requested while waiting for the run lock"
            return report
        with contextlib.ExitStack() as held:
            held.push(lock)
            if skip_if_done_since is not None:
                done = state.last_success(job)
                if done is not None and done >= skip_if_done_since:
                    report.skipped = f"{job} already completed at {done.isoformat()}"
                    return report
            run_id = state.start_run(job=job, today=today, now=report.started_at)
            after_save: list[Callable[[], None]] = []  # sync snapshots: recorded once the hub is saved
            bug: Exception | None = None  # raised for the caller once the run is journaled and saved
            try:
                with hub_batch(tables):  # the hub saved once, at the end (its Envois rows and Journal line included)
                    try:
                        if parts <= OPTIONAL:  # an hourly sync, an import, the hotline: only if the API budget allows
                            report.quota_note = budget_note(settings, state, today, last_calls(state, job))
                        if report.quota_note is None:
                            _cycle(settings, tables, state, today, clock, report, parts, should_stop, stop, after_save)
                    except StopRequested:
                        report.stopped = True
                        report.errors.append("arrêt demandé : cycle interrompu entre deux étapes")
                    except CantinesError as exc:
                        report.fatal = True
                        report.errors.append(str(exc))
                        log.info("cycle failed: %s", exc)  # in the summary; the worker logs each job's errors
                    except Exception as exc:  # a bug: recorded as a failed run, then raised for the caller
                        report.fatal = True
                        report.errors.append(f"{type(exc).__name__}: {exc}")
                        bug = exc  # not raised inside the batch: the Journal line and Envois rows are still sent
                    finally:
                        report.finished_at = clock()
                        mask_report(settings, report)
                        _write_envois(settings, tables, state, report.envois, today, report)
                        _write_journal(tables, report)
                for record in after_save:
                    record()
            except CantinesError as exc:  # the hub could not be saved: nothing of this cycle is in it
                report.fatal = True
                if str(exc) not in report.errors:
                    report.errors.append(str(exc))
                log.info("cycle failed: %s", exc)  # in the summary
            finally:
                report.finished_at = report.finished_at or clock()
                report.calls = record_calls(settings, state, today, calls_before, calls_made(tables), report.sent)
                mask_report(settings, report)  # errors added since (the journal, the save) masked too
                state.finish_run(
                    run_id, result=report.result, counts=report.counts,
                    detail="\n".join(report.errors + [n for n in (report.quota_note, report.mail_note) if n]),
                    now=report.finished_at,
                )
            if bug is not None:
                raise bug
    finally:
        state.close()
    return report


def _cycle(
    settings: Settings, tables: dict[str, Table], state: StateStore, today: dt.date,
    clock: Callable[[], dt.datetime], report: RunReport, parts: frozenset[str], should_stop: Callable[[], bool],
    stop: threading.Event | None = None,
    after_save: list[Callable[[], None]] | None = None,
) -> None:
    def step() -> None:
        if should_stop():
            raise Stopped

    ensure_tables({code: tables[code] for code in WORKER_TABLES})
    step()
    if SYNC in parts:
        run_syncs(settings, tables, state, report, after_save)
        step()
    if AIDES in parts:
        run_aides_import(settings, tables, state, today, report, after_save)
        step()
    # before the load: the questions (and answers) it writes are in this run's reminders and digests
    acknowledgements = run_hotline(settings, tables, today, report) if HOTLINE in parts else []
    step()
    if parts <= OPTIONAL:
        # An hourly sync, an import, the hotline: each reads only the tables it works on (the syncs'
        # sides; Opportunités, Partenaires, Cantines; Cantines and Questions), not the whole hub: on
        # Airtable they are most of a month's calls. Nothing else is computed: the daily cycle loads
        # everything (and relaunches what staff ticked in Envois).
        if report.problems:  # a duplicate key, an unknown sender: into Problèmes, nothing removed
            with hub_batch(tables):
                refused_value(report, lambda: write_problems(settings, tables, report, today, complete=False))
        step()
        queue(state, acknowledgements, clock(), report)
        send(settings, state, today, clock, report, should_stop, stop)
        return
    dataset = load(settings, tables, report, should_stop)
    hub_release(tables)  # the dataset holds what was read: the workbook's copy goes before matching and rendering
    step()
    outcome = compute_matching(settings, dataset, today, report)
    since = reminder_window_start(settings, state, today)
    report.envois = _relaunch(settings, tables, state, dataset, clock, report)
    # The matching's write-back goes from a thread while the messages are rendered, queued and sent, when
    # each write is a request (Airtable); a workbook or a spreadsheet writes it now, held for the final
    # save. Mail does not wait for the hub: on a workbook or a spreadsheet it is saved at the end anyway.
    write_back = MatchingWriteBack(settings, tables, outcome, today, report, should_stop) if MATCHING in parts else None
    hub_release(tables)  # and what the write-back read, before the mail is rendered, queued and sent

    def wind_down() -> None:
        """The run ends early: a write-back under way stops before its next batch; where writes are
        held for the final save (a workbook, a spreadsheet) this run's problems are kept in
        Problèmes at no cost (none removed: the run did not finish)."""
        if write_back is not None:
            write_back.abandon(report)
        if not paced_requests(tables, ("problemes",)):
            try:
                refused_value(report, lambda: write_problems(settings, tables, report, today, complete=False))
            except CantinesError as exc:
                report.errors.append(f"Problèmes : écriture impossible : {exc}")

    try:
        messages = _render(settings, dataset, state, today, clock, report, parts, since, acknowledgements)
        step()
        queue(state, messages, clock(), report)  # before Problèmes is written: a message that cannot be built is in it
        send(settings, state, today, clock, report, should_stop, stop)
    except BaseException:
        wind_down()
        raise
    if report.stopped:  # delivery stopped for a stop asked: nothing more is started
        wind_down()
        return
    # Only a run that computes every kind of problem may remove the ones gone: a sync-only or
    # digests-only job would otherwise delete the reminders' problems, and they would come back
    # with a new « Vu le » at the next cycle.
    # Nor a run that could not read everything: the problems of what it did not read are not gone.
    complete = {SYNC, MATCHING, REMINDERS, DRAFTS} <= parts and not report.incomplete
    with hub_batch(tables):  # the write-back sent together: one save, one batchUpdate per spreadsheet
        if write_back is not None:
            write_back.finish(report)
        refused_value(report, lambda: write_problems(settings, tables, report, today, complete=complete))


def _render(settings: Settings, dataset: Dataset, state: StateStore, today: dt.date, clock: Callable[[], dt.datetime],
            report: RunReport, parts: frozenset[str], since: dt.date, acknowledgements: list[OutgoingMessage]) -> list[OutgoingMessage]:
    """The run's messages: acknowledgements, reminders, digests, community mail, and the drafts' (their
    files written to the drafts folder). Reads the dataset and the state store, never the tables."""
    messages = [*acknowledgements, *compute_messages(settings, dataset, today, report, since, parts, queued=state.known_keys,
                                                     quota_notes=recent_notes(state, today) if DIGESTS in parts else ())]
    if REMINDERS in parts:
        messages += community_messages(settings, dataset, today, since, state.has_prefix, clock(), report)
    report.messages = messages
    # The drafts before the write-back: their problems (a broken report template) go into Problèmes too.
    if DRAFTS in parts and settings.reports.enabled and "drafts" not in switch_off(settings, report) and not waits(dataset, needs.DRAFTS, "brouillons de bilans", report):
        prepared, problems = prepare_drafts(
            build_drafts(dataset, today, settings.reports.horizon_days, network_identity(settings), gap_threshold(settings)),
            known=lambda keys: state.known_keys(keys), sent_before=state.has_prefix,
            out_dir=settings.reports.drafts_dir, templates=settings.paths.templates,
            network=Network.from_settings(settings), renderer=Renderer(settings.paths.templates, settings.base),
        )
        report.drafts = len(prepared)
        report.draft_files = [p.files.docx for p in prepared]
        report.problems.extend(problems)
        messages = [*messages, *(p.message for p in prepared)]
        report.messages = messages
    return messages


def send(settings: Settings, state: StateStore, today: dt.date, clock: Callable[[], dt.datetime], report: RunReport,
         should_stop: Callable[[], bool], stop: threading.Event | None) -> None:
    """Deliver what is pending, within the delivery time and the day's SendGrid limit; what the
    limit leaves waits, queued, and the Journal, the summary and the coordinator's digest say so."""
    deliver(state, open_mail(settings), clock, report, should_stop, stop=stop,
            budget_seconds=settings.mail.delivery_budget_seconds, emails_left=emails_left_today(settings, state, today),
            mask=settings.secrets.mask)
    if report.over_limit:
        report.mail_note = mail_limit_note(settings, today, report.over_limit)


def write_problems(settings: Settings, tables: dict[str, Table], report: RunReport, today: dt.date, *,
                   complete: bool) -> None:
    """The run's data problems into Problèmes (« Vu le » kept); with `complete`, those gone removed."""
    mask_report(settings, report)  # an API's error text may quote a secret
    written = replace_rows(
        tables["problemes"], problem_rows(report.problems, today), settings.schema["problemes"].key,
        keep=("Vu le",), delete=complete,
    )
    report.rows_written += written.total


def community_messages(
    settings: Settings, dataset: Dataset, today: dt.date, since: dt.date, was_queued: Callable[[str], bool],
    now: dt.datetime, report: RunReport,
) -> list[OutgoingMessage]:
    """Invitations (and their updates and cancellations), J-7 and J-1 reminders and thank-yous of the
    Événements due in (since, today]."""
    if "events" in switch_off(settings, report):
        return []
    due = event_messages(dataset, today, since, invited_before=was_queued)
    messages, problems = event_mail(due, Network.from_settings(settings), Renderer(settings.paths.templates, settings.base),
                                    settings.timezone, now)
    report.problems.extend(problems)
    return messages


def run_hotline(settings: Settings, tables: dict[str, Table], today: dt.date, report: RunReport) -> list[OutgoingMessage]:
    """The hotline mailbox into Questions, when IMAP_URL is set; its acknowledgements to queue.
    A mailbox that cannot be read is reported and the cycle goes on (nothing was flagged)."""
    if not hotline_enabled(settings) or "hotline" in switch_off(settings, report):
        return []
    questions = tables["questions"]

    def in_batch(write: Callable[[], None]) -> None:
        with hub_batch(tables):
            write()
            hub_flush(tables)  # saved (workbook) or sent before the messages are flagged, even inside the cycle's batch

    try:
        # the cantines' addresses, to recognise senders (their problems are reported by the load)
        cantines = parse_dataset({"cantines": tables["cantines"].read()}, settings.schema, settings.reference,
                                 settings.timezone).cantines
        questions.ensure_schema()  # Expéditeur, Pièces jointes, Message-ID: added if missing, nothing removed
        result = read_hotline(settings, questions, list(cantines), today,
                              renderer=Renderer(settings.paths.templates, settings.base), write_batch=in_batch)
    except CantinesError as exc:
        report.errors.append(f"hotline : boîte aux lettres ou table Questions inutilisable : {exc}")
        log.info("hotline failed: %s", exc)
        return []
    report.hotline = result
    report.rows_written += result.written
    report.problems.extend(result.problems)
    return result.acknowledgements


def refused_value(report: RunReport, write: Callable[[], None]) -> None:
    """Do a write-back; a value the backend refuses (an unknown linked name…) becomes a data problem
    and the run goes on."""
    try:
        write()
    except InvalidValueError as exc:
        shown = "" if exc.value is None else str(exc.value)
        report.problems.append(DataProblem(exc.table, "", exc.column or "", shown, f"écriture refusée : {exc}"))
        log.info("a write was refused: %s", exc)


def _write_journal(tables: dict[str, Table], report: RunReport) -> None:
    try:
        tables["journal"].create([journal_row(report)])
    except CantinesError as exc:  # the state store keeps the journal too
        if str(exc) not in report.errors:  # not the failure already reported (no workbook at all)
            report.errors.append(f"Journal : écriture impossible : {exc}")
        log.info("cannot write the Journal table: %s", exc)  # in the summary


def rebuilder(settings: Settings, dataset: Dataset, report: RunReport) -> Callable[[str, dt.date], OutgoingMessage | None]:
    """Rebuilds the message queued under a key on a day, from the tables as read now (an address
    corrected since is used): the messages that day would have had, found by key."""
    made: dict[dt.date, dict[str, OutgoingMessage]] = {}

    def rebuild(key: str, day: dt.date) -> OutgoingMessage | None:
        if day not in made:
            scratch = RunReport(today=day, started_at=report.started_at, matches=report.matches,
                                suggestions=report.suggestions, offer_proposals=report.offer_proposals)
            since = day - dt.timedelta(days=settings.reminders.catch_up_days)
            made[day] = {m.key: m for m in compute_messages(settings, dataset, day, scratch, since)}
        return made[day].get(key)

    return rebuild


def _relaunch(settings: Settings, tables: dict[str, Table], state: StateStore, dataset: Dataset,
              clock: Callable[[], dt.datetime], report: RunReport) -> EnvoisStep | None:
    """Read the Envois table, relaunch what staff ticked, and list what is left to handle."""
    step = read_envois(tables.get("envois"), report.errors)
    if step is not None:
        relaunch(step, state, rebuilder(settings, dataset, report), now=clock(), timezone=settings.timezone)
        report.relaunched = len(step.relaunched)
        report.problems.extend(step.problems)
    report.to_handle = to_handle(state, settings.timezone)
    return step


def _write_envois(settings: Settings, tables: dict[str, Table], state: StateStore, step: EnvoisStep | None,
                  today: dt.date, report: RunReport) -> None:
    """The Envois table brought to what the state store says, after delivery (or whatever stopped the
    cycle once the table was read)."""
    if step is None:
        return
    try:
        written = write_envois(step, state, today=today, retention_days=settings.envois.retention_days,
                               timezone=settings.timezone)
    except CantinesError as exc:
        report.errors.append(f"{step.table.spec.name} : écriture impossible : {exc}")
        log.info("cannot write the Envois table: %s", exc)  # in the summary
        return
    report.rows_written += written.written + written.deleted
