"""The reminder engine: offsets, weekends and French public holidays, catch-up, done items, keys."""

from __future__ import annotations

import datetime as dt

import pytest

from automations.domain.business_days import add_business_days, calendar_of, holiday_name, is_business_day
from automations.domain.model import Agreement, Application, Dataset, DueItem, MatchRecord, Partner, Question
from automations.domain.reminders import due_reminders, fire_date
from automations.domain.rules import Rule
from automations.settings.files import load_rules

from .conftest import REPO

OFFSETS = (-30, -14, -7, -2, 1, 7)
RULE = Rule(id="echeance", source="echeances", offsets=OFFSETS, recipients=("responsable",), template="rappel_echeance")


def item(due: dt.date, status: str = "À venir", done_on: dt.date | None = None, type: str = "Bilan final") -> DueItem:
    return DueItem(key=f"CONV-1|{type}||{due}", agreement="CONV-1", type=type, due_on=due, status=status, done_on=done_on)


def fired(due: dt.date, today: dt.date, since: dt.date | None = None, rule: Rule = RULE) -> list[int]:
    return [r.offset for r in due_reminders([rule], Dataset(echeances=[item(due)]), today, since)]


D = dt.date
# Tuesday 31 March 2026 as the usual due date: its offsets land on business days.
DUE = D(2026, 3, 31)


@pytest.mark.parametrize(
    ("due", "offset", "expected"),
    [
        pytest.param(DUE, -30, D(2026, 3, 1) - dt.timedelta(days=2), id="minus-30-on-a-sunday-goes-friday"),
        pytest.param(DUE, -14, D(2026, 3, 17), id="minus-14-a-tuesday"),
        pytest.param(DUE, -7, D(2026, 3, 24), id="minus-7-a-tuesday"),
        pytest.param(DUE, -2, D(2026, 3, 27), id="minus-2-a-sunday-goes-friday"),
        pytest.param(DUE, 1, D(2026, 4, 1), id="plus-1-a-wednesday"),
        pytest.param(DUE, 7, D(2026, 4, 7), id="plus-7-the-tuesday-after-easter-monday"),
        pytest.param(D(2026, 4, 1), 5, D(2026, 4, 7), id="plus-5-on-easter-monday-goes-tuesday"),
        pytest.param(D(2026, 5, 21), -7, D(2026, 5, 13), id="minus-7-on-ascension-goes-wednesday"),
        pytest.param(D(2026, 5, 13), 1, D(2026, 5, 15), id="plus-1-on-ascension-goes-friday"),
        pytest.param(D(2026, 5, 26), -1, D(2026, 5, 22), id="minus-1-on-whit-monday-goes-friday"),
        pytest.param(D(2026, 7, 21), -7, D(2026, 7, 13), id="minus-7-on-14-july-a-tuesday-goes-monday"),
        pytest.param(D(2026, 7, 13), 1, D(2026, 7, 15), id="plus-1-on-14-july-goes-wednesday"),
        pytest.param(D(2026, 8, 17), -2, D(2026, 8, 14), id="minus-2-on-15-august-a-saturday-goes-friday"),
        pytest.param(D(2026, 12, 24), 1, D(2026, 12, 28), id="plus-1-on-christmas-goes-monday"),
        pytest.param(D(2027, 1, 4), -4, D(2026, 12, 31), id="minus-4-on-new-year-goes-31-december"),
        pytest.param(D(2026, 3, 29), -7, D(2026, 3, 20), id="due-on-the-spring-dst-sunday"),
        pytest.param(D(2026, 10, 25), 1, D(2026, 10, 26), id="due-on-the-autumn-dst-sunday"),
        pytest.param(DUE, 0, DUE, id="the-due-day-itself"),
        pytest.param(D(2026, 4, 5), 0, D(2026, 4, 3), id="due-day-on-easter-sunday-goes-friday"),
    ],
)
def test_fire_date(due: dt.date, offset: int, expected: dt.date) -> None:
    day = fire_date(due, offset)
    assert day == expected
    assert is_business_day(day)
    if offset > 0:
        assert day > due  # never before the item is actually overdue


def test_the_holidays_the_calendar_relies_on() -> None:
    assert holiday_name(D(2026, 5, 14)) is not None  # Ascension 2026
    assert holiday_name(D(2027, 5, 6)) is not None  # Ascension 2027 moves with Easter
    assert holiday_name(D(2026, 7, 14)) is not None and D(2026, 7, 14).weekday() == 1
    assert is_business_day(D(2026, 7, 15))
    assert add_business_days(D(2026, 5, 13), 2) == D(2026, 5, 18)  # over Ascension and a weekend


