"""`cantines adopt`, the pure part: from what a team's base holds (tables, columns, their types, choices
and a sample of cells), propose the mapping of the worker's names onto the base's (/work/tools/MAPPING.md).

Names are matched, strongest first: exactly; whatever the case, accents and spacing ("accents/case");
by synonyms ("mail", "courriel", "e-mail"; "échéance", "date limite", "deadline"…), leaving out small
words and the table's own name ("Nom de la cantine" in a cantines table is its "Nom"); by content (a
choice column whose options are the shipped choices in other words; a link to the table matched).
Every proposed column is checked against its cells: a date column whose cells are not dates is
flagged and left for staff to decide, never silently taken.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from connectors.tables.base import ColumnSpec, TableSpec
from connectors.tables.values import is_serial_date, split_list

from automations.domain import parsing

# -- what the base holds ------------------------------------------------------------------------


@dataclass(frozen=True)
class FoundColumn:
    """A column of the team's base: its name, its type there, its options, a sample of its cells."""

    name: str
    kind: str = ""  # the base's own type (Airtable's field type; "" where the base has none)
    choices: tuple[str, ...] = ()  # select options, data validation list
    link_to: str | None = None  # the table a link field points to (Airtable)
    values: tuple[Any, ...] = ()  # non-empty cells, as the base gives them


@dataclass(frozen=True)
class FoundTable:
    name: str
    columns: tuple[FoundColumn, ...]
    rows: int = 0
    problems: tuple[str, ...] = ()  # French: a tab without header, duplicate column names…

    def column(self, name: str) -> FoundColumn | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass(frozen=True)
class Survey:
    """What `adopt` read: the base's tables, and where it is (French, for the summary)."""

    where: str
    tables: tuple[FoundTable, ...]


# -- names ------------------------------------------------------------------------------------

STOP_WORDS = frozenset({"de", "du", "des", "d", "la", "le", "les", "l", "a", "au", "aux", "en", "et", "par",
                        "pour", "sur", "un", "une", "the", "of"})
# Column names that mean the same; the first stands for the group.
COLUMN_SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("email", "e-mail", "e mail", "mail", "courriel", "adresse mail", "adresse email", "adresse e-mail",
     "adresse électronique"),
    ("responsable", "référent", "référente", "chargé de suivi"),
    ("échéance", "date d'échéance", "date limite", "deadline", "date butoir", "date de clôture"),
    ("code postal", "cp"),
    ("département", "dépt", "dept", "dpt", "dep", "n° de département"),
    ("quartier prioritaire", "qpv", "quartier politique de la ville"),
    ("titre", "intitulé", "nom", "libellé"),
    ("référence", "réf", "ref", "n°", "no", "num", "numéro"),
    ("demandé", "sollicité"),
    ("max", "maximum", "plafond"),
    ("min", "minimum", "plancher"),
    ("notes", "commentaires", "remarques", "observations"),
    ("partenaire", "financeur", "mécène"),
    ("lien", "url", "site", "site web", "site internet"),
    ("ville", "commune"),
    ("thématiques", "thèmes", "domaines"),
)
# Table names that mean the same, by the worker's code name.
TABLE_SYNONYMS: Mapping[str, tuple[str, ...]] = {
    "cantines": ("réseau", "lieux", "restaurants", "structures"),
    "partenaires": ("financeurs", "mécènes", "fondations"),
    "opportunites": ("veille", "appels à projets", "aap", "financements"),
    "candidatures": ("dossiers", "demandes de financement"),
    "conventions": ("contrats", "accords"),
    "echeances": ("échéancier", "jalons"),
    "indicateurs": ("chiffres", "chiffres mensuels", "suivi mensuel", "statistiques"),
    "questions": ("hotline", "demandes des cantines"),
    "evenements": ("agenda",),
    "inscriptions": ("inscrits", "participants"),
}
# Choice wordings that mean the same (a wording may be in several groups: « Non retenue » is both an
# opportunity set aside and an application refused; only the column's own choices are compared).
CHOICE_SYNONYMS: tuple[frozenset[str], ...] = tuple(frozenset(g) for g in (
    ("ouverte", "active", "en activité", "en fonctionnement"),
    ("en montage", "en création", "projet", "en projet", "en construction"),
    ("en pause", "en sommeil", "suspendue"),
    ("fermée", "close"),
    ("à qualifier", "à étudier", "à examiner", "à trier"),
    ("pertinente", "retenue", "intéressante", "à suivre"),
    ("écartée", "non retenue", "rejetée", "abandonnée"),
    ("archivée", "classée"),
    ("acceptée", "accordée", "obtenue", "validée"),
    ("refusée", "rejetée", "non retenue"),
    ("à venir", "à faire"),
    ("payée", "versée", "reçue"),
    ("versement", "paiement"),
))

