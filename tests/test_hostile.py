"""Hostile input: what an attacker or a clumsy colleague can type into a cell costs that row only.

One shared workbook holds the demo plus one extra row per case (a column of each type × hostile
values: impossible dates, huge and negative numbers, French and foreign number formats, formulas,
Excel errors, control characters, line breaks, 100 000-character text, emoji, Jinja and HTML,
duplicate keys, unknown links). One cycle runs on it; each case then checks that its row is either a
French problem in Problèmes or taken as it is, and the whole run that the cycle completed, that every
message of the clean demo still went, that nothing was written back as a formula and that no staff
cell changed. A few cases run on the Airtable fake; Hypothesis drives the pure layer (parsing, keys,
message building) with what a list would not think of.
"""

from __future__ import annotations

import datetime as dt
import email
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from email import policy
from email.headerregistry import Address
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings as hsettings
from hypothesis import strategies as st

from automations.cycle.backends import ensure_tables, open_tables
from automations.cycle.run import RunReport, queue, run_cycle
from automations.demo import demo_rows, fill_tables, write_demo_workbook
from automations.domain import french
from automations.domain.model import parse_cell
from automations.domain.parsing import LAST_YEAR, FIRST_YEAR, NUMBER_LIMIT, ValueProblem
from automations.settings import Settings, load_settings
from connectors.mail import KEY_MAX_LENGTH, OutgoingMessage, build_message, safe_key
from connectors.mail.message import is_safe_key
from connectors.state import StateStore
from connectors.tables.airtable.http import Pacer
from connectors.tables.airtable.schema import from_airtable
from connectors.tables.base import ColumnSpec
from connectors.tables.values import normalise

from .conftest import PARIS, write_config
from .fakes.airtable import BASE_ID, TOKEN, FakeAirtable

TODAY = dt.date(2026, 11, 24)
NOW = dt.datetime(2026, 11, 24, 7, 30, tzinfo=PARIS)
FRENCH = re.compile(
    r"attendu|n'est pas|est hors|inconnu|obligatoire|ne correspond|doublon|trop grand|négatif|ambiguë|"
    r"une seule|pas d'|aucun|manquante|lien web|ce message"
)
PYTHON_ERROR = re.compile(r"Traceback|\b[A-Z]\w+(Error|Exception)\b")
WORKER_TABS = ("Correspondances", "Suggestions collectives", "Journal", "Problèmes")


def clock() -> dt.datetime:
    return NOW


# -- the cases -------------------------------------------------------------------------------

LONG = "x" * 100_000
TEXT_HOSTILE = {
    "formula": "=1+1",
    "formula-hyperlink": '=HYPERLINK("http://evil.example","clic")',
    "plus": "+33 6 12 34 56 78",
    "minus-formula": "-2+3",
    "at": "@SOMME(A1:A2)",
    "error-ref": "#REF!",
    "error-div0": "#DIV/0!",
    "line-break": "première ligne\nseconde ligne",
    "crlf": "ligne\r\nautre",
    "tab": "\tdécalé",
    "100k": LONG,
    "emoji": "Cantine 🍲🥖 👩‍🍳",
    "jinja": "{{ 7 * 7 }} {% for x in range(3) %}x{% endfor %}",
    "jinja-escape": "{{ ''.__class__.__mro__ }}",
    "html": "<script>alert(1)</script><b>gras</b> & co",
    "rtl-override": "abc\u202edcba",
    "zero-width": "Can\u200btine",
}
DATE_HOSTILE: dict[str, Any] = {
    "31-february": "31/02/2026",
    "year-9999-text": "9999-12-31",
    "year-9999-real": dt.datetime(9999, 12, 31),
    "year-0001": "01/01/0001",
    "two-digit-99": "01/02/99",
    "iso-time-99": "2027-03-02T99:99",
    "serial-3000000": 3000000,
    "serial-minus-1": -1,
    "serial-zero": 0,
    "negative-text": "-5",
    "word": "demain",
}
NUMBER_HOSTILE: dict[str, Any] = {
    "1e300": 1e300,
    "1e300-text": "1e300",
    "minus-huge": -1e20,
    "12€50": "12€50",
    "three-commas": "1,2,3",
    "100k-digits": "9" * 100_000,
    "word": "beaucoup",
}
NUMBER_FORMATS_OK = {"french": "1 234,5", "german": "1.234,5", "english": "1,234.5", "nbsp": "1\u202f234",
                     "largest": "999 999 999 999,99", "largest-number": 999_999_999_999}
