"""The hotline mailbox, decided: which messages become Questions rows, which replies answer one, and
who gets an acknowledgement. Pure: the cycle reads the mailbox and the tables, this module says what
to write, and the cycle writes it.

- A message from a cantine (or anyone but the network's own addresses) whose Message-ID is not yet
  in Questions becomes a row, once: the Message-ID is the row's identity, so a worker that died after
  writing the row and before flagging the message finds it there and does not add it twice.
- The cantine is recognised from the sender among every cantine's Email responsable and Emails en
  copie; an unknown sender leaves Cantine empty, and a data problem asks staff to choose it.
- A reply from the coordinator (or another staff address) in the thread of a question (its
  In-Reply-To or References names the question's Message-ID) answers it: Répondue le is set, and the
  question is « Résolue » unless staff already moved it; the SLA reminders stop.
- Auto-replies, bulk and list mail never become questions, and are never answered.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol
from zoneinfo import ZoneInfo

from automations.domain.model import Cantine, DataProblem

QUESTION_LIMIT = 5000  # characters of a message's text kept in the Questions row
ANSWER_LIMIT = 2000
QUESTIONS = "Questions"
OPEN, ANSWERED = "Ouverte", "Résolue"


class MailMessage(Protocol):
    """What the hotline needs of a message (connectors.mail.imap.MailboxMessage has it)."""

    folder: str
    uid: str
    message_id: str
    sender: str
    sender_name: str
    subject: str
    received: dt.datetime | None
    text: str
    attachments: tuple[str, ...]
    thread: tuple[str, ...]
    automatic: bool


@dataclass(frozen=True)
class KnownQuestion:
    """A Questions row that came from the mailbox (it has a Message-ID)."""

    row_id: str
    message_id: str
    answered_on: dt.date | None
    status: str | None
    answer: str | None
    cantine: str | None


@dataclass(frozen=True)
class NewQuestion:
    message: MailMessage
    cantine: str | None
    asked_on: dt.date
    fields: dict[str, object]
    acknowledge: bool  # a first message (not a follow-up in a thread already acknowledged)


@dataclass(frozen=True)
class Answer:
    question: KnownQuestion
    message: MailMessage
    fields: dict[str, object]


@dataclass
class HotlinePlan:
    new_questions: list[NewQuestion] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    problems: list[DataProblem] = field(default_factory=list)
    done: list[MailMessage] = field(default_factory=list)  # to flag once the rows are written
    ignored: int = 0  # automatic mail, the network's own messages that answer nothing (left unflagged)

    @property
    def written(self) -> int:
        return len(self.new_questions) + len(self.answers)


def addresses_of(cantines: Iterable[Cantine]) -> dict[str, str]:
    """Each address a cantine writes from → the cantine's name (the first cantine wins a shared one)."""
    found: dict[str, str] = {}
    for cantine in cantines:
        for address in (cantine.manager_email, *cantine.cc_emails):
            if address:
                found.setdefault(address.strip().lower(), cantine.name)
    return found


def plan_hotline(
    messages: Sequence[MailMessage],
    known: Mapping[str, KnownQuestion],
    cantines: Iterable[Cantine],
    *,
    staff_addresses: Iterable[str],
    timezone: ZoneInfo,
    today: dt.date,
) -> HotlinePlan:
    """What to write for the messages read (oldest first); `known` maps Message-ID → row."""
    plan = HotlinePlan()
    by_address = addresses_of(cantines)
    staff = {a.strip().lower() for a in staff_addresses if a}
    known = dict(known)
    answered: set[str] = set()
    fresh: dict[str, int] = {}  # Message-ID → index in plan.new_questions, for questions of this pass
    for message in sorted(messages, key=lambda m: (m.received or dt.datetime.max.replace(tzinfo=dt.timezone.utc))):
        if message.automatic:
            plan.ignored += 1
            continue
        if message.sender in staff:
            question = next((known[i] for i in message.thread if i in known), None)
            if question is not None and question.answered_on is None and question.message_id not in answered:
                answered.add(question.message_id)
                fields = _answer_fields(question, message, timezone, today)
                if question.message_id in fresh:  # asked and answered since the last pass: one new row
                    index = fresh[question.message_id]
                    new = plan.new_questions[index]
                    plan.new_questions[index] = replace(new, fields={**new.fields, **fields}, acknowledge=False)
                else:
                    plan.answers.append(Answer(question, message, fields))
                plan.done.append(message)
            else:
                plan.ignored += 1
            continue
        if message.message_id in known:
            plan.done.append(message)  # written by an earlier run that stopped before flagging it
            continue
        cantine = by_address.get(message.sender)
        asked_on = _day(message.received, timezone) or today
        follow_up = any(i in known for i in message.thread)
        fields: dict[str, object] = {
            "Cantine": cantine, "Posée le": asked_on, "Thème": "Autre", "Question": question_text(message),
            "Statut": OPEN, "Message-ID": message.message_id, "Expéditeur": _sender(message),
            "Pièces jointes": "\n".join(message.attachments) or None,
        }
        fresh[message.message_id] = len(plan.new_questions)
        plan.new_questions.append(NewQuestion(message, cantine, asked_on, fields, acknowledge=not follow_up))
        known[message.message_id] = KnownQuestion("", message.message_id, None, OPEN, None, cantine)
        if cantine is None:
            plan.problems.append(DataProblem(
                QUESTIONS, f"message de {message.sender} du {asked_on.strftime('%d/%m/%Y')}", "Cantine",
                message.sender,
                f"l'expéditeur {message.sender} n'est l'Email responsable ni un Email en copie d'aucune cantine : "
                "choisissez la cantine dans la colonne Cantine (et ajoutez l'adresse à la cantine pour la suite)",
            ))
        plan.done.append(message)
    return plan


def question_text(message: MailMessage) -> str:
    """The Questions cell: the subject, then the text (quoted history cut), bounded."""
    body = strip_quoted(message.text)
    text = f"{message.subject}\n\n{body}".strip() if message.subject else body
    if len(text) > QUESTION_LIMIT:
        text = text[:QUESTION_LIMIT].rstrip() + " […] (message complet dans la boîte de la hotline)"
    return text or "(message sans texte)"


def strip_quoted(text: str) -> str:
    """The new part of a message: lines quoted with « > » and what follows « Le … a écrit : » cut."""
    kept: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(">"):
            continue
        lowered = stripped.lower()
        if (lowered.startswith(("le ", "on ")) and lowered.endswith(("a écrit :", "a écrit:", "wrote:"))) \
                or lowered.startswith(("-----original message", "-----message d'origine", "de : ", "from: ")):
            break
        kept.append(line.rstrip())
    return "\n".join(kept).strip()


def _answer_fields(question: KnownQuestion, message: MailMessage, timezone: ZoneInfo, today: dt.date) -> dict[str, object]:
    fields: dict[str, object] = {"Répondue le": _day(message.received, timezone) or today}
    if question.status in (None, "", OPEN):
        fields["Statut"] = ANSWERED
    if not question.answer:
        answer = strip_quoted(message.text)
        fields["Réponse"] = answer[:ANSWER_LIMIT] + (" […]" if len(answer) > ANSWER_LIMIT else "") or None
    return fields


def _day(moment: dt.datetime | None, timezone: ZoneInfo) -> dt.date | None:
    return moment.astimezone(timezone).date() if moment is not None else None


def _sender(message: MailMessage) -> str:
    return f"{message.sender_name} <{message.sender}>" if message.sender_name else message.sender
