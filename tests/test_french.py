"""The French phrasing helpers every message, summary and reason goes through (and the Jinja filters
of the same names)."""

from __future__ import annotations

import datetime as dt

import pytest

from automations.cycle.render import make_environment
from automations.domain.french import NBSP, a, accord, de, espaces_insecables, guillemets, liste, mois_annee, pluriel

from .conftest import REPO


@pytest.mark.parametrize(
    ("count", "singular", "plural", "expected"),
    [
        pytest.param(0, "ligne créée", None, "0 ligne créée", id="zero-is-singular"),
        pytest.param(1, "ligne créée", None, "1 ligne créée", id="one"),
        pytest.param(3, "ligne créée", None, "3 lignes créées", id="adjective-agrees"),
        pytest.param(27, "message préparé", None, "27 messages préparés", id="outbox"),
        pytest.param(2, "mise à jour", None, "2 mises à jour", id="stops-at-a-link-word"),
        pytest.param(2, "problème de données", None, "2 problèmes de données", id="de-phrase"),
        pytest.param(2, "nouvelle opportunité", None, "2 nouvelles opportunités", id="adjective-first"),
        pytest.param(4, "nouveau partenaire", None, "4 nouveaux partenaires", id="eau-takes-x"),
        pytest.param(2, "prix", None, "2 prix", id="ends-in-x"),
        pytest.param(2, "déjà envoyé", None, "2 déjà envoyés", id="adverb-invariable"),
        pytest.param(2, "oeil", "yeux", "2 yeux", id="irregular-given"),
        pytest.param(1500, "ligne", None, "1\u202f500 lignes", id="thousands-spaced"),
    ],
)
def test_pluriel(count: int, singular: str, plural: str | None, expected: str) -> None:
    assert pluriel(count, singular, plural) == expected


def test_accord_gives_the_phrase_alone() -> None:
    assert (accord(1, "créée"), accord(2, "créée")) == ("créée", "créées")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("avril 2026", "d'avril 2026", id="month-vowel"),
        pytest.param("octobre", "d'octobre", id="octobre"),
        pytest.param("août", "d'août", id="accented-vowel"),
        pytest.param("mars", "de mars", id="consonant"),
        pytest.param("Le Banquet d'Ajaccio", "du Banquet d'Ajaccio", id="le-contracts"),
        pytest.param("Les Lilas", "des Lilas", id="les-contracts"),
        pytest.param("La Marmite des Chartrons", "de La Marmite des Chartrons", id="la-kept"),
        pytest.param("l'Usine", "de l'Usine", id="l-apostrophe"),
        pytest.param("Ajaccio", "d'Ajaccio", id="city-vowel"),
        pytest.param("Élan Solidaire", "d'Élan Solidaire", id="capital-accent"),
        pytest.param("hiver", "d'hiver", id="h-muet"),
        pytest.param("Halles", "de Halles", id="h-aspire"),
        pytest.param("Lenoir", "de Lenoir", id="starts-like-le-but-is-not"),
        pytest.param("  Cantine   Bellevue ", "de Cantine Bellevue", id="spaces"),
    ],
)
def test_de(name: str, expected: str) -> None:
    assert de(name) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("Le Banquet", "au Banquet", id="le"),
        pytest.param("Les Lilas", "aux Lilas", id="les"),
        pytest.param("Lyon", "à Lyon", id="city"),
    ],
)
def test_a(name: str, expected: str) -> None:
    assert a(name) == expected


@pytest.mark.parametrize(
    ("text", "html", "punctuation", "expected"),
    [
        pytest.param("en « Intéressée » ici", False, False, f"en «{NBSP}Intéressée{NBSP}» ici", id="guillemets"),
        pytest.param("Reçu ? x : y", False, False, "Reçu ? x : y", id="punctuation-left-by-default"),
        pytest.param("Intéressés ? Dites", False, True, f"Intéressés{NBSP}? Dites", id="question-mark"),
        pytest.param("Objet : x ; y !", False, True, f"Objet{NBSP}: x{NBSP}; y{NBSP}!", id="colon-semicolon-bang"),
        pytest.param("https://x.org/?a=1 à 12:30", False, True, "https://x.org/?a=1 à 12:30", id="urls-and-times-untouched"),
        pytest.param("«&nbsp;À compléter&nbsp;»", True, False, f"«{NBSP}À compléter{NBSP}»", id="html-entity-not-doubled"),
        pytest.param('<p style="a : b">x : y</p>', True, True, f'<p style="a : b">x{NBSP}: y</p>', id="tags-untouched"),
        pytest.param("<style>a { b : c }</style>", True, True, "<style>a { b : c }</style>", id="css-untouched"),
    ],
)
def test_espaces_insecables(text: str, html: bool, punctuation: bool, expected: str) -> None:
    assert espaces_insecables(text, html=html, ponctuation=punctuation) == expected


def test_small_helpers() -> None:
    assert guillemets("  Déposée ") == f"«{NBSP}Déposée{NBSP}»"
    assert [liste([]), liste(["a"]), liste(["a", "b"]), liste(["a", "b", "c"])] == ["", "a", "a et b", "a, b et c"]
    assert liste(["a", "b"], "ou") == "a ou b"
    assert mois_annee(dt.date(2026, 4, 1)) == "avril 2026"


def test_the_helpers_are_jinja_filters() -> None:
    env = make_environment(REPO / "templates", autoescape=False)
    template = env.from_string(
        "Question {{ cantine | de }} ; {{ n | pluriel('message préparé') }} ; {{ 'Le Port' | a }} ; {{ mois | mois_annee | de }}"
    )
    rendered = template.render(cantine="Le Banquet d'Ajaccio", n=27, mois=dt.date(2026, 10, 1))
    assert rendered == "Question du Banquet d'Ajaccio ; 27 messages préparés ; au Port ; d'octobre 2026"