# the edges of what is accepted: every later step (reminders, business days, French dates) handles them
DATE_EDGES_OK = {"last-day": "31/12/2099", "first-day": dt.datetime(1900, 1, 1), "two-digit-50": "01/02/50"}


@dataclass(frozen=True)
class Case:
    id: str
    table: str  # code
    column: str
    value: Any
    expect: str  # "problem" or "ok"
    general_format: bool = False  # the cell shows a plain number (a serial typed where no date format is)


def build_cases() -> list[Case]:
    cases: list[Case] = []

    def add(table: str, column: str, family: dict[str, Any], expect: Callable[[str], str]) -> None:
        for name, value in family.items():
            cases.append(Case(f"{table}.{column}={name}", table, column, value, expect(name),
                              general_format=name.startswith("serial")))

    problem = lambda _name: "problem"  # noqa: E731
    ok = lambda _name: "ok"  # noqa: E731
    # text columns take any text as it is (it is staff's text): the primary key, a plain and a long one
    for table, column in [("cantines", "Nom"), ("cantines", "Association"), ("partenaires", "Notes"),
                          ("opportunites", "Titre"), ("echeances", "Intitulé"), ("questions", "Question")]:
        add(table, column, TEXT_HOSTILE, ok)
    # a link staff type may end in an email's href: http(s) and mailto only
    add("opportunites", "Lien", {"javascript": "javascript:alert(document.cookie)",
                                 "data": "data:text/html,<script>alert(1)</script>",
                                 "vbscript": " VBScript:msgbox", "line-break": "https://a.example\njavascript:x"}, problem)
    add("opportunites", "Lien", {"https": "https://www.example.org/appel?id=1&x=2", "mailto": "mailto:appel@example.org"}, ok)
    # typed columns refuse what is not their type, with the expected form
    for table, column in [("echeances", "Date d'échéance"), ("cantines", "Date d'ouverture"),
                          ("opportunites", "Date limite"), ("offres", "Fin"), ("indicateurs", "Mois")]:
        add(table, column, DATE_HOSTILE, problem)
        add(table, column, DATE_EDGES_OK, ok)
        add(table, column, {k: v for k, v in TEXT_HOSTILE.items() if k in ("formula", "error-ref", "line-break", "emoji", "jinja")}, problem)
    for table, column in [("cantines", "Budget annuel"), ("opportunites", "Montant max"),
                          ("echeances", "Montant"), ("indicateurs", "Heures de bénévolat")]:
        add(table, column, NUMBER_HOSTILE, problem)
        add(table, column, NUMBER_FORMATS_OK, ok)
        add(table, column, {k: v for k, v in TEXT_HOSTILE.items() if k in ("formula", "error-div0", "emoji")}, problem)
    add("offres", "Places", {**NUMBER_HOSTILE, "negative": -3, "fraction": "2,5"}, problem)
    add("indicateurs", "Produits locaux (%)", {"150 %": "150 %", "-10": -10, "word": "moitié", "1e300": 1e300}, problem)
    add("cantines", "Email responsable", {"two-ats": "a@@b.example", "line-break": "a@b.example\nBcc: x@evil.example",
                                         "formula": "=1+1", "100k": LONG}, problem)
    add("cantines", "Emails en copie", {"one-bad": "ok@example.org, pas-une-adresse", "header-injection": "x@example.org\r\nBcc: y@evil.example"}, problem)
    add("cantines", "Reçoit les emails", {"peut-être": "peut-être", "formula": "=VRAI()", "error": "#N/A"}, problem)
    add("cantines", "Statut", {"unknown": "Fantôme", "formula": "=1+1", "emoji": "🍲"}, problem)
    add("cantines", "Thématiques", {"unknown": "Astrophysique", "line-break": "Culture\nAstrophysique"}, problem)
    add("echeances", "Convention", {"unknown": "CONV-9999-99", "formula": "=A1", "100k": LONG}, problem)
    add("echeances", "Cantine", {"unknown": "Cantine fantôme", "two": "Cantine des Canuts, Cantine du Port"}, problem)
    # a row repeating another's key: the first one wins, the copy is said
    for table in ("cantines", "opportunites", "partenaires", "conventions", "offres"):
        cases.append(Case(f"{table}=duplicate-key", table, "", None, "problem"))
    return cases


