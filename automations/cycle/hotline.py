"""The hotline step of a run: read the mailbox (IMAP_URL), write the new questions and the answers
into Questions, acknowledge each new question once, then flag the messages read.

Order matters for a worker that may die at any moment: the rows are written first (a message
already in Questions, by its Message-ID, is never added again), the acknowledgements go through the
state store's outbox under a key per Message-ID (never sent twice), and the messages are flagged
last (a message left unflagged is simply read again and found in Questions). Nothing in the mailbox
is ever deleted or moved.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field

from connectors.errors import InvalidValueError
from connectors.mail import OutgoingMessage
from connectors.mail.imap import Mailbox, MailboxMessage, parse_imap_url
from connectors.tables.base import Table

from automations.cycle.messages import Network, template_problem
from automations.cycle.render import Renderer, TemplateFailure
from automations.cycle.writeback import WriteCounts, write_tolerantly
from automations.domain.business_days import add_business_days
from automations.domain.hotline import KnownQuestion, NewQuestion, plan_hotline
from automations.domain.model import Cantine, DataProblem
from automations.domain.rules import Rule
from automations.settings import Settings

log = logging.getLogger(__name__)

ACK_TEMPLATE = "accuse_question"
KNOWN_COLUMNS = ("Message-ID", "Répondue le", "Statut", "Réponse", "Cantine")


@dataclass
class HotlineResult:
    read: int = 0
    questions: int = 0
    answers: int = 0
    acknowledgements: list[OutgoingMessage] = field(default_factory=list)
    problems: list[DataProblem] = field(default_factory=list)
    written: int = 0


def hotline_enabled(settings: Settings) -> bool:
    return bool(settings.secrets.get("IMAP_URL"))


def read_hotline(
    settings: Settings, questions: Table, cantines: list[Cantine], today: dt.date, *,
    renderer: Renderer, ssl_context: ssl.SSLContext | None = None,
    write_batch: Callable[[Callable[[], None]], None] = lambda write: write(),
) -> HotlineResult:
    """One pass over the hotline mailbox. `write_batch` wraps the table writes (the hub's batch, so
    that they are saved before the messages are flagged). Raises a BackendError when the mailbox
    or the Questions table cannot be used: nothing is flagged then."""
    mailbox_settings = parse_imap_url(settings.secrets.get("IMAP_URL") or "")
    if ssl_context is None and settings.hotline.ca_file:
        ssl_context = ssl.create_default_context(cafile=str(settings.hotline.ca_file))
    network = Network.from_settings(settings)
    result = HotlineResult()
    since = today - dt.timedelta(days=settings.hotline.lookback_days)
    with Mailbox(mailbox_settings, ssl_context=ssl_context) as mailbox:
        messages: list[MailboxMessage] = mailbox.messages(mailbox_settings.folder, since)
        if mailbox_settings.sent_folder:
            messages += mailbox.messages(mailbox_settings.sent_folder, since)
        result.read = len(messages)
        known = known_questions(questions)
        staff = [network.coordinator_email, network.sender, *settings.hotline.staff_addresses]
        plan = plan_hotline(messages, known, cantines, staff_addresses=staff, timezone=settings.timezone, today=today)
        result.problems.extend(plan.problems)
        counts = WriteCounts()
        report_refusal = counts.refuse(questions)
        refused: set[int] = set()  # rows the table would not take: not acknowledged, not flagged (tried again)

        def refuse(item: object, exc: InvalidValueError) -> None:
            refused.add(id(item))
            report_refusal(item, exc)

        def write() -> None:
            created = write_tolerantly(questions.create, [q.fields for q in plan.new_questions], refuse)
            updated = questions.update([(a.question.row_id, a.fields) for a in plan.answers]) if plan.answers else 0
            result.written = created + updated

        write_batch(write)
        result.problems.extend(counts.refused)
        accepted = [q for q in plan.new_questions if id(q.fields) not in refused]
        result.questions = len(accepted)
        result.answers = len(plan.answers)
        if settings.hotline.acknowledge:
            for question in accepted:
                if not question.acknowledge:
                    continue
                try:
                    result.acknowledgements.append(acknowledgement(question, network, renderer, settings.rules))
                except TemplateFailure as exc:
                    result.problems.append(template_problem(ACK_TEMPLATE, exc))
                    break  # the same template fails for every question
        left = {id(q.message) for q in plan.new_questions if id(q.fields) in refused}
        done: dict[str, list[str]] = {}
        for message in plan.done:
            if id(message) not in left and not getattr(message, "flagged", False):
                done.setdefault(message.folder, []).append(message.uid)
        for folder, uids in done.items():
            mailbox.flag(folder, uids)
    return result


def known_questions(questions: Table) -> dict[str, KnownQuestion]:
    """The Questions rows that came from the mailbox, by Message-ID."""
    known: dict[str, KnownQuestion] = {}
    for row in questions.read(list(KNOWN_COLUMNS)):
        message_id = str(row.get("Message-ID") or "").strip()
        if not message_id:
            continue
        answered = row.get("Répondue le")
        known[message_id] = KnownQuestion(
            row_id=row.id, message_id=message_id,
            answered_on=answered if isinstance(answered, dt.date) else (dt.date.min if answered else None),
            status=str(row.get("Statut") or "") or None, answer=str(row.get("Réponse") or "") or None,
            cantine=str(row.get("Cantine") or "") or None,
        )
    return known


def answer_days(rules: tuple[Rule, ...]) -> int | None:
    """The answer time the question reminders promise (the first question rule's delay), in business days."""
    for rule in rules:
        if rule.source == "questions" and rule.business_days and rule.offsets:
            return max(rule.offsets[0], 1)
    return None


def acknowledgement(question: NewQuestion, network: Network, renderer: Renderer, rules: tuple[Rule, ...]) -> OutgoingMessage:
    """The French « bien reçu » to the sender, in the question's thread, marked as an automatic reply."""
    message = question.message
    days = answer_days(rules)
    rendered = renderer.email(ACK_TEMPLATE, {
        "network": network, "name": message.sender_name, "subject": message.subject, "cantine": question.cantine,
        "asked_on": question.asked_on, "attachments": list(message.attachments),
        "answer_by": add_business_days(question.asked_on, days) if days else None, "answer_days": days,
    })
    digest = hashlib.sha256(message.message_id.encode("utf-8")).hexdigest()[:24]
    references = " ".join([*message.thread[-5:], message.message_id])
    return OutgoingMessage(
        key=f"hotline:accuse:{digest}", kind="accuse-reception-question", sender=network.sender_address,
        to=(message.sender,), reply_to=network.reply_to, subject=rendered.subject, text=rendered.text,
        html=rendered.html,
        headers=(("In-Reply-To", message.message_id), ("References", references), ("Auto-Submitted", "auto-replied")),
    )
