"""Turn what is due (reminders, digests) into messages, each built from its recipient's data only."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from email.headerregistry import Address
from urllib.parse import quote

from icalendar import Calendar, Event

from connectors.mail import Attachment, OutgoingMessage

from automations.domain.envois import Envoi
from automations.domain.digests import CantineDigest, CoordinatorDigest, week_label
from automations.domain.model import Cantine, DataProblem, Dataset
from automations.domain.reminders import Reminder
from automations.cycle.render import Renderer, TemplateFailure
from automations.settings import Settings


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
    unsubscribe_url: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> Network:
        n = settings.network
        return cls(
            name=n.name, coordinator_name=n.coordinator_name, coordinator_email=n.coordinator_email,
            sender=n.sender, sender_name=n.sender_name, reply_to=n.reply_to or n.coordinator_email,
            signature=n.signature, unsubscribe_url=n.unsubscribe_url,
        )

    @property
    def sender_address(self) -> Address:
        user, _, domain = self.sender.partition("@")
        return Address(display_name=self.sender_name, username=user, domain=domain)


@dataclass
class Addressing:
    """Who gets one message: To, Cc, and what was missing on the way."""

    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # French: which address was missing

    def add(self, addresses: Iterable[str | None], *, primary: bool = True) -> None:
        for address in addresses:
            if not address or address in self.to or address in self.cc:
                continue
            (self.to if primary and not self.to else self.cc).append(address)


def calendar_title(reminder: Reminder, cantine: Cantine | None) -> str:
    """The event's title: the item, and the cantine it is for when its title does not say it."""
    title = reminder.subject.title
    return f"{title} ({cantine.name})" if cantine is not None and cantine.name not in title else title


def wants_calendar(reminder: Reminder, today: dt.date) -> bool:
    """An .ics only for a date still to come: a past date is no event to add to a calendar."""
    return reminder.rule.calendar and reminder.subject.due_on >= today


def calendar_attachment(reminder: Reminder, network: Network, cantine: Cantine | None = None) -> Attachment:
    """An all-day event on the due date ("Ajouter à mon agenda"); one UID per item, cantine and date,
    so that each reminder for it updates the same event instead of adding one."""
    subject = reminder.subject
    title = calendar_title(reminder, cantine)
    calendar = Calendar()
    calendar.add("prodid", f"-//{network.name}//cantines-worker//FR")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    who = f"|{cantine.name}" if cantine is not None and len(subject.cantines) > 1 else ""
    uid = hashlib.sha256(f"{reminder.rule.id}|{subject.key}|{subject.due_on}{who}".encode()).hexdigest()[:32]
    event.add("uid", f"{uid}@cantines-worker")
    event.add("dtstamp", dt.datetime.combine(reminder.fires_on, dt.time(), tzinfo=dt.timezone.utc))
    event.add("dtstart", subject.due_on)
    event.add("dtend", subject.due_on + dt.timedelta(days=1))
    event.add("summary", title)
    event.add("description", f"{network.name} : {title}")
    event.add("transp", "TRANSPARENT")
    calendar.add_component(event)
    return Attachment(f"{subject.due_on.isoformat()}-echeance.ics", calendar.to_ical(), "text/calendar")


def reminder_messages(
    reminders: Iterable[Reminder],
    dataset: Dataset,
    network: Network,
    renderer: Renderer,
    today: dt.date,
) -> tuple[list[OutgoingMessage], list[DataProblem]]:
    """One message per reminder (one per cantine when it goes to several cantines), each rendered
    from the data of the cantine it goes to only."""
    messages: list[OutgoingMessage] = []
    problems: list[DataProblem] = []
    cantines = {c.name: c for c in dataset.cantines}
    for reminder in reminders:
        subject = reminder.subject
        split = "cantine" in reminder.rule.recipients and len(subject.cantines) > 1
        views: list[tuple[Cantine | None, str]] = (
            [(cantines.get(name), f":{name}") for name in subject.cantines] if split
            else [(cantines.get(subject.cantines[0]) if len(subject.cantines) == 1 else None, "")]
        )
        for cantine, suffix in views:
            addressing = address(reminder, cantine, dataset, network)
            if not addressing.to:
                addressing.to.append(network.coordinator_email)
            for missing in addressing.missing:
                problems.append(DataProblem(_table_name(subject.source), subject.title, "", "", missing))
            context = {
                "network": network, "reminder": reminder, "subject": subject, "item": subject.item,
                "days": (subject.due_on - today).days, "today": today, "cantine": cantine,
                "cantines": [cantine.name] if split and cantine else list(subject.cantines),
                "agreement": dataset.convention(getattr(subject.item, "agreement", None)),
                "partner": dataset.partenaire(subject.partner),
                "opportunity": next((o for o in dataset.opportunites if o.title == getattr(subject.item, "opportunity", None)), None),
                "missing": addressing.missing,
                "calendar": wants_calendar(reminder, today),  # an .ics is attached
                "internal_days": (
                    (subject.item.internal_due_on - today).days
                    if getattr(subject.item, "internal_due_on", None) is not None else None
                ),
            }
            try:
                rendered = renderer.email(reminder.rule.template, context)
            except TemplateFailure as exc:
                problems.append(template_problem(reminder.rule.template, exc))
                continue
            messages.append(
                OutgoingMessage(
                    key=reminder.key + suffix, kind=f"rappel-{reminder.rule.id}", sender=network.sender_address,
                    to=tuple(addressing.to), cc=tuple(addressing.cc), reply_to=network.reply_to,
                    subject=rendered.subject, text=rendered.text, html=rendered.html,
                    attachments=(calendar_attachment(reminder, network, cantine),) if wants_calendar(reminder, today) else (),
                )
            )
    return messages, list(dict.fromkeys(problems))  # a broken template: said once