CASES = build_cases()


# -- the shared run --------------------------------------------------------------------------


@dataclass
class HostileRun:
    settings: Settings
    report: RunReport
    second: RunReport
    baseline_keys: set[str]
    rows: dict[str, int]  # case id → row number in its tab
    before: dict[str, list[list[tuple[Any, str]]]]  # staff tab → cells (value, data type) before the run
    problems: list[dict[str, Any]]
    book: openpyxl.Workbook


def sent_keys(settings: Settings) -> set[str]:
    """The keys of the messages in the outbox; a draft's by its échéance (its figures may differ)."""
    keys = set()
    for path in Path(settings.mail.outbox_dir).glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        key = " ".join(str(message["X-Cantines-Key"]).split())
        keys.add(key.rsplit(":", 1)[0] if key.startswith("draft:") else key)
    return keys


def cells(sheet: Any) -> list[list[tuple[Any, str]]]:
    return [[(c.value, c.data_type) for c in row] for row in sheet.iter_rows()]


def add_cases(settings: Settings) -> dict[str, int]:
    """Append one row per case: a copy of a row the demo parses cleanly, its key made unique, then the
    hostile value in the case's column."""
    book = openpyxl.load_workbook(settings.workbook.path)
    rows: dict[str, int] = {}
    for index, case in enumerate(CASES):
        spec = settings.schema[case.table]
        sheet = book[spec.name]
        header = {c.value: c.column for c in sheet[1]}
        source = TEMPLATE_ROW
        number = sheet.max_row + 1
        for column in range(1, sheet.max_column + 1):
            original = sheet.cell(row=source, column=column)
            target = sheet.cell(row=number, column=column)
            target.value = original.value
            target.number_format = original.number_format
        if case.column != "" or case.value is not None:
            unique(sheet, header, case, number, index)
        if case.column:
            cell = sheet.cell(row=number, column=header[case.column])
            cell.value = case.value
            if case.general_format:
                cell.number_format = "General"
        rows[case.id] = number
    book.save(settings.workbook.path)
    return rows


TEMPLATE_ROW = 2  # the demo's first row of each tab the cases use parses cleanly: the cases copy it


def unique(sheet: Any, header: dict[str, int], case: Case, number: int, index: int) -> None:
    """Give the copied row a key of its own (unless the case is about that very column)."""
    far = dt.datetime(2031, 1, 1) + dt.timedelta(days=31 * index)
    own = {
        "cantines": ("Nom", f"Cantine hostile {index:03d}"),
        "partenaires": ("Nom", f"Partenaire hostile {index:03d}"),
        "opportunites": ("Titre", f"Appel hostile {index:03d}"),
        "conventions": ("Référence", f"CONV-H-{index:03d}"),
        "offres": ("Nom", f"Offre hostile {index:03d}"),
        "echeances": ("Date d'échéance", far),
        "indicateurs": ("Mois", far.replace(day=1)),
        "questions": ("Question", f"Question hostile {index:03d}"),
    }[case.table]
    if own[0] != case.column:
        sheet.cell(row=number, column=header[own[0]]).value = own[1]
    if case.table == "echeances" and case.column == "Date d'échéance":
        sheet.cell(row=number, column=header["Intitulé"]).value = f"Échéance hostile {index:03d}"
    if case.table == "cantines" and case.column != "Statut":
        # matched to opportunities, but not competing with the demo's cantines for partner offers' places
        sheet.cell(row=number, column=header["Statut"]).value = "En montage"
    if case.table == "cantines" and case.column not in ("Nom", "Reçoit les emails"):
        sheet.cell(row=number, column=header["Reçoit les emails"]).value = False  # no digest for each copy
    if case.table == "opportunites" and case.column != "Date limite":
        # matched (into digests and Correspondances) only when the case is about what they show
        shown = ("Titre", "Lien", "Montant max")
        deadline = dt.datetime(2027, 1, 15) if case.column in shown else dt.datetime(2026, 10, 1)
        sheet.cell(row=number, column=header["Date limite"]).value = deadline


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileRun]:
    folder = tmp_path_factory.mktemp("hostile")
    clean = load_settings(write_config(folder / "clean"), {})
    write_demo_workbook(clean, TODAY)
    baseline = run_cycle(clean, today=TODAY, clock=clock)
    assert not baseline.errors and baseline.sent > 20

    settings = load_settings(write_config(folder / "hostile"), {})
    write_demo_workbook(settings, TODAY)
    rows = add_cases(settings)
    staff = {spec.name for spec in settings.schema.values() if spec.owner == "staff"}
    book = openpyxl.load_workbook(settings.workbook.path)
    before = {sheet.title: cells(sheet) for sheet in book.worksheets if sheet.title in staff}
    report = run_cycle(settings, today=TODAY, clock=clock)
    second = run_cycle(settings, today=TODAY, clock=clock)
    book = openpyxl.load_workbook(settings.workbook.path)
    sheet = book[settings.schema["problemes"].name]
    names = [c.value for c in sheet[1]]
    problems = [dict(zip(names, (c.value for c in row))) for row in sheet.iter_rows(min_row=2)]
    yield HostileRun(settings, report, second, sent_keys(clean), rows, before, problems, book)
    shutil.rmtree(folder, ignore_errors=True)


