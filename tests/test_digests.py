"""Weekly digests: when they go, what they hold, and that a cantine only ever sees its own data."""

from __future__ import annotations

import datetime as dt
import email
from decimal import Decimal
from email import policy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automations.domain.digests import cantine_digests, coordinator_digest, digest_day, week_label
from automations.domain.matching import Matcher, MatchingRules
from automations.cycle.messages import Network, digest_messages, reminder_messages
from automations.domain.model import Application, Dataset, DueItem, MatchRecord, OfferRollout, Question, Visit
from automations.domain.reminders import due_reminders
from automations.cycle.render import Renderer
from automations.settings.files import load_rules
from connectors.mail import build_message

from .conftest import REPO
from .test_matching import cantine, opportunity

D = dt.date
NETWORK = Network("Les Petites Cantines", "Camille", "coordination@example.org", "robot@example.org",
                  "Réseau", "coordination@example.org", "Camille")
RENDERER = Renderer(REPO / "templates")
RULES = load_rules(REPO / "config" / "reminders.toml", REPO / "templates")


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        pytest.param(D(2026, 11, 23), D(2026, 11, 23), id="monday-itself"),
        pytest.param(D(2026, 11, 25), D(2026, 11, 23), id="wednesday-after-a-missed-monday"),
        pytest.param(D(2026, 11, 28), None, id="never-on-saturday"),
        pytest.param(D(2026, 4, 6), None, id="never-on-easter-monday"),
        pytest.param(D(2026, 4, 7), D(2026, 4, 6), id="the-tuesday-after-easter-monday"),
    ],
)
def test_digest_day(today: dt.date, expected: dt.date | None) -> None:
    assert digest_day(today, 0) == expected


def test_week_label_is_the_iso_week() -> None:
    assert week_label(D(2026, 11, 23)) == "2026-S48"
    assert week_label(D(2027, 1, 1)) == "2026-S53"  # ISO week of 1 January 2027


def test_a_cantine_with_nothing_gets_no_digest_and_opted_out_ones_none() -> None:
    today = D(2026, 11, 23)
    quiet = cantine("Calme", receives_emails=True, manager_email="calme@example.org")
    busy = cantine("Active", receives_emails=True, manager_email="active@example.org")
    opted_out = cantine("Discrète", receives_emails=False, manager_email="d@example.org")
    dataset = Dataset(
        cantines=[quiet, busy, opted_out],
        echeances=[
            DueItem(key="k1", agreement="C", type="Bilan final", status="À venir", due_on=today + dt.timedelta(days=10), cantine="Active"),
            DueItem(key="k2", agreement="C", type="Bilan final", status="À venir", due_on=today + dt.timedelta(days=10), cantine="Discrète"),
            DueItem(key="k3", agreement="C", type="Bilan final", status="À venir", due_on=today + dt.timedelta(days=45), cantine="Calme"),
        ],
    )
    digests = cantine_digests(dataset, [], today)
    assert [d.cantine.name for d in digests] == ["Active"]


def test_new_matches_are_those_first_proposed_this_week() -> None:
    today = D(2026, 11, 23)
    who = cantine(themes=("Lien social",), receives_emails=True, manager_email="c@example.org")
    fresh, old = (opportunity(t, themes=("Lien social",), deadline=today + dt.timedelta(days=40)) for t in ("Fraîche", "Ancienne"))
    dataset = Dataset(
        cantines=[who], opportunites=[fresh, old],
        correspondances=[MatchRecord(key=f"Ancienne → {who.name}", proposed_on=today - dt.timedelta(days=20))],
    )
    matches = Matcher(dataset, today, MatchingRules()).matches()
    (digest,) = cantine_digests(dataset, matches, today)
    assert [m.opportunity.title for m in digest.new_matches] == ["Fraîche"]