EXACT, FOLDED, SYNONYM, CONTENT = "nom identique", "accents/majuscules", "synonyme", "contenu"
HOW = {EXACT: 4, FOLDED: 3, SYNONYM: 2, CONTENT: 1}
CONFORMING = 0.8  # a column whose cells are less than this share of the type expected is flagged
MAX_FREE_CHOICES = 30  # distinct cells beyond which a column without options is no choice column


def _stem(token: str) -> str:
    """Plural and feminine endings dropped ("Retenues" ~ "retenu", "Payée" ~ "paye")."""
    if len(token) > 4 and token[-1] in "sx":
        token = token[:-1]
    if len(token) > 4 and token.endswith("e"):
        token = token[:-1]
    return token


def tokens(text: str) -> tuple[str, ...]:
    """The words of a name that carry meaning: folded, small words left out, endings dropped."""
    words = re.sub(r"[^0-9a-z]+", " ", parsing.fold(text)).split()
    return tuple(_stem(w) for w in words if w not in STOP_WORDS)


def _phrases(groups: Iterable[Sequence[str]]) -> list[tuple[tuple[str, ...], str]]:
    found = [(tokens(phrase), "~" + "-".join(tokens(group[0]))) for group in groups for phrase in group]
    return sorted((p for p in found if p[0]), key=lambda p: -len(p[0]))


PHRASES = _phrases(COLUMN_SYNONYMS)


