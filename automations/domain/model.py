"""The domain: rows of the staff tables parsed into frozen dataclasses, and data problems.

Parsing is driven by the schema: each column's type says how to read its cells. A bad value makes the
whole row a *data problem* (a French sentence saying what is wrong and what is expected) and the row is
skipped; the other rows go on. Tables are parsed in link order so that a link naming an unknown row is
caught, with a suggestion when the name is close to a real one.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from typing import Any, ClassVar

from connectors.tables.base import ColumnSpec, Row, TableSpec

from automations.domain import parsing
from automations.domain.parsing import ValueProblem, fold, show
from automations.domain.reference import Departement, Reference, Territory
from automations.domain.schema import Schema

DONE_STATUSES = frozenset({"Envoyée", "Acceptée", "Payée", "Annulée"})
FINANCIAL_REPORT = "Compte rendu financier"


def financial_report_due(agreement_end: dt.date) -> dt.date:
    """The compte rendu financier (CERFA 15059) is due within 6 months of the end of the financial
    year funded; associations' financial years are taken as calendar years: 30 June of the next year."""
    return dt.date(agreement_end.year + 1, 6, 30)


@dataclass(frozen=True)
class DataProblem:
    """Something staff should fix in their tables: where it is, and what is expected."""

    table: str
    row: str  # how staff find the row: its name, or "ligne 12"
    column: str
    value: str
    message: str
    # already in the deployment's names (its column names, and those its message quotes « »)
    named: bool = field(default=False, compare=False, repr=False)

    def __str__(self) -> str:
        where = f"{self.table}, {self.row}" + (f", colonne « {self.column} »" if self.column else "")
        return f"{where} : {self.message}"


# -- domain objects --------------------------------------------------------------------------
# COLUMNS maps each French column to the field that holds its parsed value.


@dataclass(frozen=True)
class Cantine:
    COLUMNS: ClassVar[dict[str, str]] = {
        "Nom": "name", "Statut": "status", "Association": "association", "Ville": "city",
        "Code postal": "postcode", "Quartier prioritaire": "qpv", "Thématiques": "themes",
        "Besoins": "needs", "Budget annuel": "annual_budget", "Responsable": "manager",
        "Email responsable": "manager_email", "Emails en copie": "cc_emails",
        "Reçoit les emails": "receives_emails", "Date d'ouverture": "opened_on",
    }
    name: str
    status: str
    city: str
    departement: Departement
    association: str | None = None
    postcode: str | None = None
    qpv: bool = False
    themes: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    annual_budget: Decimal | None = None
    manager: str | None = None
    manager_email: str | None = None
    cc_emails: tuple[str, ...] = ()
    receives_emails: bool = False
    opened_on: dt.date | None = None

    @property
    def region(self) -> str:
        return self.departement.region


@dataclass(frozen=True)
class Partner:
    COLUMNS: ClassVar[dict[str, str]] = {
        "Nom": "name", "Type": "type", "Statut": "status", "Thématiques": "themes",
        "Territoires": "territories", "Montant min": "amount_min", "Montant max": "amount_max",
        "Contact": "contact", "Email contact": "contact_email", "Responsable": "owner_email",
        "Prochaine action": "next_action", "Date prochaine action": "next_action_on", "Notes": "notes",
    }
    name: str
    type: str | None = None
    status: str | None = None
    themes: tuple[str, ...] = ()
    territories: tuple[str, ...] = ()
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    contact: str | None = None
    contact_email: str | None = None
    owner_email: str | None = None
    next_action: str | None = None
    next_action_on: dt.date | None = None
    notes: str | None = None