def problems_of(run: HostileRun, case: Case) -> list[dict[str, Any]]:
    table = run.settings.schema[case.table].name
    where = f"ligne {run.rows[case.id]}"
    return [p for p in run.problems
            if p["Table"] == table and (p["Ligne"] == where or str(p["Ligne"]).startswith(where + " "))]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_hostile_cell_is_a_french_problem_or_taken_as_typed(hostile: HostileRun, case: Case) -> None:
    found = problems_of(hostile, case)
    if case.expect == "ok":
        assert found == [], found
        return
    assert found, f"no problem for {case.id}"
    for problem in found:
        assert FRENCH.search(problem["Problème"]) and not PYTHON_ERROR.search(problem["Problème"]), problem
        assert len(problem["Problème"]) <= 2000 and len(str(problem["Valeur"] or "")) <= 200
    if case.column and not case.id.endswith("duplicate-key"):
        assert any(p["Colonne"] == case.column for p in found), found


def test_the_run_completes_and_every_clean_message_still_goes(hostile: HostileRun) -> None:
    report = hostile.report
    assert report.errors == [] and report.finished_at is not None
    assert report.result == "Avertissements"
    missing = hostile.baseline_keys - sent_keys(hostile.settings)
    assert missing == set()
    assert report.sent == report.queued > 0 and report.pending == 0
    # the next run on the same data sends nothing again and says the same problems
    assert (hostile.second.queued, hostile.second.sent, hostile.second.errors) == (0, 0, [])
    assert len(hostile.second.problems) == len(report.problems)


def test_nothing_is_written_back_as_a_formula_or_an_error(hostile: HostileRun) -> None:
    checked = 0
    for sheet in hostile.book.worksheets:
        before = hostile.before.get(sheet.title, [])
        for r, row in enumerate(sheet.iter_rows()):
            for c, cell in enumerate(row):
                if r < len(before) and c < len(before[r]):
                    continue  # a staff cell as staff left it (checked below)
                if cell.value is None:
                    continue
                checked += 1
                assert cell.data_type not in ("f", "e"), (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str) and cell.value.startswith(("=", "+", "-", "@", "\t")):
                    assert cell.quotePrefix, (sheet.title, cell.coordinate, cell.value)
    assert checked > 1000
    # the hostile values did reach written cells: Problèmes « Valeur », Correspondances « Cantine »
    values = {p["Valeur"] for p in hostile.problems}
    assert {"=1+1", "#REF!", "=A1"} <= values
    matches = hostile.book[hostile.settings.schema["correspondances"].name]
    names = [c.value for c in matches[1]]
    cantines = {row[names.index("Cantine")].value: row[names.index("Cantine")] for row in matches.iter_rows(min_row=2)}
    for text in ("=1+1", '=HYPERLINK("http://evil.example","clic")', "@SOMME(A1:A2)", "#REF!"):
        assert text in cantines, text
        assert cantines[text].data_type == "s" and cantines[text].quotePrefix