def test_coordinator_digest_figures() -> None:
    today = D(2026, 11, 23)
    dataset = Dataset(
        cantines=[cantine("Vue", manager_email="v@example.org"), cantine("Oubliée"), cantine("En montage", status="En montage")],
        candidatures=[
            Application(title="A", opportunity="O", status="Acceptée", amount_requested=Decimal(10000), amount_granted=Decimal(8000)),
            Application(title="B", opportunity="O", status="Acceptée", amount_requested=Decimal(5000), amount_granted=Decimal(5000)),
            Application(title="C", opportunity="O", status="Déposée", amount_requested=Decimal(20000)),
        ],
        echeances=[DueItem(key="late", agreement="C", type="Bilan final", status="À venir", due_on=today - dt.timedelta(days=3)),
                   DueItem(key="sent", agreement="C", type="Bilan final", status="Envoyée", due_on=today - dt.timedelta(days=3))],
        visites=[Visit(cantine="Vue", on=today - dt.timedelta(days=30)), Visit(cantine="Oubliée", on=today - dt.timedelta(days=120))],
    )
    digest = coordinator_digest(dataset, [], [], problems=4, today=today)
    assert [(p.status, p.count, p.requested, p.granted) for p in digest.pipeline] == [
        ("Déposée", 1, Decimal(20000), Decimal(0)), ("Acceptée", 2, Decimal(15000), Decimal(13000)),
    ]
    assert digest.totals == {"requested": Decimal(35000), "granted": Decimal(13000)}
    assert [i.key for i in digest.overdue] == ["late"]
    assert [(c.name, last) for c, last in digest.unvisited] == [("Oubliée", today - dt.timedelta(days=120))]
    assert digest.problems == 4
    (message,), _ = digest_messages([], digest, NETWORK, RENDERER, today)
    assert message.subject == "Semaine du 23/11/2026 : 1 échéance en retard, 0 nouvelle correspondance, 4 problèmes de données"
    assert "Acceptée : 2 — demandé 15\u202f000\u00a0€, accordé 13\u202f000\u00a0€" in message.text
    assert "Oubliée (Lyon) : dernière visite le 26/07/2026" in message.text


def test_digest_message_has_unsubscribe_and_copies() -> None:
    today = D(2026, 11, 23)
    who = cantine(receives_emails=True, manager_email="c@example.org", cc_emails=("bureau@example.org",))
    dataset = Dataset(cantines=[who], questions=[Question(cantine=who.name, asked_on=today, question="Reçu fiscal ?", status="Ouverte")])
    (message,), problems = digest_messages(cantine_digests(dataset, [], today), None, NETWORK, RENDERER, today)
    assert problems == []
    assert message.key == f"digest:cantine:{who.name}:2026-S48"
    assert message.to == ("c@example.org",) and message.cc == ("bureau@example.org",)
    parsed = email.message_from_bytes(build_message(message, date=dt.datetime(2026, 11, 23, 8, tzinfo=dt.timezone.utc)).as_bytes(), policy=policy.default)
    assert parsed["List-Unsubscribe"].startswith("<mailto:coordination@example.org?subject=")
    assert "Reçu fiscal ?" in parsed.get_body(("plain",)).get_content()


# -- isolation: no cantine's message names another cantine or shows its figures ----------------

NAMES = ["Cantine des Canuts", "La Louche Lilloise", "Cantine Péi", "Le Banquet d'Ajaccio"]