@dataclass(frozen=True)
class Opportunity:
    COLUMNS: ClassVar[dict[str, str]] = {
        "Titre": "title", "Partenaire": "partner", "Nature": "nature",
        "Territoires éligibles": "territories", "Réservé aux quartiers prioritaires": "qpv_only",
        "Stades éligibles": "stages", "Thématiques": "themes", "Dépenses": "expenses",
        "Montant min": "amount_min", "Montant max": "amount_max", "Date d'ouverture": "opens_on",
        "Date limite": "deadline", "Récurrence": "recurrence",
        "Candidature collective possible": "collective", "Lien": "link", "Source": "source",
        "Identifiant source": "source_id", "Statut veille": "watch_status", "Description": "description",
    }
    title: str
    partner: str | None = None
    nature: str | None = None
    territories: tuple[Territory, ...] = ()  # none listed: all of France
    qpv_only: bool = False
    stages: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()
    expenses: tuple[str, ...] = ()
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    opens_on: dt.date | None = None
    deadline: dt.date | None = None
    recurrence: str | None = None
    collective: bool = False
    link: str | None = None
    source: str | None = None
    source_id: str | None = None
    watch_status: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class Application:
    """A candidature: one application to an opportunity, for one or several cantines."""

    COLUMNS: ClassVar[dict[str, str]] = {
        "Intitulé": "title", "Opportunité": "opportunity", "Porteur": "carrier",
        "Cantines bénéficiaires": "cantines", "Type": "type", "Statut": "status",
        "Responsable": "owner_email", "Date limite interne": "internal_deadline",
        "Date de dépôt": "submitted_on", "Montant demandé": "amount_requested",
        "Montant accordé": "amount_granted", "Date de décision": "decided_on",
        "Contrat d'engagement républicain": "republican_contract",
    }
    title: str
    opportunity: str
    status: str
    carrier: str | None = None
    cantines: tuple[str, ...] = ()
    type: str | None = None
    owner_email: str | None = None
    internal_deadline: dt.date | None = None
    submitted_on: dt.date | None = None
    amount_requested: Decimal | None = None
    amount_granted: Decimal | None = None
    decided_on: dt.date | None = None
    republican_contract: bool = False  # the contrat d'engagement républicain signed (décret 2021-1947)


@dataclass(frozen=True)
class Agreement:
    """A convention: the funding agreement that follows an accepted application."""

    COLUMNS: ClassVar[dict[str, str]] = {
        "Référence": "reference", "Partenaire": "partner", "Candidature": "application",
        "Cantines": "cantines", "Type": "type", "Date de signature": "signed_on",
        "Date de début": "starts_on", "Date de fin": "ends_on", "Montant total": "total_amount",
        "Engagements": "commitments", "Statut": "status",
    }
    reference: str
    partner: str
    application: str | None = None
    cantines: tuple[str, ...] = ()
    type: str | None = None
    signed_on: dt.date | None = None
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    total_amount: Decimal | None = None
    commitments: str | None = None
    status: str | None = None


@dataclass(frozen=True)
class DueItem:
    """An échéance: something due under a convention (a bilan, a versement…)."""

    COLUMNS: ClassVar[dict[str, str]] = {
        "Intitulé": "label", "Convention": "agreement", "Cantine": "cantine", "Type": "type",
        "Date d'échéance": "due_on", "Date interne": "internal_due_on", "Montant": "amount",
        "Statut": "status", "Responsable": "owner_email", "Fait le": "done_on",
    }
    key: str
    agreement: str
    type: str
    status: str
    due_on: dt.date = dt.date.min  # derived for a compte rendu financier left without a date
    label: str | None = None
    cantine: str | None = None
    internal_due_on: dt.date | None = None
    amount: Decimal | None = None
    owner_email: str | None = None
    done_on: dt.date | None = None

    @property
    def is_done(self) -> bool:
        return self.status in DONE_STATUSES or self.done_on is not None

    @property
    def title(self) -> str:
        """How the échéance is named in messages: its Intitulé, or its type and convention."""
        return self.label or f"{self.type} – {self.agreement}"


@dataclass(frozen=True)
class BudgetLine:
    """A line of an action's budget: one heading of the CERFA (Nature), planned and actual amounts."""

    COLUMNS: ClassVar[dict[str, str]] = {
        "Libellé": "label", "Convention": "agreement", "Candidature": "application", "Nature": "nature",
        "Financeur": "funder", "Montant prévu": "planned", "Montant réalisé": "actual", "Commentaire": "comment",
    }
    key: str
    nature: str  # a choice of the schema: "60 – Achats"…
    label: str | None = None
    agreement: str | None = None
    application: str | None = None
    funder: str | None = None
    planned: Decimal | None = None
    actual: Decimal | None = None
    comment: str | None = None

    @property
    def title(self) -> str:
        """How the line is named: its Libellé, or its Nature (and its funder)."""
        return self.label or (f"{self.nature} ({self.funder})" if self.funder else self.nature)