def test_no_staff_cell_changes(hostile: HostileRun) -> None:
    for title, before in hostile.before.items():
        after = cells(hostile.book[title])
        assert len(after) >= len(before)
        for r, row in enumerate(before):
            assert after[r][: len(row)] == row, (title, r + 1)


def test_messages_carry_safe_headers_and_escaped_data(hostile: HostileRun) -> None:
    outbox = Path(hostile.settings.mail.outbox_dir)
    emls = sorted(outbox.glob("*.eml"))
    hashed = jinja = scripts = 0
    for path in emls:
        raw = path.read_bytes()
        head = raw.split(b"\r\n\r\n", 1)[0]
        assert b"\n" not in head.replace(b"\r\n", b""), path.name  # no bare line feed in the headers
        unfolded = re.sub(rb"\r\n[ \t]+", b" ", head)
        key = next(line for line in unfolded.split(b"\r\n") if line.startswith(b"X-Cantines-Key:"))
        assert len(key) < KEY_MAX_LENGTH + 100 and b"Bcc" not in head
        hashed += b"~" in key
        message = email.message_from_bytes(raw, policy=policy.default)
        html = message.get_body(("html",))
        if html is not None:
            content = html.get_content()
            assert "<script>alert(1)" not in content and "javascript:" not in content.lower()
            assert not re.search(r"href=\"(?!https?:|mailto:|#)", content), path.name
        subject = str(message["Subject"])
        if "{{ 7 * 7 }}" in subject:  # the cantine named in Jinja: its name as typed, never evaluated
            jinja += 1
            assert "{{ 7 * 7 }}" in message.get_body(("plain",)).get_content()
        if "<script>" in subject:  # the cantine named in HTML: escaped in the HTML part
            scripts += 1
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html.get_content()  # type: ignore[union-attr]
    assert hashed >= 3 and jinja >= 1 and scripts >= 1  # names with line breaks, tab, 100k: hashed keys
    # the largest amount accepted, in French, in the digests that show the opportunity
    texts = [email.message_from_bytes(p.read_bytes(), policy=policy.default).get_body(("plain",)).get_content()
             for p in emls]
    assert any(re.search(r"999\W999\W999\W999", t) for t in texts)


# -- the Airtable fake: a few cases through the real client ----------------------------------


def test_hostile_values_on_airtable_cost_their_row_only(make_settings: Callable[..., Settings]) -> None:
    with FakeAirtable(rate_limit=None) as fake:
        environ = {"AIRTABLE_TOKEN": TOKEN, "AIRTABLE_BASE_ID": BASE_ID, "AIRTABLE_ENDPOINT_URL": fake.url}
        settings = make_settings(folder="airtable", tables='backend = "airtable"', environ=environ)
        tables = open_tables(settings, airtable_options={"pacer": Pacer(1000, 1.0)})
        ensure_tables(tables)
        demo = demo_rows(TODAY)
        assert fill_tables(tables, demo) != []  # the demo's deliberate bad values Airtable's typed fields refuse
        canuts = {k: v for k, v in next(r for r in fake.rows("Cantines") if r["Nom"] == "Cantine des Canuts").items()
                  if k not in ("id", "Nom", "Email responsable", "Emails en copie")}
        fake.add_records("Cantines", [
            {**canuts, "Nom": "Cantine\nà la ligne", "Email responsable": "ligne@example.org"},
            {**canuts, "Nom": "Cantine \x07 sonnante \x00", "Email responsable": "bip@example.org"},
            {**canuts, "Nom": "=HYPERLINK(\"http://evil.example\")", "Email responsable": "f@example.org"},
            {**canuts, "Nom": "Cantine " + "très " * 400 + "longue", "Email responsable": "long@example.org"},
            {**canuts, "Nom": "Cantine riche", "Budget annuel": 1e300, "Email responsable": "riche@example.org"},
        ])
        opportunity = {k: v for k, v in next(r for r in fake.rows("Opportunités") if r["Titre"] == demo["opportunites"][0]["Titre"]).items()
                       if k != "id"}
        fake.add_records("Opportunités", [{**opportunity, "Titre": "Appel au lien piégé", "Lien": "javascript:alert(1)"}])
        echeance = {k: v for k, v in fake.rows("Échéances")[0].items() if k != "id"}
        fake.add_records("Échéances", [{**echeance, "Intitulé": "Bilan lointain", "Date d'échéance": "9999-12-31"}])
        report = run_cycle(settings, today=TODAY, clock=clock, tables=tables)
        assert report.errors == []
        problems = {(p.table, p.column): p.message for p in report.problems}
        assert "trop grand" in problems[("Cantines", "Budget annuel")]
        assert "hors des dates possibles" in problems[("Échéances", "Date d'échéance")]
        assert "n'est pas un lien web" in problems[("Opportunités", "Lien")]
        outbox = b"".join(path.read_bytes() for path in Path(settings.mail.outbox_dir).glob("*.eml"))
        for address in (b"des-canuts@", b"ligne@", b"bip@", b"f@example.org", b"long@"):
            assert address in outbox, address  # every cantine's digest went, hostile names included
        assert b"riche@" not in outbox and b"javascript:" not in outbox
        assert report.sent == report.queued > 20
        written = fake.rows("Problèmes")
        assert written and all(isinstance(r.get("Valeur", ""), str) for r in written)