@settings(max_examples=60, deadline=None)
@given(
    depts=st.lists(st.sampled_from(["69", "59", "974", "2A", "13"]), min_size=2, max_size=4),
    budgets=st.lists(st.integers(10, 500).map(lambda k: k * 1000 + 137), min_size=4, max_size=4),
    offsets=st.lists(st.sampled_from([-30, -14, -7, -2, 1, 7]), min_size=4, max_size=4),
    shared=st.booleans(),
)
def test_no_cantine_message_mentions_another_cantine(depts: list[str], budgets: list[int], offsets: list[int], shared: bool) -> None:
    today = D(2026, 11, 23)  # a Monday: reminders and digests both go out
    cantines = [
        cantine(NAMES[i], d, themes=("Lien social",), annual_budget=Decimal(budgets[i]), receives_emails=True,
                manager_email=f"c{i}@example.org")
        for i, d in enumerate(depts)
    ]
    names = [c.name for c in cantines]
    # one shared convention (a collective grant) or one convention each, with an échéance per cantine
    echeances = [
        DueItem(key=f"E{i}", agreement="CONV-COLL" if shared else f"CONV-{i}", type="Bilan final", status="À venir",
                due_on=today - dt.timedelta(days=offsets[i]), cantine=name, owner_email="staff@example.org")
        for i, name in enumerate(names)
    ]
    collective = DueItem(key="E-all", agreement="CONV-COLL", type="Rapport d'activité", status="À venir",
                         due_on=today + dt.timedelta(days=7), owner_email="staff@example.org")
    from automations.domain.model import Agreement
    agreements = [Agreement(reference="CONV-COLL", partner="Fondation", cantines=tuple(names))] + [
        Agreement(reference=f"CONV-{i}", partner="Fondation", cantines=(n,)) for i, n in enumerate(names)
    ]
    dataset = Dataset(
        cantines=cantines, conventions=agreements, echeances=[*echeances, collective],
        opportunites=[opportunity("AAP", themes=("Lien social",), deadline=today + dt.timedelta(days=50))],
        declinaisons=[OfferRollout(offer="Dons", cantine=n, status="Proposée") for n in names],
        questions=[Question(cantine=n, asked_on=today - dt.timedelta(days=1), question=f"Question de {n}") for n in names],
    )
    matches = Matcher(dataset, today, MatchingRules(threshold=0)).matches()
    reminders, _ = reminder_messages(due_reminders(RULES, dataset, today), dataset, NETWORK, RENDERER, today)
    digests, _ = digest_messages(cantine_digests(dataset, matches, today), None, NETWORK, RENDERER, today)
    checked = 0
    for message in [*reminders, *digests]:
        recipients = set(message.recipients)
        owners = [c for c in cantines if c.manager_email in recipients]
        if not owners:
            continue  # staff and coordinator messages may name every cantine
        assert len(owners) == 1, message.subject
        me = owners[0]
        for other in cantines:
            if other is me:
                continue
            for text in (message.subject, message.text, message.html):
                assert other.name not in text.replace("&#39;", "'"), (message.subject, other.name)
                assert str(other.annual_budget) not in text
        checked += 1
    assert checked >= len(cantines)  # every cantine got at least its digest


# -- what the digests list (issue #14) -----------------------------------------------------------

def _busy_network_dataset(today: dt.date) -> Dataset:
    from automations.domain.model import Agreement
    port = cantine("Cantine du Port", dept="13", city="Marseille", receives_emails=True, manager_email="port@example.org",
                   themes=("Lien social",))
    canuts = cantine("Cantine des Canuts", receives_emails=True, manager_email="canuts@example.org", themes=("Lien social",))
    return Dataset(
        cantines=[port, canuts],
        opportunites=[
            opportunity("AAP ouvert", themes=("Lien social",), deadline=today + dt.timedelta(days=40), link="https://aap.example/1"),
            opportunity("AAP passé", watch_status="À qualifier", deadline=today - dt.timedelta(days=2)),
            opportunity("AAP du jour", watch_status="À qualifier", deadline=today),
            opportunity("AAP à qualifier", watch_status="À qualifier", deadline=today + dt.timedelta(days=5)),
        ],
        conventions=[Agreement(reference="CONV-1", partner="Fondation Terre Commune", cantines=("Cantine du Port", "Cantine des Canuts"))],
        echeances=[
            DueItem(key="crf", agreement="CONV-1", type="Compte rendu financier", status="En préparation",
                    due_on=today - dt.timedelta(days=7), cantine="Cantine du Port", owner_email="nour@example.org"),
            DueItem(key="visite", agreement="CONV-1", type="Visite partenaire", status="À venir", due_on=today + dt.timedelta(days=12)),
        ],
        questions=[
            Question(cantine="Cantine du Port", asked_on=today - dt.timedelta(days=9), question="Reçu fiscal ?", status="Ouverte"),
            Question(cantine="Cantine des Canuts", asked_on=today - dt.timedelta(days=2), question="Logo ?", status="Résolue"),
        ],
        links={("echeances", "crf"): "https://airtable.com/appX/tblE/recCRF",
               ("questions", f"Cantine du Port|{(today - dt.timedelta(days=9)).isoformat()}|Reçu fiscal ?"): "https://q.example/9"},
    )