@dataclass(frozen=True)
class PartnerOffer:
    COLUMNS: ClassVar[dict[str, str]] = {
        "Nom": "name", "Partenaire": "partner", "Type": "type", "Description": "description",
        "Territoires": "territories", "Places": "places", "Valeur unitaire": "unit_value",
        "Début": "starts_on", "Fin": "ends_on", "Statut": "status",
    }
    name: str
    partner: str
    type: str | None = None
    description: str | None = None
    territories: tuple[Territory, ...] = ()  # none listed: all of France
    places: int | None = None
    unit_value: Decimal | None = None
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    status: str | None = None


@dataclass(frozen=True)
class OfferRollout:
    """A déclinaison: a partner offer rolled out in one cantine."""

    COLUMNS: ClassVar[dict[str, str]] = {
        "Offre": "offer", "Cantine": "cantine", "Statut": "status", "Date prévue": "planned_on",
        "Valeur valorisée": "value", "Reçu fiscal émis": "receipt_issued",
    }
    offer: str
    cantine: str
    status: str | None = None
    planned_on: dt.date | None = None
    value: Decimal | None = None
    receipt_issued: bool = False


@dataclass(frozen=True)
class MonthlyFigures:
    """One cantine's indicateurs for one month."""

    COLUMNS: ClassVar[dict[str, str]] = {
        "Cantine": "cantine", "Mois": "month", "Repas servis": "meals", "Convives": "guests",
        "Bénévoles actifs": "volunteers", "Heures de bénévolat": "volunteer_hours",
        "Animations": "events", "Produits locaux (%)": "local_share",
    }
    cantine: str
    month: dt.date
    meals: int | None = None
    guests: int | None = None
    volunteers: int | None = None
    volunteer_hours: Decimal | None = None
    events: int | None = None
    local_share: Decimal | None = None


@dataclass(frozen=True)
class Question:
    COLUMNS: ClassVar[dict[str, str]] = {
        "Cantine": "cantine", "Posée le": "asked_on", "Thème": "theme", "Question": "question",
        "Réponse": "answer", "Statut": "status", "Répondue le": "answered_on",
        "Responsable": "owner_email", "Expéditeur": "sender",
    }
    asked_on: dt.date
    question: str
    cantine: str | None = None  # empty for a message from an address no cantine has (the hotline)
    theme: str | None = None
    answer: str | None = None
    status: str | None = None
    answered_on: dt.date | None = None
    owner_email: str | None = None
    sender: str | None = None

    @property
    def asker(self) -> str:
        """Who asked: the cantine, else the sender's address."""
        return self.cantine or self.sender or "expéditeur inconnu"


@dataclass(frozen=True)
class Visit:
    COLUMNS: ClassVar[dict[str, str]] = {"Cantine": "cantine", "Date": "on", "Par": "by", "Notes": "notes"}
    cantine: str
    on: dt.date
    by: str | None = None
    notes: str | None = None


@dataclass(frozen=True)
class MatchRecord:
    """A row of Correspondances as staff left it (their Statut and Commentaire included)."""

    COLUMNS: ClassVar[dict[str, str]] = {
        "Clé": "key", "Opportunité": "opportunity", "Cantine": "cantine", "Score": "score",
        "Date limite": "deadline", "État": "state", "Statut": "status", "Commentaire": "comment",
        "Proposée le": "proposed_on",
    }
    key: str
    opportunity: str | None = None
    cantine: str | None = None
    score: int | None = None
    deadline: dt.date | None = None
    state: str | None = None
    status: str | None = None
    comment: str | None = None
    proposed_on: dt.date | None = None


# Tables read at every run, in link order: a table only links to tables above it.
@dataclass(frozen=True)
class Event:
    """A seminar, a strategic day, a visio, a visit or a training of the network."""

    COLUMNS: ClassVar[dict[str, str]] = {
        "Titre": "title", "Type": "type", "Début": "starts_at", "Fin": "ends_at", "Lieu": "place",
        "Lien visio": "link", "Public": "audience", "Cantines invitées": "cantines",
        "Partenaires invités": "partners", "Statut": "status", "Lien d'inscription": "registration_link",
        "Document de suivi": "follow_up", "Description": "description",
    }
    title: str
    type: str
    starts_at: dt.datetime
    audience: str
    ends_at: dt.datetime | None = None
    place: str | None = None
    link: str | None = None
    cantines: tuple[str, ...] = ()
    partners: tuple[str, ...] = ()
    status: str | None = None
    registration_link: str | None = None
    follow_up: str | None = None
    description: str | None = None

    @property
    def cancelled(self) -> bool:
        return self.status == "Annulé"


