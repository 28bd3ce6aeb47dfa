"""What each computation and each kind of message is built from, table by table.

A run that could not read a table, or read it without one of its columns (deleted or renamed by
staff), does not compute what depends on it: a digest built without the Échéances would tell the
coordinator « 0 échéance en retard », and matches computed without « Date limite » would propose
closed opportunities. What waits is built by the next complete run: reminders catch up the days
an incomplete run left (it is not counted as done), digests are keyed by week.

A table counts as incomplete as soon as one of its columns is absent, whichever column: every column
of the schema is read for a reason (a criterion, a filter, a line of a message). A message's needs
are its recipients' and everything its template is given (a reminder about an échéance shows the
cantine's city and the partner: Cantines and Partenaires).

| what | the tables it needs |
|---|---|
| matches, collective suggestions, « ne correspond plus » marks | Cantines, Opportunités, Candidatures |
| partner offers proposed | Cantines, Offres partenaires, Déclinaisons |
| reminders on échéances | Échéances, Conventions, Partenaires, Cantines (+ recipients) |
| reminders on actual amounts (Budgets) | Échéances, Conventions, Budgets, Partenaires, Cantines (+ recipients) |
| reminders on candidatures | Candidatures, Opportunités, Cantines (+ recipients) |
| reminders on correspondances | Correspondances, Opportunités, Cantines (+ recipients) |
| reminders on partners' next actions | Partenaires (+ recipients) |
| reminders on conventions ending | Conventions, Partenaires, Cantines (+ recipients) |
| reminders on open questions | Questions, Cantines (+ recipients) |
| a reminder's recipients | « cantine »: Cantines; « partner_owner »: Partenaires |
| cantine digests | the matches' tables, Correspondances, Échéances, Offres partenaires, Déclinaisons, Questions |
| coordinator digest | every table (it counts the data problems of all of them) |
| bilan drafts | Cantines, Partenaires, Conventions, Échéances, Offres partenaires, Déclinaisons, Indicateurs, Budgets, Candidatures |
| subsidy checks (convention signed, CER, budget, versements) | Partenaires, Opportunités, Candidatures, Conventions, Échéances, Budgets |
"""

from __future__ import annotations

from collections.abc import Iterable

from automations.domain.model import DOMAIN_TABLES, Dataset
from automations.domain.rules import Rule

MATCHING = ("cantines", "opportunites", "candidatures")
OFFERS = ("cantines", "offres", "declinaisons")
# Every reminder about a cantine's item shows that cantine (its name and city): Cantines too.
REMINDER_SOURCES = {
    "echeances": ("echeances", "conventions", "partenaires", "cantines"),
    "budgets": ("echeances", "conventions", "budgets", "partenaires", "cantines"),
    "candidatures": ("candidatures", "opportunites", "cantines"),
    "correspondances": ("correspondances", "opportunites", "cantines"),
    "partenaires": ("partenaires",),
    "conventions": ("conventions", "partenaires", "cantines"),
    "questions": ("questions", "cantines"),
}
RECIPIENTS = {"cantine": ("cantines",), "partner_owner": ("partenaires",)}
CANTINE_DIGESTS = (*MATCHING, *OFFERS, "correspondances", "echeances", "questions")
COORDINATOR_DIGEST = tuple(DOMAIN_TABLES)
DRAFTS = (
    "cantines", "partenaires", "conventions", "echeances", "offres", "declinaisons", "indicateurs", "budgets",
    "candidatures",
)
CHECKS = ("partenaires", "opportunites", "candidatures", "conventions", "echeances", "budgets")


def reminder_needs(rule: Rule) -> tuple[str, ...]:
    """The tables a reminder rule's messages are built from: its source's and its recipients'."""
    needs = list(REMINDER_SOURCES[rule.source])
    for recipient in rule.recipients:
        needs.extend(RECIPIENTS.get(recipient, ()))
    return tuple(dict.fromkeys(needs))


def missing_for(dataset: Dataset, needs: Iterable[str]) -> list[str]:
    """Why `needs` cannot be met in this run, in French (« Échéances non lue »); empty when complete."""
    return [dataset.incomplete[code] for code in dict.fromkeys(needs) if code in dataset.incomplete]