# -- the pure layer under Hypothesis ---------------------------------------------------------

ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=600) | st.sampled_from(
    [LONG, "a\nb", "a\r\nb", "a\u2028b", "a\x85b", "\ud800", "  ", "", "x" * 501, "é" * 500]
)
SPECIAL_NUMBERS = st.sampled_from([
    float("inf"), float("-inf"), float("nan"), -0.0, 5e-324, 1.7976931348623157e308, 2**63, -(2**63), 10**400,
    Decimal("Infinity"), Decimal("-Infinity"), Decimal("NaN"), Decimal("sNaN"), Decimal("1E+999999"),
    Decimal("1E-999999"), 2958465, 2958466, 0.5, 1, 0, -1, 60, 61,  # serials: 31/12/9999, beyond, Excel's 1900
])
ANY_VALUE = (
    ANY_TEXT
    | SPECIAL_NUMBERS
    | st.integers(min_value=-10**30, max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.decimals(allow_nan=True, allow_infinity=True)
    | st.dates()
    | st.datetimes(timezones=st.none() | st.just(dt.timezone.utc) | st.just(dt.timezone(dt.timedelta(hours=-12))))
    | st.booleans()
    | st.lists(ANY_TEXT, max_size=3)
)
TYPED = [
    ColumnSpec(name="Date", type="date"), ColumnSpec(name="Mois", type="date"),
    ColumnSpec(name="Heure", type="datetime"), ColumnSpec(name="Montant", type="amount"),
    ColumnSpec(name="Nombre", type="number"), ColumnSpec(name="Entier", type="integer"),
    ColumnSpec(name="Part", type="percent"), ColumnSpec(name="Case", type="checkbox"),
    ColumnSpec(name="Email", type="email"), ColumnSpec(name="Emails", type="emails"),
    ColumnSpec(name="Choix", type="choice", choices=("Ouverte", "Fermée")),
    ColumnSpec(name="Texte", type="text"),
]


@hsettings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=ANY_VALUE, column=st.sampled_from(TYPED))
def test_any_cell_parses_into_something_every_later_step_handles_or_is_a_problem(raw: Any, column: ColumnSpec) -> None:
    value = normalise(column, raw, PARIS)  # never raises, whatever a backend hands over
    if value in (None, [], ""):
        return
    try:
        parsed = parse_cell(column, value, PARIS)
    except ValueProblem as exc:
        assert FRENCH.search(str(exc)) and len(str(exc)) < 400
        return
    if isinstance(parsed, dt.date):
        day = parsed.date() if isinstance(parsed, dt.datetime) else parsed
        assert FIRST_YEAR <= day.year <= LAST_YEAR
        french.date_longue(day), french.date_courte(day)
        (day + dt.timedelta(days=400)) - dt.timedelta(days=400)  # reminders and business days
    if isinstance(parsed, Decimal):
        assert parsed.is_finite() and abs(parsed) < NUMBER_LIMIT
        french.euros(parsed), french.nombre(parsed)


