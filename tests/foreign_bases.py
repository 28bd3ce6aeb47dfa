"""Three teams' own bases, holding the demo's data in their own shape, for `cantines adopt` and the
mapping layer (issue #16).

API (everything a test needs):

    from tests.foreign_bases import BASES, AIRTABLE, SHEETS, WORKBOOK, TODAY

    AIRTABLE.build(fake_airtable)                  # fills the fake's base (BASE_ID); counters reset after
    SHEETS.build(fake_sheets, key=KEY, account=ACCOUNT)  # adds spreadsheet KEY shared with ACCOUNT
    WORKBOOK.build(path)                           # writes the .xlsx file at `path`

    base.mapping      # the reviewed mapping file (TOML text, /work/tools/MAPPING.md): what staff keep
                      # after `cantines adopt` and review; `tomllib.loads(base.mapping)` for its data
    base.undecided    # ((table code, shipped column), ...): what adopt cannot decide on its own and
                      # leaves as a commented line `# "Responsable" = ?` (staff fill it in)
    base.extra        # {table code: (this base's columns the worker does not know, ...)}
    base.text_dates   # {table code: (shipped columns this base types as text "JJ/MM/AAAA", ...)}
    base.rows(today)  # {tab name: rows by this base's column names}: what `build` writes

Each base holds `automations.demo.demo_rows(today)` (the same cantines, opportunities, échéances, figures…)
renamed and reshaped by its mapping: other table and column names, choices worded their way (a choice
mapped to several wordings is written alternately in each), columns of their own (`extra`), optional
columns they lack (`= false` in the mapping: those columns are empty in the demo data, so a cycle gives
the same results), no Événements/Inscriptions tables (`absent = true`: the demo has no events), and:

- AIRTABLE ("Réseau Sud", the Airtable fake): cantines in « Réseau », opportunities in « Veille » whose
  « Statut » reads « À étudier / Retenue / Non retenue / Archivée », a convention's signature date typed
  as text, links by Airtable link fields (so adopt can follow them to their tables);
- SHEETS ("Cantines de l'Ouest", the Sheets fake): cantines kept in two tabs, « Cantines ouvertes » and
  « Cantines en projet » (`name = [...]` in the mapping), choices as data validation drop-downs;
- WORKBOOK ("Nord", an .xlsx file): lower-case, accent-less tab names, choices as data validations,
  an application's statuses « Accordée / Rejetée ».

The rows go in through the project's own table backends (a foreign TableSpec per tab), so values are
stored the way each backend stores them (Airtable typed fields, serial dates in Sheets, real dates in
the workbook); like `cantines init --with-demo-data`, Airtable refuses the demo's two deliberately
malformed values in typed fields (compare a foreign Airtable base with a shipped Airtable base).
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from connectors.tables.airtable.client import AirtableBase
from connectors.tables.airtable.http import Pacer
from connectors.tables.base import ColumnSpec, TableSpec
from connectors.tables.sheets.client import SheetsBook, connect
from connectors.tables.workbook import WorkbookStore

from automations.demo import demo_rows, fill_tables
from automations.domain.schema import Schema
from automations.settings.files import load_schema

REPO = Path(__file__).resolve().parents[1]
PARIS = ZoneInfo("Europe/Paris")
TODAY = dt.date(2026, 11, 24)
Rows = list[dict[str, Any]]


def shipped_schema() -> Schema:
    return load_schema(REPO / "config" / "schema.toml")


# -- the three reviewed mappings ---------------------------------------------------------------

AIRTABLE_MAPPING = """\
# Réseau Sud (Airtable)

[tables.cantines]
name = "Réseau"

[tables.cantines.columns]
"Nom" = "Nom de la cantine"
"Email responsable" = "Mail du/de la responsable"
"Responsable" = "Référent"
"Code postal" = "CP"

[tables.cantines.choices."Statut"]
"Ouverte" = "Active"
"En montage" = ["En création", "Projet"]
"En pause" = "En sommeil"

[tables.partenaires]
name = "Financeurs"

[tables.partenaires.columns]
"Email contact" = "E-mail du contact"
"Notes" = false

