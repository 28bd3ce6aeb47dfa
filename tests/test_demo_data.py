"""The demo data reads as real (issue #14): people have names, nothing is dated in the future that
already happened, and a bilan final comes after its convention's end."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from automations.demo import demo_rows


@pytest.mark.parametrize("today", [dt.date(2026, 11, 24), dt.date(2026, 12, 1), dt.date(2027, 3, 15)])
def test_the_demo_reads_as_real(today: dt.date) -> None:
    rows = demo_rows(today)
    managers = [c["Responsable"] for c in rows["cantines"]]
    assert not any(re.match(r"Responsable\b", m) for m in managers), managers
    assert len(set(managers[:29])) >= 25  # people, not one placeholder
    contacts = [p["Contact"] for p in rows["partenaires"]]
    assert not any(re.fullmatch(r"Contact \d+", c) for c in contacts), contacts
    for question in rows["questions"]:
        if question["Répondue le"] is not None:
            assert question["Posée le"] <= question["Répondue le"] <= today
    themes = {(q["Thème"], q["Question"]) for q in rows["questions"]}
    assert ("Bilan", "Quel modèle utiliser pour le bilan intermédiaire ?") in themes
    ends = {c["Référence"]: c["Date de fin"] for c in rows["conventions"]}
    finals = [e for e in rows["echeances"] if e["Type"] == "Bilan final"]
    assert finals and all(e["Date d'échéance"] > ends[e["Convention"]] for e in finals)
    assert all(c["Date de début"] < c["Date de fin"] for c in rows["conventions"])