def test_the_coordinator_digest_lists_matches_questions_and_items_with_cantine_and_partner() -> None:
    today = D(2026, 11, 23)
    dataset = _busy_network_dataset(today)
    matches = Matcher(dataset, today, MatchingRules()).matches()
    digest = coordinator_digest(dataset, matches, [], problems=0, today=today)
    (group,) = digest.matches_by_opportunity
    assert group.opportunity.title == "AAP ouvert" and group.link == "https://aap.example/1"
    assert [m.score for m in group.matches] == sorted((m.score for m in group.matches), reverse=True)
    assert {m.cantine.name for m in group.matches} == {"Cantine du Port", "Cantine des Canuts"}
    (question,) = digest.questions
    assert question.days_open == 9 and question.link == "https://q.example/9"
    (late,) = digest.overdue
    assert late.cantines == ("Cantine du Port",) and late.partner == "Fondation Terre Commune"
    assert late.link == "https://airtable.com/appX/tblE/recCRF" and late.days == -7
    (coming,) = digest.upcoming
    assert coming.cantines == ("Cantine du Port", "Cantine des Canuts")  # the convention's cantines
    assert [o.title for o in digest.new_opportunities] == ["AAP à qualifier"]  # the others: too late

    (message,), _ = digest_messages([], digest, NETWORK, RENDERER, today)
    assert ", 1 question en attente," in message.subject
    text = message.text
    assert "Cantine du Port · Fondation Terre Commune · En préparation · nour@example.org" in text
    assert "https://airtable.com/appX/tblE/recCRF" in text and 'href="https://airtable.com/appX/tblE/recCRF"' in message.html
    assert "Cantine du Port : Reçu fiscal ?" in text and "en attente depuis 9 jours" in text
    assert "AAP ouvert (date limite 02/01/2027)" in text
    for match in group.matches:
        assert f"{match.cantine.name} ({match.score}/100)" in text
    assert "AAP passé" not in text and "Logo ?" not in text


def test_a_cantine_digest_includes_its_overdue_items_even_when_nothing_else_is_new() -> None:
    today = D(2026, 11, 23)
    dataset = _busy_network_dataset(today)
    dataset.opportunites = []
    dataset.questions = []
    digests = {d.cantine.name: d for d in cantine_digests(dataset, [], today)}
    port = digests["Cantine du Port"]
    assert [line.key for line in port.overdue] == ["crf"] and [line.key for line in port.deadlines] == ["visite"]
    assert [line.key for line in digests["Cantine des Canuts"].deadlines] == ["visite"]  # convention-wide
    assert digests["Cantine des Canuts"].overdue == ()
    dataset.echeances = dataset.echeances[:1]
    (only,) = cantine_digests(dataset, [], today)
    assert only.cantine.name == "Cantine du Port"
    (message,), _ = digest_messages([only], None, NETWORK, RENDERER, today)
    assert message.subject == "Cantine du Port : votre semaine, 1 échéance en retard"
    assert "EN RETARD" in message.text and "16/11/2026 (il y a 7 jours) : Compte rendu financier – CONV-1" in message.text
    assert "Cantine des Canuts" not in message.text + message.html

