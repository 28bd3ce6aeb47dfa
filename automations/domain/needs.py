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

A deployment's base may lack a table (`absent = true` in its mapping file) or a column (mapped to
`false`): that is no incomplete read, it is how the base is. Such a column reads as empty and nothing
waits for it, unless a feature cannot work without it: `FEATURES` says which columns of which tables
each feature needs, and a feature whose table or column the base lacks is off (the run goes on
without it, its summary and `cantines check` say which and why).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Feature:
    """Something the worker does that a base may not allow: the tables and columns it cannot do without."""

    key: str
    label: str  # French, for staff
    needs: Mapping[str, tuple[str, ...]]  # table code → its columns the feature needs (() : the table only)


# The date each reminder source counts from.
REMINDER_DATES = {
    "echeances": ("Date d'échéance",), "candidatures": ("Date limite interne",),
    "correspondances": ("Date limite",), "partenaires": ("Date prochaine action",),
    "conventions": ("Date de fin",), "questions": ("Posée le", "Statut"),
    "budgets": ("Nature", "Montant réalisé"),
}
REMINDER_LABELS = {
    "echeances": "rappels d'échéances", "candidatures": "rappels de candidatures",
    "correspondances": "rappels de correspondances", "partenaires": "rappels des prochaines actions partenaires",
    "conventions": "rappels de fin de convention", "questions": "rappels de questions ouvertes",
    "budgets": "rappels des dépenses réalisées (compte rendu financier)",
}
FEATURES: tuple[Feature, ...] = (
    Feature("matching", "correspondances opportunité ↔ cantine et suggestions collectives", {
        "cantines": ("Statut", "Département"),
        "opportunites": ("Date limite", "Statut veille"),
        "candidatures": ("Opportunité", "Statut"),
    }),
    Feature("offers", "offres partenaires proposées aux cantines", {
        "offres": ("Partenaire", "Statut"), "declinaisons": ("Offre", "Cantine", "Statut"),
    }),
    *(Feature(f"reminders:{source}", REMINDER_LABELS[source], {source: REMINDER_DATES[source]})
      for source in REMINDER_SOURCES),
    Feature("cantine_emails", "récapitulatifs et invitations envoyés aux cantines", {
        "cantines": ("Email responsable", "Reçoit les emails"),
    }),
    Feature("drafts", "brouillons de bilans", {
        "echeances": ("Type", "Date d'échéance"), "conventions": ("Partenaire",), "indicateurs": ("Cantine", "Mois"),
    }),
    Feature("hotline", "hotline (questions reçues par email)", {
        "questions": ("Expéditeur", "Message-ID", "Question"),
    }),
    Feature("aides", "import Aides-territoires", {
        "opportunites": ("Source", "Identifiant source", "Statut veille"), "partenaires": ("Nom",),
    }),
    Feature("checks", "contrôles des subventions (convention signée, contrat d'engagement républicain, "
            "budget, versements)", {
        "conventions": ("Partenaire", "Montant total", "Date de signature"), "partenaires": ("Type",),
    }),
    Feature("events", "vie du réseau (événements, invitations, rappels)", {"evenements": (), "inscriptions": ()}),
)
FEATURE_KEYS = {feature.key: feature for feature in FEATURES}


def features_off(
    absent_tables: Iterable[str], unmapped: Mapping[str, Iterable[str]], table_name: Callable[[str], str],
) -> dict[str, str]:
    """The features a base cannot have, by key, each with why in French (« Fonctionnalité désactivée :
    … (Veille sans la colonne « Date limite ») »), given the tables it lacks and the columns it lacks (by code table)."""
    absent = set(absent_tables)
    missing = {code: set(columns) for code, columns in unmapped.items()}
    off: dict[str, str] = {}
    for feature in FEATURES:
        reasons = []
        for code, columns in feature.needs.items():
            if code in absent:
                reasons.append(f"pas de table {table_name(code)}")
                continue
            lacking = [c for c in columns if c in missing.get(code, ())]
            if lacking:
                quoted = ", ".join(f"« {c} »" for c in lacking)
                reasons.append(f"{table_name(code)} sans {'la colonne' if len(lacking) == 1 else 'les colonnes'} {quoted}")
        if reasons:
            off[feature.key] = f"Fonctionnalité désactivée : {feature.label} ({' ; '.join(reasons)})"
    return off