[tables.opportunites]
name = "Veille"

[tables.opportunites.columns]
"Partenaire" = "Financeur"
"Date limite" = "Échéance"
"Statut veille" = "Statut"
"Identifiant source" = false

[tables.opportunites.choices."Statut veille"]
"À qualifier" = "À étudier"
"Pertinente" = "Retenue"
"Écartée" = "Non retenue"

[tables.candidatures]
name = "Dossiers"

[tables.candidatures.columns]
"Intitulé" = "Nom du dossier"
"Responsable" = "Suivi par"

[tables.conventions.columns]
"Référence" = "N° de convention"

[tables.evenements]
absent = true

[tables.inscriptions]
absent = true
"""

SHEETS_MAPPING = """\
# Cantines de l'Ouest (Google Sheets)

[tables.cantines]
name = ["Cantines ouvertes", "Cantines en projet"]

[tables.cantines.columns]
"Email responsable" = "Courriel du responsable"
"Département" = "Dépt"
"Quartier prioritaire" = "QPV"

[tables.partenaires.columns]
"Notes" = false

[tables.opportunites]
name = "Appels à projets"

[tables.opportunites.columns]
"Titre" = "Nom de l'appel"
"Date limite" = "Deadline"
"Montant max" = "Montant maximum"
"Identifiant source" = false

[tables.opportunites.choices."Statut veille"]
"À qualifier" = "À étudier"
"Pertinente" = "Retenue"
"Écartée" = "Non retenue"

[tables.echeances]
name = "Échéancier"

[tables.echeances.columns]
"Date d'échéance" = "Date limite"

[tables.echeances.choices."Statut"]
"À venir" = "À faire"
"Payée" = "Payé"

[tables.indicateurs]
name = "Suivi mensuel"

[tables.questions]
name = "Hotline"

[tables.evenements]
absent = true

[tables.inscriptions]
absent = true
"""

WORKBOOK_MAPPING = """\
# Nord (workbook)

[tables.cantines]
name = "cantines"

[tables.cantines.columns]
"Email responsable" = "E-mail responsable"
"Responsable" = "Référente"

[tables.opportunites]
name = "opportunites"

[tables.opportunites.columns]
"Date limite" = "Date butoir"
"Identifiant source" = false

[tables.candidatures]
name = "candidatures"

[tables.candidatures.columns]
"Montant demandé" = "Montant sollicité"

[tables.candidatures.choices."Statut"]
"Acceptée" = "Accordée"
"Refusée" = "Rejetée"

[tables.echeances]
name = "Echeances"

[tables.evenements]
absent = true