@dataclass(frozen=True)
class Registration:
    COLUMNS: ClassVar[dict[str, str]] = {
        "Nom": "name", "Événement": "event", "Email": "email", "Cantine": "cantine", "Statut": "status",
    }
    name: str
    event: str
    email: str
    cantine: str | None = None
    status: str | None = None


DOMAIN_TABLES: dict[str, type] = {
    "cantines": Cantine,
    "partenaires": Partner,
    "opportunites": Opportunity,
    "candidatures": Application,
    "conventions": Agreement,
    "echeances": DueItem,
    "budgets": BudgetLine,
    "offres": PartnerOffer,
    "declinaisons": OfferRollout,
    "indicateurs": MonthlyFigures,
    "questions": Question,
    "visites": Visit,
    "correspondances": MatchRecord,
    "evenements": Event,
    "inscriptions": Registration,
}


@dataclass
class Dataset:
    """Everything read from the staff tables, parsed, with the problems found on the way."""

    cantines: list[Cantine] = field(default_factory=list)
    partenaires: list[Partner] = field(default_factory=list)
    opportunites: list[Opportunity] = field(default_factory=list)
    candidatures: list[Application] = field(default_factory=list)
    conventions: list[Agreement] = field(default_factory=list)
    echeances: list[DueItem] = field(default_factory=list)
    budgets: list[BudgetLine] = field(default_factory=list)
    offres: list[PartnerOffer] = field(default_factory=list)
    declinaisons: list[OfferRollout] = field(default_factory=list)
    indicateurs: list[MonthlyFigures] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)
    visites: list[Visit] = field(default_factory=list)
    correspondances: list[MatchRecord] = field(default_factory=list)
    evenements: list[Event] = field(default_factory=list)
    inscriptions: list[Registration] = field(default_factory=list)
    problems: list[DataProblem] = field(default_factory=list)
    rows_read: int = 0
    # Tables not read, or read without some of their columns (code → why, in French): what depends
    # on them waits for a complete run instead of being computed from partial data (see needs.py).
    incomplete: dict[str, str] = field(default_factory=dict)
    # Optional columns a table was read without (code → names): read as empty, and nothing waits for
    # them, but a check that would judge their emptiness says the column is missing instead.
    absent_optional: dict[str, tuple[str, ...]] = field(default_factory=dict)
    links: dict[tuple[str, str], str] = field(default_factory=dict)  # (table code, row key) → its URL

    def link(self, table: str, key: str) -> str | None:
        """Where a row lives (its Airtable record, its Sheet row), when the backend gave a URL."""
        return self.links.get((table, key))

    def cantine(self, name: str | None) -> Cantine | None:
        return next((c for c in self.cantines if c.name == name), None)

    def convention(self, reference: str | None) -> Agreement | None:
        return next((a for a in self.conventions if a.reference == reference), None)

    def partenaire(self, name: str | None) -> Partner | None:
        return next((p for p in self.partenaires if p.name == name), None)


# -- parsing ---------------------------------------------------------------------------------


def row_label(spec: TableSpec, row: Row) -> str:
    """How staff find a row: "ligne 12" where rows are numbered, plus its first column when filled."""
    first = row.get(spec.primary)
    if isinstance(first, (list, tuple)):
        first = ", ".join(str(v) for v in first)
    if isinstance(first, dt.date):
        first = first.strftime("%d/%m/%Y")
    where = f"ligne {row.position}" if row.position is not None else f"l'enregistrement {row.id}"
    return f"{where} ({parsing.clip(str(first), 80)})" if first not in (None, "") else where


def of_row(label: str) -> str:
    """ "de la ligne 3 (…)" or "de l'enregistrement rec… (…)": French elision."""
    return f"de {label}" if label.startswith("l'") else f"de la {label}"


