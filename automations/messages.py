"""Turn what is due (reminders, later digests and drafts) into messages, one recipient's data each."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from email.headerregistry import Address

from connectors.mail import OutgoingMessage

from .model import DataProblem, Dataset
from .reminders import Reminder
from .render import Renderer
from .settings import Settings


@dataclass(frozen=True)
class Network:
    """Who the messages come from, as the settings say."""

    name: str
    coordinator_name: str
    coordinator_email: str
    sender: str
    sender_name: str
    reply_to: str
    signature: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Network:
        n = settings.network
        return cls(
            name=n.name, coordinator_name=n.coordinator_name, coordinator_email=n.coordinator_email,
            sender=n.sender, sender_name=n.sender_name, reply_to=n.reply_to or n.coordinator_email,
            signature=n.signature,
        )

    @property
    def sender_address(self) -> Address:
        user, _, domain = self.sender.partition("@")
        return Address(display_name=self.sender_name, username=user, domain=domain)


def reminder_messages(
    reminders: Iterable[Reminder],
    dataset: Dataset,
    network: Network,
    renderer: Renderer,
    today: dt.date,
) -> tuple[list[OutgoingMessage], list[DataProblem]]:
    """One message per reminder, to the échéance's Responsable (the coordinator when there is none)."""
    messages: list[OutgoingMessage] = []
    problems: list[DataProblem] = []
    for reminder in reminders:
        item = reminder.item
        agreement = dataset.convention(item.agreement)
        partner = dataset.partenaire(agreement.partner) if agreement else None
        cantine = dataset.cantine(item.cantine)
        missing_owner = not item.owner_email
        if missing_owner:
            problems.append(
                DataProblem(
                    "Échéances", item.title, "Responsable", "",
                    "aucun responsable : le rappel a été adressé à la coordination (attendu : une adresse email)",
                )
            )
        context = {
            "network": network,
            "item": item,
            "agreement": agreement,
            "partner": partner,
            "cantine": cantine,
            "days": (item.due_on - today).days,
            "offset": reminder.offset,
            "missing_owner": missing_owner,
            "today": today,
        }
        rendered = renderer.email("rappel_echeance", context)
        messages.append(
            OutgoingMessage(
                key=reminder.key,
                kind="rappel-echeance",
                sender=network.sender_address,
                to=(network.coordinator_email if missing_owner else item.owner_email,),  # type: ignore[arg-type]
                reply_to=network.reply_to,
                subject=rendered.subject,
                text=rendered.text,
                html=rendered.html,
            )
        )
    return messages, problems