def canonical(text: str, context: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """A name's meaning: its words with synonyms replaced by their group, and the table's own name left
    out (when something else remains), in a fixed order."""
    words = list(tokens(text))
    out: list[str] = []
    i = 0
    while i < len(words):
        for phrase, group in PHRASES:
            if tuple(words[i:i + len(phrase)]) == phrase:
                out.append(group)
                i += len(phrase)
                break
        else:
            out.append(words[i])
            i += 1
    kept = [w for w in out if w not in context]
    return tuple(sorted(kept or out))


def name_match(ours: str, theirs: str, context: frozenset[str] = frozenset()) -> str | None:
    """How a base's name matches one of ours: exact, accents/case, synonym, or not (None)."""
    if ours == theirs:
        return EXACT
    if parsing.fold(ours) == parsing.fold(theirs):
        return FOLDED
    if canonical(ours, context) == canonical(theirs, context) and canonical(ours, context):
        return SYNONYM
    return None


def choice_match(ours: str, theirs: str) -> str | None:
    """How a base's choice wording matches one of ours."""
    if ours == theirs:
        return EXACT
    if parsing.fold(ours) == parsing.fold(theirs):
        return FOLDED
    a, b = tokens(ours), tokens(theirs)
    if a and a == b:
        return SYNONYM  # endings only: « Payé » for « Payée »
    for group in CHOICE_SYNONYMS:
        forms = {tokens(g) for g in group}
        if a in forms and b in forms:
            return SYNONYM
    return None


# -- cells against types ----------------------------------------------------------------------

def _is_date(value: Any) -> bool:
    if isinstance(value, (dt.date, dt.datetime)):
        return True
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return is_serial_date(value)
    try:
        parsing.parse_date(value)
        return True
    except ValueError:
        try:
            parsing.parse_datetime(value, dt.timezone.utc)
            return True
        except ValueError:
            return False


def _parses(parser: Any) -> Any:
    def check(value: Any) -> bool:
        try:
            parser(value)
            return True
        except (ValueError, TypeError, ArithmeticError):
            return False
    return check


CHECKS = {
    "date": _is_date, "datetime": _is_date,
    "number": _parses(parsing.parse_number), "integer": _parses(parsing.parse_number),
    "amount": _parses(parsing.parse_amount), "percent": _parses(parsing.parse_percent),
    "checkbox": lambda v: isinstance(v, bool) or _parses(parsing.parse_bool)(v),
    "email": _parses(parsing.parse_email), "emails": _parses(parsing.parse_emails),
}
TYPE_WORDS = {"date": "dates", "datetime": "dates et heures", "number": "nombres", "integer": "nombres entiers",
              "amount": "montants", "percent": "pourcentages", "checkbox": "cases à cocher",
              "email": "adresses email", "emails": "adresses email"}
TEXT_KINDS = frozenset({"singleLineText", "multilineText", "richText", "text", ""})


@dataclass(frozen=True)
class TypeCheck:
    """A column's cells against the type the worker expects."""

    ok: bool
    checked: int = 0
    failing: tuple[str, ...] = ()  # a few cells that are not of the type
    as_text: bool = False  # of the type, but typed as text in the base ("12/03/2026" in a text field)


def check_type(column: ColumnSpec, found: FoundColumn) -> TypeCheck:
    """Whether `found`'s cells can be read as `column`'s type (most of them: a few bad cells are data
    problems the run reports, not a wrong column)."""
    check = CHECKS.get(column.type)
    values = [v for v in found.values if v not in (None, "", [])]
    if check is None or not values:
        return TypeCheck(True, len(values))
    cells = [x for v in values for x in (v if isinstance(v, list) else [v])]
    failing = [c for c in cells if not check(c)]
    ok = (len(cells) - len(failing)) / len(cells) >= CONFORMING - 1e-9
    texts = column.type in ("date", "datetime") and found.kind in TEXT_KINDS \
        and sum(isinstance(c, str) for c in cells) > len(cells) / 2
    return TypeCheck(ok, len(cells), tuple(parsing.show(c) for c in failing[:3]), texts and ok)


def options_of(found: FoundColumn) -> tuple[str, ...]:
    """A column's options: its declared ones, then the other wordings its cells hold (none if too many)."""
    seen: dict[str, None] = dict.fromkeys(found.choices)
    extra: dict[str, None] = {}
    for value in found.values:
        for item in (value if isinstance(value, list) else split_list(str(value)) if isinstance(value, str) else []):
            if item and item not in seen:
                extra[item] = None
    if not found.choices and len(extra) > MAX_FREE_CHOICES:
        return ()
    return tuple(seen) + tuple(extra)


# -- the proposal -----------------------------------------------------------------------------


@dataclass
class ColumnProposal:
    column: str  # the shipped name
    target: str | None = None  # the base's column; None: not decided
    how: str = ""
    note: str = ""  # English, for the file
    absent: bool = False  # proposed `= false`
    candidates: tuple[str, ...] = ()  # when not decided

    @property
    def decided(self) -> bool:
        return self.absent or self.target is not None


@dataclass
class ChoiceProposal:
    column: str
    choice: str
    wordings: tuple[str, ...]
    how: str


@dataclass
class TableProposal:
    code: str
    spec: TableSpec
    names: tuple[str, ...] = ()  # the base's tables holding it; () not found
    how: str = ""
    columns: list[ColumnProposal] = field(default_factory=list)
    choices: list[ChoiceProposal] = field(default_factory=list)
    unmatched_options: dict[str, tuple[str, ...]] = field(default_factory=dict)  # by shipped column
    extra: tuple[str, ...] = ()  # the base's columns left out
    notes: list[str] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return bool(self.names)


@dataclass
class Proposal:
    where: str
    tables: list[TableProposal]
    other_tables: tuple[str, ...]  # the base's tables matched to none of ours
    problems: tuple[str, ...]  # French: what the base's structure prevents reading


def _context(code: str, spec: TableSpec, names: Iterable[str]) -> frozenset[str]:
    words = set(tokens(spec.name)) | set(tokens(code))
    for phrase in TABLE_SYNONYMS.get(code, ()):
        words |= set(tokens(phrase))
    for name in names:
        words |= set(tokens(name))
    return frozenset(words)


def _table_name_level(code: str, spec: TableSpec, name: str) -> tuple[int, str]:
    how = name_match(spec.name, name)
    if how is not None:
        return HOW[how], how
    ours = [tokens(spec.name)] + [tokens(s) for s in TABLE_SYNONYMS.get(code, ())]
    theirs = tokens(name)
    if any(theirs == o for o in ours if o):
        return HOW[SYNONYM], SYNONYM
    if any(o and theirs[:len(o)] == o for o in ours):
        return 1, "name begins with"
    return 0, ""


def _column_score(spec: TableSpec, code: str, table: FoundTable) -> float:
    context = _context(code, spec, [table.name])
    names = [c.name for c in table.columns]
    hits = sum(1 for col in spec.columns if any(name_match(col.name, n, context) for n in names))
    return hits / len(spec.columns) if spec.columns else 0.0


def _similar(a: FoundTable, b: FoundTable) -> bool:
    x = {parsing.fold(c.name) for c in a.columns}
    y = {parsing.fold(c.name) for c in b.columns}
    return bool(x | y) and len(x & y) / len(x | y) >= 0.8


def match_tables(schema: Mapping[str, TableSpec], survey: Survey) -> dict[str, tuple[list[FoundTable], str]]:
    """Our tables → the base's table(s) holding each, and how they were matched."""
    usable = [t for t in survey.tables if t.columns]
    pairs = []
    for code, spec in schema.items():
        for table in usable:
            level, how = _table_name_level(code, spec, table.name)
            score = _column_score(spec, code, table)
            if spec.owner == "worker" and level < HOW[FOLDED]:
                continue  # the worker's own tables: by their name only
            # a name of ours (or a synonym) is enough with any column in common; a name that only begins
            # like ours needs a third of our columns; no name at all, half of them
            if (level >= HOW[SYNONYM] and score > 0) or level >= HOW[FOLDED] or (level >= 1 and score >= 0.3) \
                    or score >= 0.5:
                pairs.append((level, score, code, table, how or f"{CONTENT} ({round(score * 100)} % de ses colonnes)"))
    pairs.sort(key=lambda p: (-p[0], -p[1]))
    found: dict[str, tuple[list[FoundTable], str]] = {}
    taken: set[str] = set()
    for level, score, code, table, how in pairs:
        if code in found or table.name in taken:
            continue
        group = [table]
        for other_level, other_score, other_code, other, _ in pairs:
            if other_code == code and other.name not in taken and other is not table and other_level == level \
                    and _similar(table, other) and abs(other_score - score) <= 0.1:
                group.append(other)
        found[code] = (group, how if len(group) == 1 else f"{how}, tenue dans {len(group)} tables aux mêmes colonnes")
        taken.update(t.name for t in group)
    return found


def propose(schema: Mapping[str, TableSpec], survey: Survey) -> Proposal:
    """The mapping proposed for `survey`'s base (pure: what `adopt` writes and says comes from it)."""
    matched = match_tables(schema, survey)
    link_names = {code: tables[0].name for code, (tables, _) in matched.items()}
    proposals = []
    for code, spec in schema.items():
        proposal = TableProposal(code, spec)
        if code in matched:
            tables, proposal.how = matched[code]
            proposal.names = tuple(t.name for t in tables)
            _propose_columns(proposal, tables, link_names)
        proposals.append(proposal)
    used = {n for p in proposals for n in p.names}
    problems = tuple(f"« {t.name} » : {problem}" for t in survey.tables for problem in t.problems)
    return Proposal(survey.where, proposals, tuple(t.name for t in survey.tables if t.name not in used), problems)


def _propose_columns(proposal: TableProposal, tables: list[FoundTable], link_names: Mapping[str, str]) -> None:
    spec, main = proposal.spec, tables[0]
    context = _context(proposal.code, spec, proposal.names)
    free = {c.name: c for c in main.columns}
    ranked = []
    for index, column in enumerate(spec.columns):
        for found in main.columns:
            how = name_match(column.name, found.name, context)
            if how is not None:
                ranked.append((-HOW[how], index, column, found, how))
    ranked.sort(key=lambda r: (r[0], r[1]))
    chosen: dict[str, ColumnProposal] = {}
    for level, _, column, found, how in ranked:
        if column.name in chosen or found.name not in free:
            continue
        rivals = [r[3].name for r in ranked if r[2] is column and r[0] == level and r[3].name in free]
        if len(rivals) > 1:
            chosen[column.name] = ColumnProposal(column.name, how=how, candidates=tuple(rivals),
                                                 note=f"plusieurs colonnes correspondent ({how})")
            continue
        chosen[column.name] = ColumnProposal(column.name, found.name, how)
        del free[found.name]
    for column in spec.columns:  # by content: choices in other words, links to the table matched
        if column.name in chosen:
            continue
        fits = [f for f in free.values() if _content_fits(column, f, link_names)]
        if len(fits) == 1:
            chosen[column.name] = ColumnProposal(column.name, fits[0].name, CONTENT, note=_content_note(column, fits[0]))
            del free[fits[0].name]
        elif len(fits) > 1:
            chosen[column.name] = ColumnProposal(column.name, how=CONTENT, candidates=tuple(f.name for f in fits),
                                                 note="plusieurs colonnes correspondent par leur contenu")
    for column in spec.columns:
        current = chosen.get(column.name)
        if current is None:
            current = chosen[column.name] = _not_found(column, list(free.values()))
        elif current.target is not None:
            _check(current, column, main.column(current.target))
        proposal.columns.append(current)
        if current.target is not None and column.type in ("choice", "multi") and column.choices:
            _propose_choices(proposal, column, main.column(current.target))
    proposal.extra = tuple(free)
    for other in tables[1:]:
        missing = [c.name for c in main.columns if other.column(c.name) is None]
        if missing:
            proposal.notes.append(f"« {other.name} » n'a pas {', '.join(missing)} (lu vide dans cette table)")


def _content_fits(column: ColumnSpec, found: FoundColumn, link_names: Mapping[str, str]) -> bool:
    if column.type == "link":
        return found.link_to is not None and found.link_to == link_names.get(column.link_table or "")
    if column.type in ("choice", "multi") and column.choices:
        options = options_of(found)
        hits = {o for o in options for c in column.choices if choice_match(c, o)}
        return len(hits) >= 2 and len(hits) >= 0.5 * len(options)
    return False


def _content_note(column: ColumnSpec, found: FoundColumn) -> str:
    if column.type == "link":
        return f"lien vers « {found.link_to} »"
    return "ses options sont les choix de cette colonne, autrement formulés"


def _not_found(column: ColumnSpec, free: Sequence[FoundColumn]) -> ColumnProposal:
    if column.type in CHECKS:  # a typed column: the unmatched columns whose cells are of its type
        maybe = tuple(f.name for f in free if f.values and check_type(column, f).ok)
        if maybe:
            return ColumnProposal(column.name, candidates=maybe, note="aucune colonne de ce nom ; de ce type : "
                                  + ", ".join(f"« {m} »" for m in maybe))
    if column.required:
        return ColumnProposal(column.name, note="introuvable, et le robot en a besoin")
    return ColumnProposal(column.name, absent=True, note="introuvable : les fonctionnalités qui en ont besoin sont désactivées")


def _check(current: ColumnProposal, column: ColumnSpec, found: FoundColumn | None) -> None:
    if found is None:
        return
    result = check_type(column, found)
    if not result.ok:
        current.candidates = (current.target or "",)
        current.target = None
        current.note = (f"trouvée ({current.how}), mais {len(result.failing)}+ de {result.checked} cellules ne sont pas des "
                        f"{TYPE_WORDS.get(column.type, column.type)} (par ex. {', '.join(result.failing)}) : à vérifier")
    elif result.as_text:
        current.note = "saisie comme texte dans cette base ; ses cellules se lisent comme des dates"


def _propose_choices(proposal: TableProposal, column: ColumnSpec, found: FoundColumn | None) -> None:
    if found is None:
        return
    options = options_of(found)
    used: set[str] = set()
    for choice in column.choices:
        matches = [(o, choice_match(choice, o)) for o in options]
        wordings = [(o, how) for o, how in matches if how is not None]
        used.update(o for o, _ in wordings)
        if not wordings or [o for o, _ in wordings] == [choice]:
            continue  # the same wording (or none in the base: kept)
        weakest = min((how for _, how in wordings if how), key=lambda h: HOW[h])
        proposal.choices.append(ChoiceProposal(column.name, choice, tuple(o for o, _ in wordings), weakest))
    left = tuple(o for o in options if o not in used)
    if left:
        proposal.unmatched_options[column.name] = left