[tables.inscriptions]
absent = true
"""


# -- columns of their own ----------------------------------------------------------------------

def _instagram(index: int, row: Mapping[str, Any]) -> str:
    return f"@{str(row.get('Nom', 'cantine')).lower().replace(' ', '')[:20]}"


Extra = tuple[ColumnSpec, Callable[[int, Mapping[str, Any]], Any]]

AIRTABLE_EXTRA: dict[str, tuple[Extra, ...]] = {
    "cantines": ((ColumnSpec("Instagram", "text"), _instagram),
                 (ColumnSpec("Nombre de couverts", "integer"), lambda i, r: 40 + i * 3)),
    "opportunites": ((ColumnSpec("Priorité", "choice", choices=("Haute", "Normale")),
                      lambda i, r: "Haute" if i % 5 == 0 else "Normale"),
                     (ColumnSpec("Notes internes", "long_text"), lambda i, r: "Vu en réunion d'équipe" if i % 3 == 0 else "")),
    "candidatures": ((ColumnSpec("Dossier partagé", "text"), lambda i, r: f"https://drive.example/dossiers/{i + 1}"),),
}
SHEETS_EXTRA: dict[str, tuple[Extra, ...]] = {
    "cantines": ((ColumnSpec("Téléphone", "text"), lambda i, r: f"02 40 00 {i:02d} {i * 3 % 100:02d}"),
                 (ColumnSpec("Remarques", "long_text"), lambda i, r: "Local partagé" if i % 4 == 0 else "")),
    "opportunites": ((ColumnSpec("Qui suit ?", "text"), lambda i, r: ("Camille", "Sacha", "Nour")[i % 3]),),
}
WORKBOOK_EXTRA: dict[str, tuple[Extra, ...]] = {
    "cantines": ((ColumnSpec("Commentaire interne", "long_text"), lambda i, r: "Visite à prévoir" if i % 5 == 0 else ""),),
    "echeances": ((ColumnSpec("Rappel envoyé ?", "checkbox"), lambda i, r: i % 2 == 0),),
}


# -- one base ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ForeignBase:
    """A team's base: its reviewed mapping, its own columns, and how to build it in its backend."""

    label: str
    backend: str  # "airtable", "sheets", "workbook"
    mapping: str
    extras: Mapping[str, tuple[Extra, ...]] = field(default_factory=dict)
    text_dates: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    undecided: tuple[tuple[str, str], ...] = ()
    # for a table kept in several tabs: which tab (index in the mapping's list) a row goes to
    split: Mapping[str, Callable[[Mapping[str, Any]], int]] = field(default_factory=dict)

    @property
    def mapping_data(self) -> dict[str, Any]:
        return tomllib.loads(self.mapping)

    @property
    def extra(self) -> dict[str, tuple[str, ...]]:
        return {code: tuple(spec.name for spec, _ in extras) for code, extras in self.extras.items()}

    def table_names(self, code: str) -> list[str]:
        """This base's tab or table names for a shipped table (several when it is split); [] if absent."""
        spec = shipped_schema()[code]
        declared = self.mapping_data.get("tables", {}).get(code, {})
        if declared.get("absent"):
            return []
        name = declared.get("name", spec.name)
        return [name] if isinstance(name, str) else list(name)

    def specs(self) -> dict[str, list[TableSpec]]:
        """This base's tables as TableSpecs (this base's names, choices and extra columns), by shipped code."""
        schema = shipped_schema()
        tables = self.mapping_data.get("tables", {})
        found: dict[str, list[TableSpec]] = {}
        for code, spec in schema.items():
            if spec.owner == "worker" or not self.table_names(code):
                continue  # the worker's own tables: `cantines init` (or the first run) creates them
            declared = tables.get(code, {})
            renames = declared.get("columns", {})
            choices = declared.get("choices", {})
            columns = []
            for column in spec.columns:
                target = renames.get(column.name, column.name)
                if target is False:
                    continue
                kind = "text" if column.name in self.text_dates.get(code, ()) else column.type
                wordings = choices.get(column.name, {})
                options = tuple(_first(wordings.get(c, c)) for c in column.choices)
                extra_options = tuple(w for c in column.choices for w in _all(wordings.get(c, c))[1:])
                columns.append(replace(column, name=target, type=kind, choices=options + extra_options))
            columns.extend(spec for spec, _ in self.extras.get(code, ()))
            key = tuple(renames.get(k, k) for k in spec.key if renames.get(k, k) is not False)
            found[code] = [TableSpec(code, name, tuple(columns), key or (columns[0].name,), spec.owner)
                           for name in self.table_names(code)]
        return found

    def rows(self, today: dt.date = TODAY) -> dict[str, Rows]:
        """What `build` writes: rows by this base's column names, by tab name."""
        schema = shipped_schema()
        tables = self.mapping_data.get("tables", {})
        out: dict[str, Rows] = {}
        for code, rows in demo_rows(today).items():
            names = self.table_names(code)
            if not names:
                continue
            declared = tables.get(code, {})
            renames = declared.get("columns", {})
            choices = declared.get("choices", {})
            spec = schema[code]
            for name in names:
                out.setdefault(name, [])
            for index, row in enumerate(rows):
                shaped: dict[str, Any] = {}
                for column in spec.columns:
                    target = renames.get(column.name, column.name)
                    if target is False or column.name not in row:
                        continue
                    value = row[column.name]
                    wordings = choices.get(column.name, {})
                    if wordings and isinstance(value, str):
                        value = _worded(wordings.get(value, value), index)
                    elif wordings and isinstance(value, list):
                        value = [_worded(wordings.get(v, v), index) for v in value]
                    if column.name in self.text_dates.get(code, ()) and isinstance(value, dt.date):
                        value = value.strftime("%d/%m/%Y")
                    shaped[target] = value
                for extra, make in self.extras.get(code, ()):
                    shaped[extra.name] = make(index, row)
                tab = names[self.split[code](row)] if code in self.split and len(names) > 1 else names[0]
                out[tab].append(shaped)
        return out

    # -- building it in its backend -----------------------------------------------------------

    def build(self, target: Any, *, today: dt.date = TODAY, **options: Any) -> None:
        """Build the base: `target` is a FakeAirtable, a FakeSheets (with key= and account=) or a path."""
        {"airtable": self._build_airtable, "sheets": self._build_sheets,
         "workbook": self._build_workbook}[self.backend](target, today, **options)

    def _tables_in_order(self) -> list[TableSpec]:
        return [spec for specs in self.specs().values() for spec in specs]

    def _build_airtable(self, fake: Any, today: dt.date, *, base_id: str | None = None, token: str | None = None) -> None:
        from tests.fakes.airtable import BASE_ID, TOKEN

        specs = self._tables_in_order()
        base = AirtableBase(token or TOKEN, base_id or BASE_ID, specs=specs, endpoint_url=fake.url,
                            timezone=PARIS, pacer=Pacer(1000, 1.0))  # make the fake with rate_limit=None
        try:
            base.ensure_all(specs)
            rows = self.rows(today)
            fill_tables({spec.name: base.table(spec) for spec in specs}, rows)
        finally:
            base.close()
        fake.reset_counts()

    def _build_sheets(self, fake: Any, today: dt.date, *, key: str, account: str) -> None:
        import json

        from tests.fakes.sheets import service_account_info

        fake.add_spreadsheet(key, title=f"Base {self.label}", shared_with=[account])
        http = connect(json.dumps(service_account_info(account, fake.token_uri)), endpoint_url=fake.url)
        book = SheetsBook(key, http=http, timezone=PARIS, label=self.label)
        specs = self._tables_in_order()
        book.ensure_all(specs)
        with book.batch():
            fill_tables({spec.name: book.table(spec) for spec in specs}, self.rows(today))
        book_sheet = fake.spreadsheets[key]
        default = book_sheet.sheet_by_title("Feuille 1")
        if default is not None and not default.rows:  # the new spreadsheet's empty first tab: staff deleted it
            book_sheet.sheets.remove(default)
        fake.reset_counts()

    def _build_workbook(self, path: Path, today: dt.date) -> None:
        path = Path(path)
        path.unlink(missing_ok=True)
        store = WorkbookStore(path, timezone=PARIS)
        specs = self._tables_in_order()
        with store.batch():
            tables = {spec.name: store.table(spec) for spec in specs}
            for table in tables.values():
                table.ensure_schema()
            fill_tables(tables, self.rows(today))


def _first(wording: str | list[str]) -> str:
    return wording if isinstance(wording, str) else wording[0]


def _all(wording: str | list[str]) -> list[str]:
    return [wording] if isinstance(wording, str) else list(wording)


def _worded(wording: str | list[str], index: int) -> str:
    """A choice's wording in this base; several wordings are used in turn, row after row."""
    options = _all(wording)
    return options[index % len(options)]


AIRTABLE = ForeignBase(
    "Réseau Sud", "airtable", AIRTABLE_MAPPING, extras=AIRTABLE_EXTRA,
    text_dates={"conventions": ("Date de signature",)},
    undecided=(("candidatures", "Responsable"),),
)
SHEETS = ForeignBase(
    "Cantines de l'Ouest", "sheets", SHEETS_MAPPING, extras=SHEETS_EXTRA,
    split={"cantines": lambda row: 0 if row.get("Statut") == "Ouverte" else 1},
)
WORKBOOK = ForeignBase("Nord", "workbook", WORKBOOK_MAPPING, extras=WORKBOOK_EXTRA)
BASES = {"airtable": AIRTABLE, "sheets": SHEETS, "workbook": WORKBOOK}