def parse_cell(column: ColumnSpec, value: Any, tz: dt.tzinfo) -> Any:
    """The domain value of one non-empty cell, by the column's type."""
    kind = column.type
    if kind == "date":
        return parsing.parse_month(value) if column.name == "Mois" else parsing.parse_date(value)
    if kind == "datetime":
        return parsing.parse_datetime(value, tz)
    if kind == "amount":
        return parsing.parse_amount(value)
    if kind == "number":
        return parsing.parse_number(value)
    if kind == "integer":
        return parsing.parse_integer(value)
    if kind == "percent":
        return parsing.parse_percent(value)
    if kind == "checkbox":
        return parsing.parse_bool(value)
    if kind == "email":
        return parsing.parse_email(value)
    if kind == "emails":
        return parsing.parse_emails(value)
    if kind == "choice":
        return parsing.parse_choice(value, column.choices)
    if kind == "multi":
        return parsing.parse_multi(value, column.choices)
    if kind == "link":
        items = value if isinstance(value, (list, tuple)) else [value]
        return tuple(" ".join(str(v).split()) for v in items)
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value).strip()


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == ()


class LinkIndex:
    """The first-column values of every table read so far, to check links against."""

    def __init__(self) -> None:
        self.names: dict[str, dict[str, str]] = {}  # table code → folded name → name
        self.unknown: set[str] = set()  # tables whose names could not be read
        self.exact: dict[str, frozenset[str]] = {}  # table code → the names as indexed

    def add(self, code: str, names: Iterable[str] | None) -> None:
        """Index `names` in order of preference: the first spelling of a name wins over later ones.
        None: the table's names are not known (not read): links into it are taken as written."""
        if names is None:
            self.names.pop(code, None)
            self.exact.pop(code, None)
            self.unknown.add(code)
            return
        self.unknown.discard(code)
        known: dict[str, str] = {}
        for name in names:
            known.setdefault(fold(name), name)
        self.names[code] = known
        self.exact[code] = frozenset(known.values())

    def resolve(self, code: str, table_name: str, name: str) -> str:
        if code in self.unknown:
            return name  # nothing to check against: not a problem of this row
        known = self.names.get(code, {})
        if name in self.exact.get(code, ()):
            return name
        if fold(name) in known:
            return known[fold(name)]
        close = difflib.get_close_matches(name, list(known.values()), n=1, cutoff=0.75)
        hint = f" (vouliez-vous dire « {close[0]} » ?)" if close else ""
        raise ValueProblem(f"{show(name)} ne correspond à aucune ligne de {table_name}{hint}")