@pytest.mark.parametrize("today", [fire_date(DUE, o) for o in OFFSETS], ids=[f"offset{o:+d}" for o in OFFSETS])
def test_each_offset_fires_once_on_its_day(today: dt.date) -> None:
    assert len(fired(DUE, today)) == 1
    assert fired(DUE, today + dt.timedelta(days=1)) == []


def test_nothing_fires_on_weekends_or_holidays() -> None:
    day = D(2026, 1, 1)
    while day < D(2027, 1, 1):
        items = [item(day + dt.timedelta(days=k)) for k in range(-40, 40, 3)]
        if not is_business_day(day):
            assert due_reminders([RULE], Dataset(echeances=items), day) == [], day
        day += dt.timedelta(days=1)


def test_a_catch_up_after_three_missed_days_sends_each_item_once() -> None:
    # the worker ran on Friday 20 March and then not until Wednesday 25 March (three missed days)
    items = [item(D(2026, 3, 31)), item(D(2026, 3, 27), type="Versement"), item(D(2026, 4, 6), type="Autre")]
    reminders = due_reminders([RULE], Dataset(echeances=items), D(2026, 3, 25), since=D(2026, 3, 20))
    got = {(r.subject.item.type, r.offset) for r in reminders}
    # 31/03: -7 (24/03) fell in the gap; 27/03: -7 (20/03, already sent on Friday) then -2 (25/03);
    # 06/04: -14 (23/03)
    assert got == {("Bilan final", -7), ("Versement", -2), ("Autre", -14)}
    again = due_reminders([RULE], Dataset(echeances=items), D(2026, 3, 26), since=D(2026, 3, 25))
    assert again == []


def test_only_the_latest_offset_goes_out_when_several_came_due() -> None:
    reminders = due_reminders([RULE], Dataset(echeances=[item(DUE)]), D(2026, 4, 8), since=D(2026, 3, 20))
    assert [r.offset for r in reminders] == [7]


@pytest.mark.parametrize("status", ["Envoyée", "Acceptée", "Payée", "Annulée"])
def test_done_items_are_never_reminded(status: str) -> None:
    today = fire_date(DUE, -7)
    assert due_reminders([RULE], Dataset(echeances=[item(DUE, status)]), today) == []


def test_fait_le_alone_marks_an_item_done() -> None:
    today = fire_date(DUE, -7)
    assert due_reminders([RULE], Dataset(echeances=[item(DUE, "En préparation", done_on=today)]), today) == []


def test_key_names_rule_item_due_date_and_offset() -> None:
    (reminder,) = due_reminders([RULE], Dataset(echeances=[item(DUE)]), D(2026, 3, 24))
    assert reminder.key == "reminder:echeance:CONV-1|Bilan final||2026-03-31:2026-03-31:-7"
    moved = item(D(2026, 4, 1))
    (again,) = due_reminders([RULE], Dataset(echeances=[moved]), D(2026, 3, 25))
    assert again.key != reminder.key and again.offset == -7


def test_types_filter_echeances() -> None:
    rule = Rule(id="v", source="echeances", offsets=(1,), recipients=("responsable",), template="t", types=("Versement",))
    items = [item(DUE, type="Versement"), item(DUE, type="Bilan final")]
    reminders = due_reminders([rule], Dataset(echeances=items), D(2026, 4, 1))
    assert [r.subject.item.type for r in reminders] == ["Versement"]


def test_default_rules_cover_every_source() -> None:
    rules = load_rules(REPO / "config" / "reminders.toml", REPO / "templates")
    assert {r.source for r in rules} == {"echeances", "budgets", "candidatures", "correspondances", "partenaires", "conventions", "questions"}
    today = D(2026, 3, 24)  # a Tuesday
    dataset = Dataset(
        echeances=[item(D(2026, 3, 31))],
        candidatures=[Application(title="AAP", opportunity="O", status="En rédaction", internal_deadline=D(2026, 3, 26))],
        correspondances=[MatchRecord(key="O → C", opportunity="O", cantine="C", status="Intéressée", state="Active",
                                     deadline=D(2026, 4, 7))],
        partenaires=[Partner(name="Fondation", next_action="Relancer", next_action_on=today, status="En relation")],
        conventions=[Agreement(reference="CONV-9", partner="Fondation", ends_on=D(2026, 5, 23), status="En cours")],
        questions=[Question(cantine="C", asked_on=D(2026, 3, 20), question="Comment ?", status="Ouverte")],
    )
    reminders = due_reminders(rules, dataset, today)
    assert {r.rule.source for r in reminders} == {"echeances", "candidatures", "correspondances", "partenaires", "conventions", "questions"}
    question = next(r for r in reminders if r.rule.source == "questions")
    assert question.fires_on == D(2026, 3, 24)  # Friday + 2 business days