def address(reminder: Reminder, cantine: Cantine | None, dataset: Dataset, network: Network) -> Addressing:
    """To and Cc for one reminder, in the order of the rule's recipients."""
    subject = reminder.subject
    addressing = Addressing()
    for kind in reminder.rule.recipients:
        if kind == "responsable":
            if not subject.owner_email:
                addressing.missing.append(
                    "aucun responsable (adresse email) : le rappel est adressé aux autres destinataires ou à la coordination"
                )
            addressing.add([subject.owner_email])
        elif kind == "cantine":
            if cantine is None:
                continue
            if not cantine.manager_email:
                addressing.missing.append(
                    f"la cantine {cantine.name} n'a pas d'Email responsable : elle n'a pas reçu ce rappel"
                )
            addressing.add([cantine.manager_email])
            addressing.add(cantine.cc_emails, primary=False)
        elif kind == "coordinator":
            addressing.add([network.coordinator_email])
        elif kind == "partner_owner":
            partner = dataset.partenaire(subject.partner)
            addressing.add([partner.owner_email if partner else None])
    return addressing


def _table_name(source: str) -> str:
    return {
        "echeances": "Échéances", "budgets": "Budgets", "candidatures": "Candidatures", "correspondances": "Correspondances",
        "partenaires": "Partenaires", "conventions": "Conventions", "questions": "Questions",
    }[source]


def template_problem(name: str, exc: Exception) -> DataProblem:
    """A template that failed, for the Problèmes tab: staff edit templates, staff fix them."""
    where = f"templates/{exc.template}" if isinstance(exc, TemplateFailure) and exc.template else f"templates/emails/{name}"
    return DataProblem("Modèles d'emails", where, "", "", f"{exc} : ces messages ne sont pas partis")


def unsubscribe_headers(network: Network, what: str, recipient: str) -> tuple[tuple[str, str], ...]:
    """List-Unsubscribe: a mail to the coordinator, who updates « Reçoit les emails »; with an https
    one-click URL too (RFC 8058) when [network] unsubscribe_url is set. The URL's {liste} and {email}
    are filled in."""
    subject = quote(f"Ne plus recevoir : {what}")
    targets = [f"<mailto:{network.coordinator_email}?subject={subject}>"]
    if network.unsubscribe_url:
        url = network.unsubscribe_url.replace("{liste}", quote(what, safe="")).replace("{email}", quote(recipient, safe=""))
        targets.append(f"<{url}>")
        return (("List-Unsubscribe", ", ".join(targets)), ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    return (("List-Unsubscribe", targets[0]),)


def digest_key(cantine: str, day: dt.date) -> str:
    """The idempotency key of a cantine's digest of `day`'s week."""
    return f"digest:cantine:{cantine}:{week_label(day)}"


def coordinator_digest_key(day: dt.date) -> str:
    """The idempotency key of the coordinator's digest of `day`'s week."""
    return f"digest:coordination:{week_label(day)}"


def digest_messages(
    digests: Iterable[CantineDigest],
    coordinator: CoordinatorDigest | None,
    network: Network,
    renderer: Renderer,
    day: dt.date,
    envois: Sequence[Envoi] = (),
) -> tuple[list[OutgoingMessage], list[DataProblem]]:
    """The week's digests: one per cantine (its own data only), one for the coordinator (with the
    messages held or refused, `envois`, and what to do about them)."""
    messages: list[OutgoingMessage] = []
    problems: list[DataProblem] = []
    for digest in digests:
        cantine = digest.cantine
        if not cantine.manager_email:
            problems.append(DataProblem(
                "Cantines", cantine.name, "Email responsable", "",
                "pas d'Email responsable : le récapitulatif de la semaine n'a pas pu être envoyé",
            ))
            continue
        try:
            rendered = renderer.email("digest_cantine", {"network": network, "digest": digest, "today": day})
        except TemplateFailure as exc:
            problems.append(template_problem("digest_cantine", exc))
            continue
        messages.append(OutgoingMessage(
            key=digest_key(cantine.name, day), kind="recapitulatif-cantine",
            sender=network.sender_address, to=(cantine.manager_email,), cc=cantine.cc_emails,
            reply_to=network.reply_to, subject=rendered.subject, text=rendered.text, html=rendered.html,
            headers=unsubscribe_headers(network, f"récapitulatif {cantine.name}", cantine.manager_email),
        ))
    if coordinator is not None:
        try:
            rendered = renderer.email(
                "digest_coordination", {"network": network, "digest": coordinator, "today": day, "envois": list(envois)})
        except TemplateFailure as exc:
            problems.append(template_problem("digest_coordination", exc))
            return messages, problems
        messages.append(OutgoingMessage(
            key=coordinator_digest_key(day), kind="recapitulatif-coordination",
            sender=network.sender_address, to=(network.coordinator_email,), reply_to=network.reply_to,
            subject=rendered.subject, text=rendered.text, html=rendered.html,
            headers=unsubscribe_headers(network, "récapitulatif de la coordination", network.coordinator_email),
        ))
    return messages, list(dict.fromkeys(problems))  # a broken template: said once
