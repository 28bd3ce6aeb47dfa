"""What staff see of the messages the worker queued (the Envois table, the coordinator's digest,
`cantines status`): one wording for all three, from the state store's records (pure)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

WAITING, SENT, HELD, FAILED = "En attente", "Envoyé", "Retenu", "En échec"
# The state store's statuses, as staff read them ("sending" is a message being handed over, or one a
# stopped process left: the next run settles it).
STATES = {"pending": WAITING, "sending": WAITING, "sent": SENT, "held": HELD, "failed": FAILED}
TO_HANDLE = (HELD, FAILED)  # what a person must look at; « Relancer » applies to these only

WHAT_TO_DO = {
    HELD: ("l'envoi a été interrompu et le fournisseur ne dit pas s'il est parti : vérifiez dans son "
           "journal d'activité s'il a été reçu ; sinon cochez « Relancer » dans la table Envois"),
    FAILED: ("le fournisseur a refusé ce message (adresse erronée ou refusée) : corrigez l'adresse dans la "
             "table d'où elle vient (Cantines, Échéances, Partenaires…), puis cochez « Relancer » dans la "
             "table Envois ; le message sera refait pour la nouvelle adresse"),
}


@dataclass(frozen=True)
class Envoi:
    """One queued message as staff see it."""

    key: str
    subject: str
    kind: str
    recipients: tuple[str, ...]
    queued_on: dt.date
    sent_on: dt.date | None
    state: str
    reason: str
    provider_id: str

    @property
    def what_to_do(self) -> str:
        return WHAT_TO_DO.get(self.state, "")

    @property
    def to_handle(self) -> bool:
        return self.state in TO_HANDLE

    def row(self) -> dict[str, Any]:
        """Its row in the Envois table (« Relancer » is left to staff)."""
        return {
            "Clé": self.key, "Objet": self.subject, "Type": self.kind, "Destinataires": list(self.recipients),
            "Mis en file le": self.queued_on, "Envoyé le": self.sent_on, "État": self.state,
            "Raison": self.reason, "Que faire": self.what_to_do, "Identifiant fournisseur": self.provider_id,
        }


def envoi(entry: Mapping[str, Any], timezone: dt.tzinfo) -> Envoi:
    """An Envoi from one state-store record (`StateStore.entries()`)."""
    state = STATES.get(entry["status"], WAITING)
    error = entry.get("last_error") or ""
    if state == WAITING and error:
        reason = f"nouvel essai au prochain cycle ; dernière erreur : {error}"
    else:
        reason = error if state in TO_HANDLE else ""
    sent_at = entry.get("sent_at")
    return Envoi(
        key=entry["idempotency_key"], subject=entry.get("subject") or "", kind=entry.get("kind") or "",
        recipients=tuple(entry.get("recipients") or ()), queued_on=entry["queued_at"].astimezone(timezone).date(),
        sent_on=sent_at.astimezone(timezone).date() if sent_at is not None and state == SENT else None,
        state=state, reason=reason, provider_id=(entry.get("provider_id") or "") if state == SENT else "",
    )


def envois(entries: Iterable[Mapping[str, Any]], timezone: dt.tzinfo) -> list[Envoi]:
    return [envoi(e, timezone) for e in entries]


def retention_start(today: dt.date, retention_days: int, timezone: dt.tzinfo) -> dt.datetime:
    """Messages sent before this instant leave the Envois table (midnight, local time)."""
    return dt.datetime.combine(today - dt.timedelta(days=retention_days), dt.time(), tzinfo=timezone)


def counts_by_state(items: Sequence[Envoi]) -> dict[str, int]:
    """How many messages are in each state, every state named (zero included)."""
    found = {state: 0 for state in (WAITING, SENT, HELD, FAILED)}
    for item in items:
        found[item.state] += 1
    return found


_COUNTED = {WAITING: ("en attente", "en attente"), SENT: ("envoyé", "envoyés"), HELD: ("retenu", "retenus"),
            FAILED: ("en échec", "en échec")}


def describe_counts(counts: Mapping[str, int]) -> str:
    """« 3 en attente, 12 envoyés, 1 retenu, 0 en échec »."""
    return ", ".join(f"{n} {_COUNTED[state][0 if n <= 1 else 1]}" for state, n in counts.items())