def parse_table(
    spec: TableSpec,
    rows: Iterable[Row],
    schema: Schema,
    links: LinkIndex,
    reference: Reference,
    tz: dt.tzinfo,
    absent: Sequence[str] = (),
    urls: dict[str, str] | None = None,
) -> tuple[list[Any], list[DataProblem]]:
    """Parse one staff table into domain objects; bad rows become problems and are skipped.

    A column in `absent` (deleted or renamed) is one structural problem, not a problem per row; a
    table without its first column or a required one yields no rows at all. `urls`, when given,
    receives the URL of each kept row that has one, by its key text."""
    cls = DOMAIN_TABLES[spec.code]
    objects: list[Any] = []
    problems: list[DataProblem] = [absent_column(spec, name) for name in absent]
    if any(name == spec.primary or spec.column(name).required for name in absent):
        links.add(spec.code, None)
        return [], problems
    seen_keys: dict[tuple, str] = {}
    names: list[str] = []
    kept_names: list[str] = []  # links resolve to a kept row's name as parsed, not a skipped duplicate's
    for row in rows:
        label = row_label(spec, row)
        first = row.get(spec.primary)
        if isinstance(first, str) and first.strip():
            names.append(first.strip())
        values: dict[str, Any] = {}
        row_problems: list[DataProblem] = []

        def problem(column: str, raw: Any, message: str) -> None:
            shown = show(raw)[2:-2] if not is_empty(raw) else ""
            row_problems.append(DataProblem(spec.name, label, column, shown, message))

        for column in spec.columns:
            raw = row.get(column.name)
            if column.name in absent:
                values[column.name] = None
                continue
            if is_empty(raw):
                if column.required:
                    problem(column.name, raw, f"« {column.name} » est obligatoire et n'est pas rempli")
                values[column.name] = None
                continue
            try:
                value = parse_cell(column, raw, tz)
                if column.type == "link":
                    target = schema[column.link_table]  # type: ignore[index]
                    value = tuple(links.resolve(target.code, target.name, v) for v in value)
                    if not column.multiple:
                        if len(value) > 1:
                            raise ValueProblem(f"{show(raw)} : une seule ligne de {target.name} attendue")
                        value = value[0]
                values[column.name] = value
            except ValueProblem as exc:
                problem(column.name, raw, str(exc))
        if not row_problems:
            for column, message in drop_unsafe_links(cls, values):
                problems.append(DataProblem(spec.name, label, column, show(row.get(column))[2:-2], message))
            try:
                obj = build(cls, spec, values, reference)
            except ValueProblem as exc:
                column = exc.args[1] if len(exc.args) > 1 else ""
                problem(column, row.get(column) if column else None, str(exc.args[0]))
        if not row_problems:
            key = tuple(parsing_key(values.get(k)) for k in spec.key)
            if key in seen_keys:
                problem(
                    spec.key[0] if len(spec.key) == 1 else "",
                    row.get(spec.key[0]) if len(spec.key) == 1 else None,
                    f"doublon {of_row(seen_keys[key])} (même {', '.join(f'« {k} »' for k in spec.key)}) : "
                    "cette ligne est ignorée",
                )
            else:
                seen_keys[key] = label
                objects.append(obj)
                if urls is not None and row.url:
                    urls[key_text(values, spec.key)] = row.url
                if isinstance(first, str) and first.strip():
                    kept_names.append(first.strip())
        problems.extend(row_problems)
    links.add(spec.code, kept_names + names)
    return objects, problems


def absent_column(spec: TableSpec, name: str) -> DataProblem:
    """The structural problem of a deleted or renamed column."""
    return DataProblem(
        spec.name, "en-têtes", name, "",
        f"colonne « {name} » absente de {spec.name} : ce qui en dépend attend qu'elle soit rétablie "
        "(redonnez-lui son nom, ou rétablissez-la avec ses valeurs depuis l'historique des versions : "
        "recréée vide, toutes ses cases compteraient comme vides)",
    )


LINK_ATTRIBUTES = {"link"}  # the attributes templates may put in an href


def drop_unsafe_links(cls: type, values: dict[str, Any]) -> list[tuple[str, str]]:
    """Empty every link that is not http(s) or mailto, keeping the row: (column, problem) for each."""
    dropped = []
    for column, attribute in cls.COLUMNS.items():  # type: ignore[attr-defined]
        if attribute in LINK_ATTRIBUTES and values.get(column) is not None:
            try:
                values[column] = parsing.parse_link(values[column])
            except ValueProblem as exc:
                values[column] = None
                dropped.append((column, str(exc)))
    return dropped


def parsing_key(value: Any) -> Any:
    if isinstance(value, str):
        return fold(value)
    if isinstance(value, tuple):
        return tuple(parsing_key(v) for v in value)
    return value


def key_text(values: Mapping[str, Any], key: Iterable[str]) -> str:
    """A stable text identity for a row, from its key columns (used in idempotency keys)."""
    parts = []
    for name in key:
        value = values.get(name)
        if isinstance(value, dt.date):
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = "+".join(value)
        parts.append("" if value is None else str(value))
    return "|".join(parts)


