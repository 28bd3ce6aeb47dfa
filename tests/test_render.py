"""French filters and the sandboxed email renderer."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2.exceptions
import pytest

from automations.cycle.render import Renderer, TemplateFailure
from automations.domain.french import (
    FILTERS,
    FilterError,
    date_courte,
    date_heure,
    date_longue,
    delai,
    euros,
    nombre,
    pluriel,
    pourcent,
)
from connectors.errors import ConfigurationError

NBSP = "\u00a0"
NNBSP = "\u202f"  # Babel's thousands separator for fr_FR
PARIS = ZoneInfo("Europe/Paris")


# -- filters ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(dt.date(2026, 3, 2), "lundi 2 mars 2026", id="monday"),
        pytest.param(dt.date(2026, 12, 1), "mardi 1er décembre 2026", id="first-of-month-is-1er"),
        pytest.param(dt.date(2026, 1, 1), "jeudi 1er janvier 2026", id="new-year"),
        pytest.param(dt.date(2026, 8, 15), "samedi 15 août 2026", id="accented-month"),
        pytest.param(dt.datetime(2026, 3, 2, 23, 59), "lundi 2 mars 2026", id="datetime-shows-its-day"),
        pytest.param(None, "", id="none"),
    ],
)
def test_date_longue(value: dt.date | None, expected: str) -> None:
    assert date_longue(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(dt.date(2026, 3, 2), "02/03/2026", id="day-first-zero-padded"),
        pytest.param(dt.date(2026, 12, 31), "31/12/2026", id="end-of-year"),
        pytest.param(None, "", id="none"),
    ],
)
def test_date_courte(value: dt.date | None, expected: str) -> None:
    assert date_courte(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(dt.datetime(2026, 3, 2, 7, 30, tzinfo=PARIS), "lundi 2 mars 2026 à 07:30", id="morning"),
        pytest.param(None, "", id="none"),
    ],
)
def test_date_heure(value: dt.datetime | None, expected: str) -> None:
    assert date_heure(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(12500, f"12{NNBSP}500{NBSP}€", id="thousands-no-cents"),
        pytest.param(Decimal("12500.00"), f"12{NNBSP}500{NBSP}€", id="zero-cents-dropped"),
        pytest.param(12500.0, f"12{NNBSP}500{NBSP}€", id="whole-float"),
        pytest.param(Decimal("12500.50"), f"12{NNBSP}500,50{NBSP}€", id="cents-with-comma"),
        pytest.param(Decimal("1500.5"), f"1{NNBSP}500,50{NBSP}€", id="one-decimal-shows-two"),
        pytest.param(1500000, f"1{NNBSP}500{NNBSP}000{NBSP}€", id="millions"),
        pytest.param(0, f"0{NBSP}€", id="zero"),
        pytest.param(None, "", id="none"),
    ],
)
def test_euros(value: Decimal | int | float | None, expected: str) -> None:
    assert euros(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(1234, f"1{NNBSP}234", id="thousands"),
        pytest.param(Decimal("1234.5"), f"1{NNBSP}234,5", id="decimal-comma"),
        pytest.param(12, "12", id="small"),
        pytest.param(0, "0", id="zero"),
        pytest.param(None, "", id="none"),
    ],
)
def test_nombre(value: Decimal | int | None, expected: str) -> None:
    assert nombre(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(0.45, f"45{NBSP}%", id="fraction-float"),
        pytest.param(Decimal("0.45"), f"45{NBSP}%", id="fraction-decimal"),
        pytest.param(Decimal("0.455"), f"45,5{NBSP}%", id="one-decimal"),
        pytest.param(1, f"100{NBSP}%", id="whole"),
        pytest.param(0, f"0{NBSP}%", id="zero"),
        pytest.param(None, "", id="none"),
    ],
)
def test_pourcent(value: Decimal | float | None, expected: str) -> None:
    assert pourcent(value) == expected


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        pytest.param(0, "aujourd'hui", id="today"),
        pytest.param(1, "demain", id="tomorrow"),
        pytest.param(-1, "hier", id="yesterday"),
        pytest.param(2, "dans 2 jours", id="in-2-days"),
        pytest.param(7, "dans 7 jours", id="in-a-week"),
        pytest.param(-3, "il y a 3 jours", id="3-days-ago"),
    ],
)
def test_delai(days: int, expected: str) -> None:
    assert delai(days) == expected


@pytest.mark.parametrize(
    ("count", "singular", "plural", "expected"),
    [
        pytest.param(0, "échéance", None, "0 échéance", id="zero-is-singular-in-french"),
        pytest.param(1, "échéance", None, "1 échéance", id="one"),
        pytest.param(2, "échéance", None, "2 échéances", id="two-adds-s"),
        pytest.param(3, "bénévole actif", "bénévoles actifs", "3 bénévoles actifs", id="explicit-plural"),
        pytest.param(1, "bénévole actif", "bénévoles actifs", "1 bénévole actif", id="explicit-singular"),
    ],
)
def test_pluriel(count: int, singular: str, plural: str | None, expected: str) -> None:
    assert pluriel(count, singular, plural) == expected


# -- renderer --------------------------------------------------------------------------------

SUBJECT = "{{ cantine }} : {{ n | pluriel('échéance') }} à venir\n"
BODY_TXT = (
    "Bonjour {{ cantine }},\n\n"
    "{% for e in echeances %}\n- {{ e.titre }} : {{ e.date | date_longue }}\n{% endfor %}\n"
)
BODY_HTML = (
    "<p>Bonjour {{ cantine }},</p>\n"
    "<ul>{% for e in echeances %}<li>{{ e.titre }} : {{ e.montant | euros }}</li>{% endfor %}</ul>\n"
)


def write_templates(root: Path, name: str = "x", **parts: str) -> Path:
    folder = root / "emails" / name
    folder.mkdir(parents=True, exist_ok=True)
    defaults = {"subject.txt": SUBJECT, "body.txt": BODY_TXT, "body.html": BODY_HTML}
    for filename, text in {**defaults, **{k.replace("_", "."): v for k, v in parts.items()}}.items():
        (folder / filename).write_text(text, encoding="utf-8")
    return root


def context(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "cantine": "Alpha & Oméga <SARL>",
        "n": 2,
        "echeances": [
            {"titre": "Bilan final", "date": dt.date(2026, 3, 2), "montant": Decimal("12500")},
            {"titre": "Versement", "date": dt.date(2026, 12, 1), "montant": Decimal("1500.50")},
        ],
    }
    values.update(overrides)
    return values


def test_filters_are_registered_in_both_environments(tmp_path: Path) -> None:
    renderer = Renderer(tmp_path)
    for name, function in FILTERS.items():
        assert renderer.text_env.filters[name] is function
        assert renderer.html_env.filters[name] is function


def test_html_escapes_values_subject_and_text_keep_them_raw(tmp_path: Path) -> None:
    renderer = Renderer(write_templates(tmp_path, subject_txt="{{ cantine }}", body_txt="{{ cantine }}"))
    email = renderer.email("x", context())
    assert email.subject == "Alpha & Oméga <SARL>"
    assert email.text == "Alpha & Oméga <SARL>\n"
    assert "Alpha &amp; Oméga &lt;SARL&gt;" in email.html
    assert "<SARL>" not in email.html
    assert "<p>Bonjour " in email.html  # the template's own markup is not escaped


def test_email_parts_with_filters(tmp_path: Path) -> None:
    renderer = Renderer(write_templates(tmp_path))
    email = renderer.email("x", context())
    assert email.subject == "Alpha & Oméga <SARL> : 2 échéances à venir"
    assert email.text == (
        "Bonjour Alpha & Oméga <SARL>,\n\n"
        "- Bilan final : lundi 2 mars 2026\n"
        "- Versement : mardi 1er décembre 2026\n"
    )
    assert f"<li>Bilan final : 12{NNBSP}500{NBSP}€</li>" in email.html
    assert f"<li>Versement : 1{NNBSP}500,50{NBSP}€</li>" in email.html


def test_subject_is_collapsed_to_one_line(tmp_path: Path) -> None:
    renderer = Renderer(write_templates(tmp_path, subject_txt="\n  Rappel :\n\n   {{ cantine }}  \n\t bientôt\n"))
    email = renderer.email("x", context(cantine="Cantine Lyon"))
    assert email.subject == "Rappel : Cantine Lyon bientôt"
    assert "\n" not in email.subject


def test_text_part_ends_with_exactly_one_newline(tmp_path: Path) -> None:
    renderer = Renderer(write_templates(tmp_path, body_txt="\n\nBonjour\n\n\n\n"))
    assert renderer.email("x", context()).text == "Bonjour\n"


@pytest.mark.parametrize(
    "part",
    [
        pytest.param("subject_txt", id="subject"),
        pytest.param("body_txt", id="text"),
        pytest.param("body_html", id="html"),
    ],
)
def test_undefined_variable_fails_loudly(tmp_path: Path, part: str) -> None:
    renderer = Renderer(write_templates(tmp_path, **{part: "Bonjour {{ cantnie }}"}))
    with pytest.raises(TemplateFailure, match="cantnie") as caught:
        renderer.email("x", context())
    assert isinstance(caught.value.__cause__, jinja2.exceptions.UndefinedError)
    assert "le modèle « x » ne peut pas être rendu" in str(caught.value)


def test_undefined_attribute_fails_loudly(tmp_path: Path) -> None:
    renderer = Renderer(write_templates(tmp_path, body_txt="{% for e in echeances %}{{ e.montnat }}{% endfor %}"))
    with pytest.raises(TemplateFailure) as caught:
        renderer.email("x", context())
    assert isinstance(caught.value.__cause__, jinja2.exceptions.UndefinedError)


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("{{ ''.__class__.__mro__ }}", id="class-mro"),
        pytest.param("{{ cantine.__class__ }}", id="dunder-on-context-value"),
        pytest.param("{{ echeances.append(1) }}", id="mutating-a-list"),
        pytest.param("{{ echeances[0].clear() }}", id="mutating-a-dict"),
    ],
)
def test_sandbox_refuses_unsafe_access(tmp_path: Path, source: str) -> None:
    renderer = Renderer(write_templates(tmp_path, body_html=source))
    values = context()
    with pytest.raises(TemplateFailure) as caught:
        renderer.email("x", values)
    assert isinstance(caught.value.__cause__, jinja2.exceptions.SecurityError)
    assert len(values["echeances"]) == 2
    assert values["echeances"][0]["titre"] == "Bilan final"


def test_missing_template_folder_is_a_configuration_error(tmp_path: Path) -> None:
    renderer = Renderer(write_templates(tmp_path))
    with pytest.raises(ConfigurationError) as info:
        renderer.email("inconnu", context())
    assert "fichier de modèle introuvable" in str(info.value)
    assert str(tmp_path / "emails" / "inconnu" / "subject.txt") in str(info.value)


def test_missing_html_part_is_a_configuration_error(tmp_path: Path) -> None:
    write_templates(tmp_path)
    (tmp_path / "emails" / "x" / "body.html").unlink()
    with pytest.raises(ConfigurationError, match=r"body\.html"):
        Renderer(tmp_path).email("x", context())


# -- template slips: each a TemplateFailure in French naming the file and line ------------------


@pytest.mark.parametrize(
    ("body", "cause", "expected"),
    [
        pytest.param("{{ 1/0 }}", ZeroDivisionError, "division par zéro", id="division-by-zero"),
        pytest.param("{{ cantine|euros }}", FilterError, "le filtre « euros » attend un nombre, pas le texte « Alpha",
                     id="euros-on-text"),
        pytest.param("{{ cantine|date_longue }}", FilterError, "le filtre « date_longue » attend une date",
                     id="date-longue-on-text"),
        pytest.param("{{ n|date_courte }}", FilterError, "attend une date, pas le nombre 2", id="date-courte-on-number"),
        pytest.param("{{ cantine|delai }}", FilterError, "le filtre « delai » attend un nombre de jours", id="delai-on-text"),
        pytest.param("{{ big|euros }}", FilterError, "ne peut pas afficher le nombre 1E+300", id="euros-beyond-precision"),
        pytest.param("{% if vide > 3 %}x{% endif %}", TypeError, "une valeur vide comparée", id="comparing-none"),
        pytest.param("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", RecursionError, "appels sans fin",
                     id="recursive-macro"),
        pytest.param("{% include 'emails/absent.txt' %}", jinja2.exceptions.TemplateNotFound,
                     "« emails/absent.txt » est introuvable", id="include-missing"),
        pytest.param("{% include '../../../../etc/passwd' %}", jinja2.exceptions.TemplateNotFound,
                     "hors de ce dossier sont refusées", id="include-outside"),
        pytest.param("{% include '/etc/passwd' %}", jinja2.exceptions.TemplateNotFound, "introuvable",
                     id="include-absolute"),
        pytest.param("{% if %}", jinja2.exceptions.TemplateSyntaxError, "erreur de syntaxe", id="syntax"),
    ],
)
def test_a_template_slip_is_a_french_failure_naming_the_file(
    tmp_path: Path, body: str, cause: type[BaseException], expected: str,
) -> None:
    renderer = Renderer(write_templates(tmp_path, body_txt="Bonjour,\n" + body + "\n"))
    with pytest.raises(TemplateFailure) as caught:
        renderer.email("x", context(vide=None, big=Decimal("1e300")))
    assert isinstance(caught.value.__cause__, cause)
    assert caught.value.template == "emails/x/body.txt"
    message = str(caught.value)
    assert message.startswith("le modèle « x » ne peut pas être rendu (emails/x/body.txt")
    assert expected in message
    if cause not in (RecursionError, jinja2.exceptions.TemplateSyntaxError):
        assert "ligne 2" in message  # the line staff wrote it on
    assert "root:" not in message


def test_an_include_names_the_line_of_the_included_file(tmp_path: Path) -> None:
    write_templates(tmp_path, body_txt="Bonjour\n{% include 'emails/_pied.txt' %}\n")
    (tmp_path / "emails" / "_pied.txt").write_text("Signature\n\n{{ 1/0 }}\n", encoding="utf-8")
    with pytest.raises(TemplateFailure, match=r"\(emails/_pied.txt, ligne 3\) : division par zéro"):
        Renderer(tmp_path).email("x", context())


@pytest.mark.parametrize(
    ("value", "name"),
    [
        pytest.param("12 500", "euros", id="euros-text"), pytest.param(True, "euros", id="euros-bool"),
        pytest.param(Decimal("NaN"), "nombre", id="nombre-nan"), pytest.param("45 %", "pourcent", id="pourcent-text"),
        pytest.param("2026-03-02", "date_longue", id="date-text"), pytest.param(dt.date(2026, 3, 2), "date_heure",
                                                                               id="date-heure-date"),
        pytest.param("3", "pluriel", id="pluriel-text"),
    ],
)
def test_filters_refuse_wrong_values_clearly(value: Any, name: str) -> None:
    with pytest.raises(FilterError, match=f"le filtre « {name} »"):
        FILTERS[name](value, "x") if name == "pluriel" else FILTERS[name](value)