@hsettings(max_examples=400, deadline=None)
@given(key=ANY_TEXT)
def test_any_key_becomes_a_safe_key_and_a_buildable_message(key: str) -> None:
    safe = safe_key(key)
    assert safe == safe_key(key) and is_safe_key(safe)
    assert len(safe) <= KEY_MAX_LENGTH and "\n" not in safe and "\r" not in safe
    if is_safe_key(key):
        assert safe == key  # keys already in state stores keep their value: nothing is sent again
    else:
        assert safe.isascii() and re.fullmatch(r".*~[0-9a-f]{32}", safe)
    outgoing = OutgoingMessage(key=key, kind="essai", sender=Address("R", "r", "example.org"),
                               to=("a@example.org",), subject="Objet", text="Bonjour")
    assert outgoing.key == safe
    raw = build_message(outgoing, date=NOW).as_bytes(policy=policy.SMTP)
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert b"\n" not in head.replace(b"\r\n", b"")
    header = str(email.message_from_bytes(raw, policy=policy.default)["X-Cantines-Key"])
    if safe.isascii():
        assert " ".join(header.split()) == safe
    else:  # Python's folder may drop a space between two RFC 2047 words: the state store has the key
        assert "".join(header.split()) == "".join(safe.split())


@hsettings(max_examples=200, deadline=None)
@given(first=ANY_TEXT, second=ANY_TEXT)
def test_different_keys_stay_different(first: str, second: str) -> None:
    if first != second:
        assert safe_key(first) != safe_key(second)


@pytest.mark.parametrize(
    ("key", "kept"),
    [
        pytest.param("reminder:bilan:CONV-1|Bilan|Cantine des Canuts:2026-12-01:-7", True, id="today-ascii"),
        pytest.param("digest:cantine:Cantine de l'Écusson:2026-S48", True, id="today-accents-kept"),
        pytest.param("digest:cantine:Cantine 🍲:2026-S48", True, id="emoji-kept"),
        pytest.param("digest:cantine:Cantine\nX:2026-S48", False, id="line-break-hashed"),
        pytest.param("digest:cantine:Cantine\u00a0X:2026-S48", False, id="nbsp-hashed"),
        pytest.param("digest:cantine:" + "Fondation " * 60, False, id="over-500-hashed"),
        pytest.param("digest:cantine:Cantine  X:2026-S48", False, id="double-space-hashed"),
    ],
)
def test_todays_safe_keys_are_kept_and_only_unsafe_ones_hashed(key: str, kept: bool) -> None:
    assert (safe_key(key) == key) is kept
    if not kept:
        assert safe_key(key).startswith("digest:cantine:Cantine X" if "X" in key else "digest:cantine:Fondation")


def outgoing(key: str, subject: str = "Objet") -> OutgoingMessage:
    return OutgoingMessage(key=key, kind="essai", sender=Address("R", "r", "example.org"),
                           to=("a@example.org",), subject=subject, text="Bonjour")


def test_an_unbuildable_message_costs_itself_only_and_every_key_fits_the_store(store: StateStore) -> None:
    messages = [
        outgoing("digest:cantine:Cantine saine:2026-S48"),
        outgoing("digest:cantine:Cantine orpheline:2026-S48", subject="Cantine \ud800 : votre semaine"),
        outgoing("digest:cantine:" + "Fondation Très Longue " * 40 + ":2026-S48"),  # 880 characters
        outgoing("digest:cantine:Cantine\nà la ligne:2026-S48"),
    ]
    report = RunReport(today=TODAY, started_at=NOW)
    queue(store, messages, NOW, report)
    assert report.queued == 3
    (problem,) = report.problems
    assert problem.table == "Emails" and "n'a pas pu être préparé" in problem.message
    assert store.known_keys([m.key for m in messages]) == {messages[0].key, messages[2].key, messages[3].key}
    queue(store, messages, NOW, report)  # the next run: the same keys, nothing queued twice
    assert report.queued == 3 and report.already_queued == 3


@pytest.mark.parametrize("column_type", ["date", "datetime"])
def test_a_moment_beyond_year_9999_in_paris_is_a_problem_not_a_crash(column_type: str) -> None:
    column = ColumnSpec(name="Date", type=column_type)
    for raw in (from_airtable(column, "9999-12-31T23:59:00.000Z", PARIS),
                dt.datetime(9999, 12, 31, 23, 59, tzinfo=dt.timezone.utc)):
        with pytest.raises(ValueProblem, match="hors des dates possibles"):
            parse_cell(column, normalise(column, raw, PARIS), PARIS)