def build(cls: type, spec: TableSpec, values: Mapping[str, Any], reference: Reference) -> Any:
    """Make the domain object of a parsed row; raise ValueProblem(message, column) if it cannot be."""
    kwargs: dict[str, Any] = {}
    allowed = {f.name for f in fields(cls)}
    for column, attribute in cls.COLUMNS.items():  # type: ignore[attr-defined]
        value = values.get(column)
        if value is None:
            continue  # keep the dataclass default (False, (), None)
        kwargs[attribute] = value
    if cls is Cantine:
        raw = values.get("Département")
        departement = reference.departement(raw) if raw is not None else None
        if departement is None:
            raise ValueProblem(
                f"Département {show(raw)} inconnu (attendu : un numéro comme 69, 2A ou 974, ou un nom comme Rhône)",
                "Département",
            )
        kwargs["departement"] = departement
        if kwargs.get("postcode") and kwargs["postcode"].isdigit() and len(kwargs["postcode"]) == 4:
            kwargs["postcode"] = "0" + kwargs["postcode"]  # a spreadsheet ate the leading zero
    if cls in (Opportunity, PartnerOffer):
        column = next(c for c, a in cls.COLUMNS.items() if a == "territories")  # type: ignore[attr-defined]
        territories = []
        for text in values.get(column) or ():
            territory = reference.territory(text)
            if territory is None:
                raise ValueProblem(
                    f"Territoire {show(text)} inconnu (attendu : France, une région, ou un département "
                    "par son nom ou son numéro)",
                    column,
                )
            territories.append(territory)
        kwargs["territories"] = tuple(dict.fromkeys(territories))
    if cls is DueItem and values.get("Date d'échéance") is None and values.get("Type") != FINANCIAL_REPORT:
        raise ValueProblem(
            "« Date d'échéance » est obligatoire (sauf pour un compte rendu financier : sa date est calculée "
            "à partir de la date de fin de la convention)",
            "Date d'échéance",
        )
    if cls is BudgetLine:
        if values.get("Convention") is None and values.get("Candidature") is None:
            raise ValueProblem(
                "ligne de budget sans Convention ni Candidature : rattachez-la à la convention (ou, avant la "
                "convention, à la candidature) dont elle fait partie",
                "Convention",
            )
        if values.get("Montant prévu") is None and values.get("Montant réalisé") is None:
            raise ValueProblem(
                "ligne de budget sans Montant prévu ni Montant réalisé : indiquez au moins l'un des deux",
                "Montant prévu",
            )
    if "key" in allowed:
        kwargs["key"] = key_text(values, spec.key)
    return cls(**kwargs)


def parse_dataset(
    tables: Mapping[str, list[Row]], schema: Schema, reference: Reference, tz: dt.tzinfo,
    absent: Mapping[str, Sequence[str]] | None = None,
) -> Dataset:
    """Parse every staff table that was read into one Dataset with all the problems found.
    A table missing from `tables` was not read; `absent` gives the columns each table lacks."""
    dataset = Dataset()
    links = LinkIndex()
    for code in DOMAIN_TABLES:
        rows = tables.get(code)
        if code not in schema:  # a deployment's own schema file from before this table existed: not
            links.add(code, None)  # part of its base (its features are off), nothing waits for it
            continue
        if rows is None:
            links.add(code, None)
            dataset.incomplete[code] = f"{schema[code].name} non lue"
            continue
        missing = tuple(({} if absent is None else absent).get(code, ()))  # a lookup: `absent` may wait for the table
        if missing:
            columns = ", ".join(f"« {name} »" for name in missing)
            dataset.incomplete[code] = f"{schema[code].name} sans la colonne {columns}" if len(missing) == 1 \
                else f"{schema[code].name} sans les colonnes {columns}"
        dataset.rows_read += len(rows)
        urls: dict[str, str] = {}
        objects, problems = parse_table(schema[code], rows, schema, links, reference, tz, missing, urls)
        dataset.links.update(((code, key), url) for key, url in urls.items())
        setattr(dataset, code, objects)
        dataset.problems.extend(problems)
    derive_due_dates(dataset, schema["echeances"].name)
    return dataset


def derive_due_dates(dataset: Dataset, table_name: str) -> None:
    """Give a date to each compte rendu financier left without one; report other échéances without."""
    kept = []
    for item in dataset.echeances:
        if item.due_on != dt.date.min:
            kept.append(item)
            continue
        agreement = dataset.convention(item.agreement)
        if item.type == FINANCIAL_REPORT and agreement is not None and agreement.ends_on is not None:
            kept.append(replace(item, due_on=financial_report_due(agreement.ends_on)))
            continue
        if "conventions" in dataset.incomplete:
            continue  # its date comes from a convention not read: not a problem of this row
        message = (
            "« Date d'échéance » manquante, et la convention n'a pas de date de fin pour calculer celle du "
            "compte rendu financier (6 mois après la fin de l'exercice)"
        )
        dataset.problems.append(DataProblem(table_name, item.title, "Date d'échéance", "", message))
    dataset.echeances = kept