def test_a_question_answered_or_resolved_is_not_reminded() -> None:
    rules = [r for r in load_rules(REPO / "config" / "reminders.toml", REPO / "templates") if r.source == "questions"]
    answered = Question(cantine="C", asked_on=D(2026, 3, 20), question="?", status="Résolue")
    assert due_reminders(rules, Dataset(questions=[answered]), D(2026, 3, 24)) == []


def test_a_bad_rules_file_is_reported_line_by_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from connectors.errors import ConfigurationError

    path = tmp_path / "rules.toml"
    path.write_text(
        '[[rules]]\nid = "x"\nsource = "echeance"\noffsets = [-7, "1"]\nrecipients = ["boss"]\n'
        'template = "nope"\ncolour = "red"\n'
    )
    with pytest.raises(ConfigurationError) as caught:
        load_rules(path, REPO / "templates")
    text = "\n".join(caught.value.problems)
    for expected in ("unknown key 'colour'", "source must be one of", "offsets must be", "recipients must be", "template 'nope' not found"):
        assert expected in text


# -- regional calendars (issue #14) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "departement", "name"),
    [
        pytest.param(D(2026, 4, 3), "57", "Vendredi saint", id="good-friday-in-moselle"),
        pytest.param(D(2026, 4, 3), "67", "Vendredi saint", id="good-friday-in-bas-rhin"),
        pytest.param(D(2025, 12, 26), "68", "Saint-Étienne", id="26-december-in-haut-rhin"),
        pytest.param(D(2026, 4, 3), "69", None, id="not-in-the-rhone"),
        pytest.param(D(2026, 12, 20), "974", "Abolition de l'esclavage", id="abolition-in-la-reunion"),
        pytest.param(D(2026, 5, 27), "971", "Abolition de l'esclavage", id="abolition-in-guadeloupe"),
        pytest.param(D(2026, 5, 22), "972", "Abolition de l'esclavage", id="abolition-in-martinique"),
        pytest.param(D(2026, 6, 10), "973", "Abolition de l'esclavage", id="abolition-in-guyane"),
        pytest.param(D(2026, 4, 27), "976", "Abolition de l'esclavage", id="abolition-in-mayotte"),
        pytest.param(D(2026, 12, 20), "13", None, id="not-in-marseille"),
        pytest.param(D(2026, 7, 14), "974", "Fête nationale", id="national-days-everywhere"),
    ],
)
def test_regional_public_holidays(day: dt.date, departement: str, name: str | None) -> None:
    assert holiday_name(day, calendar_of([departement])) == name


def _strasbourg_and_lyon(recipients: tuple[str, ...]) -> tuple[Rule, Dataset]:
    from .test_matching import cantine
    rule = Rule(id="r", source="echeances", offsets=(-3,), recipients=recipients, template="rappel_echeance")
    strasbourg = cantine("Cantine du Neudorf", dept="67", city="Strasbourg")
    lyon = cantine("Cantine des Canuts")
    items = [DueItem(key=f"k-{c.name}", agreement="CONV-1", type="Bilan final", status="À venir",
                     due_on=D(2025, 12, 29), cantine=c.name) for c in (strasbourg, lyon)]
    return rule, Dataset(cantines=[strasbourg, lyon], echeances=items)


def test_a_reminder_to_a_cantine_follows_its_calendar_one_to_staff_the_networks() -> None:
    # due Monday 29 December 2025, three days ahead: Friday 26, a holiday in Alsace only
    rule, dataset = _strasbourg_and_lyon(("cantine",))
    fired_on = {r.subject.cantines[0]: r.fires_on for r in due_reminders([rule], dataset, D(2025, 12, 26), D(2025, 12, 20))}
    assert fired_on == {"Cantine du Neudorf": D(2025, 12, 24), "Cantine des Canuts": D(2025, 12, 26)}
    staff_rule, _ = _strasbourg_and_lyon(("coordinator",))
    fired_on = {r.subject.cantines[0]: r.fires_on for r in due_reminders([staff_rule], dataset, D(2025, 12, 26), D(2025, 12, 20))}
    assert fired_on == {"Cantine du Neudorf": D(2025, 12, 26), "Cantine des Canuts": D(2025, 12, 26)}
