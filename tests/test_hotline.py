"""The hotline: questions that arrive by email become Questions rows, once; each is acknowledged once;
a reply from the coordinator in the thread answers it. Against a real IMAP server (pymap, STARTTLS)."""

from __future__ import annotations

import datetime as dt
import email
import email.utils
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from automations.cycle.backends import hub_batch, open_tables
from automations.cycle.hotline import read_hotline
from automations.cycle.render import Renderer
from automations.cycle.run import HOTLINE, run_cycle
from automations.demo import write_demo_workbook
from automations.domain.hotline import KnownQuestion, plan_hotline, strip_quoted
from automations.domain.model import Cantine
from automations.domain.reference import Departement
from automations.logs import secret_values
from automations.settings import Settings, load_settings
from automations.summary import format_report
from connectors.errors import ConfigurationError
from connectors.mail.imap import Mailbox, parse_imap_url
from connectors.tables.workbook import WorkbookStore

from .conftest import PARIS, write_config
from .fakes.imap import ImapServer

TODAY = dt.date(2026, 11, 24)  # a Tuesday
COORDINATOR = "coordination@example.org"


# ---- the pure decisions ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Mail:
    message_id: str
    sender: str
    subject: str = "Reçu fiscal"
    text: str = "Bonjour, comment émettre un reçu fiscal ?"
    received: dt.datetime | None = dt.datetime(2026, 11, 23, 23, 30, tzinfo=dt.timezone.utc)
    thread: tuple[str, ...] = ()
    automatic: bool = False
    attachments: tuple[str, ...] = ()
    sender_name: str = ""
    folder: str = "INBOX"
    uid: str = "1"
    flagged: bool = False


LYON = Departement("69", "Rhône", "Auvergne-Rhône-Alpes")
CANTINES = [
    Cantine(name="Cantine du Port", status="Ouverte", city="Lyon", departement=LYON,
            manager_email="port@cantines.example", cc_emails=("tresorier@port.example",)),
    Cantine(name="La Tablée", status="Ouverte", city="Lyon", departement=LYON, manager_email="tablee@cantines.example"),
]


def plan(messages, known=None):  # type: ignore[no-untyped-def]
    return plan_hotline(messages, known or {}, CANTINES, staff_addresses=[COORDINATOR], timezone=PARIS, today=TODAY)


def test_a_cantine_is_recognised_by_any_of_its_addresses():
    result = plan([Mail("<a@x>", "tresorier@port.example"), Mail("<b@x>", "tablee@cantines.example")])
    assert [q.cantine for q in result.new_questions] == ["Cantine du Port", "La Tablée"]
    assert result.problems == []
    question = result.new_questions[0].fields
    assert question["Posée le"] == dt.date(2026, 11, 23 + 1)  # 23:30 UTC is already the 24th in Paris (UTC+1)
    assert question["Question"] == "Reçu fiscal\n\nBonjour, comment émettre un reçu fiscal ?"
    assert question["Statut"] == "Ouverte" and question["Message-ID"] == "<a@x>"


def test_an_unknown_sender_leaves_the_cantine_to_staff_and_says_so():
    result = plan([Mail("<a@x>", "inconnu@ailleurs.example")])
    assert result.new_questions[0].cantine is None
    assert result.new_questions[0].fields["Expéditeur"] == "inconnu@ailleurs.example"
    [problem] = result.problems
    assert problem.table == "Questions" and problem.column == "Cantine"
    assert "n'est l'Email responsable ni un Email en copie d'aucune cantine" in problem.message


def test_automatic_mail_is_never_a_question_nor_answered():
    result = plan([Mail("<a@x>", "port@cantines.example", automatic=True)])
    assert result.new_questions == [] and result.done == [] and result.ignored == 1


def test_a_message_already_in_questions_is_not_added_again_but_is_flagged():
    known = {"<a@x>": KnownQuestion("rec1", "<a@x>", None, "Ouverte", None, "Cantine du Port")}
    result = plan([Mail("<a@x>", "port@cantines.example")], known)
    assert result.new_questions == [] and [m.message_id for m in result.done] == ["<a@x>"]


def test_a_reply_from_the_coordinator_in_the_thread_answers_the_question():
    known = {"<a@x>": KnownQuestion("rec1", "<a@x>", None, "Ouverte", None, "Cantine du Port")}
    reply = Mail("<r@x>", COORDINATOR, subject="Re: Reçu fiscal", thread=("<a@x>",),
                 text="Voici la marche à suivre.\n\nLe lun. 23 nov. 2026, port@cantines.example a écrit :\n> Bonjour",
                 received=dt.datetime(2026, 11, 25, 9, 0, tzinfo=PARIS))
    result = plan([reply], known)
    [answer] = result.answers
    assert answer.question.row_id == "rec1"
    assert answer.fields == {"Répondue le": dt.date(2026, 11, 25), "Statut": "Résolue", "Réponse": "Voici la marche à suivre."}


def test_a_reply_keeps_what_staff_already_wrote():
    known = {"<a@x>": KnownQuestion("rec1", "<a@x>", None, "En cours", "Déjà répondu au téléphone", "Cantine du Port")}
    [answer] = plan([Mail("<r@x>", COORDINATOR, thread=("<a@x>",))], known).answers
    assert answer.fields == {"Répondue le": dt.date(2026, 11, 23 + 1)}


def test_a_question_asked_and_answered_between_two_runs_is_one_answered_row():
    reply = Mail("<r@x>", COORDINATOR, thread=("<a@x>",), text="C'est fait.",
                 received=dt.datetime(2026, 11, 24, 9, 0, tzinfo=PARIS))
    result = plan([reply, Mail("<a@x>", "port@cantines.example")])
    [question] = result.new_questions
    assert question.fields["Statut"] == "Résolue" and question.fields["Répondue le"] == dt.date(2026, 11, 24)
    assert question.fields["Réponse"] == "C'est fait." and question.acknowledge is False
    assert result.answers == []


def test_a_follow_up_in_a_known_thread_is_recorded_without_a_second_acknowledgement():
    known = {"<a@x>": KnownQuestion("rec1", "<a@x>", None, "Ouverte", None, "Cantine du Port")}
    [follow_up] = plan([Mail("<b@x>", "port@cantines.example", thread=("<a@x>",))], known).new_questions
    assert follow_up.acknowledge is False


@pytest.mark.parametrize("text, kept", [
    pytest.param("Merci !\n\nOn Mon, Nov 23, 2026 at 9:00 AM Camille wrote:\n> question", "Merci !", id="english-client"),
    pytest.param("Oui\n-----Message d'origine-----\nDe : x", "Oui", id="outlook-fr"),
    pytest.param("> cité\nRéponse", "Réponse", id="quoted-lines"),
])
def test_quoted_history_is_cut(text: str, kept: str):
    assert strip_quoted(text) == kept


# ---- the mailbox, for real -------------------------------------------------------------------------

@pytest.fixture
def imap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ImapServer]:
    with ImapServer(tmp_path_factory.mktemp("imap")) as server:
        yield server


def raw(message_id: str, sender: str, subject: str, text: str, *, in_reply_to: str | None = None,
        date: dt.datetime | None = None, attachment: str | None = None, headers: dict[str, str] | None = None) -> bytes:
    msg = email.message.EmailMessage(policy=policy.SMTP)
    msg["From"] = sender
    msg["To"] = "hotline@cantines.example"
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    msg["Date"] = email.utils.format_datetime(date or dt.datetime(2026, 11, 23, 10, 0, tzinfo=PARIS))
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(text)
    if attachment:
        msg.add_attachment(b"%PDF-1.4 fake", maintype="application", subtype="pdf", filename=attachment)
    return msg.as_bytes()


def hotline_settings(tmp_path: Path, imap: ImapServer, **environ: str) -> Settings:
    ca = tmp_path / "ca.pem"
    imap.ca.cert_pem.write_to_path(str(ca))
    path = write_config(tmp_path / "deploy", hotline=f'ca_file = "{ca}"\n')
    return load_settings(path, {"IMAP_URL": imap.url, **environ})


def questions(settings: Settings) -> list[dict]:
    store = WorkbookStore(settings.workbook.path, timezone=PARIS)
    return [dict(r.fields) for r in store.table(settings.schema["questions"]).read()]


def outbox(settings: Settings, kind: str) -> list[bytes]:
    found = []
    for path in sorted(Path(settings.mail.outbox_dir).glob("*.eml")):
        data = path.read_bytes()
        if f"X-Cantines-Kind: {kind}".encode() in data:
            found.append(data)
    return found


def clock(day: dt.date, hour: int = 9):  # type: ignore[no-untyped-def]
    return lambda: dt.datetime.combine(day, dt.time(hour), tzinfo=PARIS)


def test_questions_arrive_once_are_acknowledged_once_and_answered(tmp_path: Path, imap: ImapServer):
    settings = hotline_settings(tmp_path, imap)
    write_demo_workbook(settings, TODAY)
    cantine = next(r for r in questions_source(settings) if r.get("Email responsable"))
    port = str(cantine["Email responsable"])
    before = len(questions(settings))
    imap.deliver(raw("<q1@cantine.example>", f"Responsable <{port}>", "Reçu fiscal pour un don de pain",
                     "Bonjour,\nComment émettre le reçu fiscal ?\nMerci", attachment="devis boulangerie.pdf"))
    imap.deliver(raw("<q2@ailleurs.example>", "Inconnu <inconnu@ailleurs.example>", "Question", "Bonjour"))
    imap.deliver(raw("<auto@cantine.example>", port, "Absence", "Je suis absente",
                     headers={"Auto-Submitted": "auto-replied"}))

    report = run_cycle(settings, today=TODAY, clock=clock(TODAY), parts=frozenset({HOTLINE}))

    assert report.hotline is not None and report.hotline.questions == 2
    rows = questions(settings)
    assert len(rows) == before + 2
    mine = next(r for r in rows if r.get("Message-ID") == "<q1@cantine.example>")
    assert mine["Cantine"] == cantine["Nom"] and mine["Statut"] == "Ouverte" and mine["Posée le"] == dt.date(2026, 11, 23)
    assert mine["Question"].startswith("Reçu fiscal pour un don de pain\n\nBonjour,")
    assert mine["Pièces jointes"] == "devis boulangerie.pdf"
    stranger = next(r for r in rows if r.get("Message-ID") == "<q2@ailleurs.example>")
    assert not stranger.get("Cantine") and stranger["Expéditeur"] == "Inconnu <inconnu@ailleurs.example>"
    assert any(p.table == "Questions" and "inconnu@ailleurs.example" in p.message for p in report.problems)
    # acknowledged once each, in the thread, as an automatic reply, in French; never the auto-reply
    acks = outbox(settings, "accuse-reception-question")
    assert len(acks) == 2
    ack = next(a for a in acks if f"To: {port}".encode() in a)
    assert b"In-Reply-To: <q1@cantine.example>" in ack and b"Auto-Submitted: auto-replied" in ack
    text = text_of(ack)
    assert "Nous avons bien reçu votre message «\u00a0Reçu fiscal pour un don de pain\u00a0»" in text
    assert "d'ici le mercredi 25 novembre 2026 (2 jours ouvrés au plus)" in text
    assert "devis boulangerie.pdf" in text
    # flagged, never deleted; the auto-reply left as it was
    state = dict(imap.state())
    assert "\\Flagged" in state["<q1@cantine.example>"] and "\\Flagged" in state["<q2@ailleurs.example>"]
    assert "\\Flagged" not in state["<auto@cantine.example>"]
    assert "\\Seen" not in state["<q1@cantine.example>"]  # staff still see it unread

    # the next run adds nothing and acknowledges nothing again
    again = run_cycle(settings, today=TODAY, clock=clock(TODAY, 10), parts=frozenset({HOTLINE}))
    assert len(questions(settings)) == before + 2
    assert again.hotline is not None and again.hotline.questions == 0
    assert len(outbox(settings, "accuse-reception-question")) == 2

    # the coordinator answers in the thread: the question is answered and its reminder never goes
    imap.deliver(raw("<r1@reseau.example>", f"Camille <{COORDINATOR}>", "Re: Reçu fiscal pour un don de pain",
                     "Bonjour,\nVoici le modèle.\n\n> Comment émettre le reçu fiscal ?",
                     in_reply_to="<q1@cantine.example>", date=dt.datetime(2026, 11, 24, 15, 0, tzinfo=PARIS)))
    later = dt.date(2026, 11, 26)  # 2 business days after the question: its reminder would be due
    report = run_cycle(settings, today=later, clock=clock(later))
    mine = next(r for r in questions(settings) if r.get("Message-ID") == "<q1@cantine.example>")
    assert mine["Répondue le"] == dt.date(2026, 11, 24) and mine["Statut"] == "Résolue"
    assert mine["Réponse"] == "Bonjour,\nVoici le modèle."
    reminders = [text_of(m) for m in outbox(settings, "rappel-question-ouverte")]
    assert not any("Reçu fiscal pour un don de pain" in m for m in reminders)
    assert any("inconnu@ailleurs.example" in m for m in reminders)  # the other one is still open
    assert "Hotline :" in format_report(report)


def test_a_worker_killed_after_writing_adds_nothing_twice(tmp_path: Path, imap: ImapServer):
    settings = hotline_settings(tmp_path, imap)
    write_demo_workbook(settings, TODAY)
    imap.deliver(raw("<crash@cantine.example>", "x@ailleurs.example", "Avant la panne", "Bonjour"))
    tables = open_tables(settings)
    before = len(questions(settings))

    def then_die(write):  # type: ignore[no-untyped-def]
        with hub_batch(tables):
            write()
        raise KeyboardInterrupt  # the platform kills the process: rows saved, nothing flagged

    with pytest.raises(KeyboardInterrupt):
        read_hotline(settings, tables["questions"], [], TODAY, renderer=Renderer(settings.paths.templates),
                     write_batch=then_die)
    assert "\\Flagged" not in dict(imap.state())["<crash@cantine.example>"]
    assert len(questions(settings)) == before + 1

    run_cycle(settings, today=TODAY, clock=clock(TODAY), parts=frozenset({HOTLINE}))
    rows = [r for r in questions(settings) if r.get("Message-ID") == "<crash@cantine.example>"]
    assert len(rows) == 1
    assert "\\Flagged" in dict(imap.state())["<crash@cantine.example>"]


def test_a_refused_password_is_reported_without_it_and_the_run_goes_on(tmp_path: Path, imap: ImapServer):
    wrong = imap.url.replace("mot-de-passe-d-application", "Faux%40Secret")
    settings = hotline_settings(tmp_path, imap, IMAP_URL=wrong)
    write_demo_workbook(settings, TODAY)
    report = run_cycle(settings, today=TODAY, clock=clock(TODAY))
    [error] = [e for e in report.errors if e.startswith("hotline")]
    assert "identifiant ou mot de passe refusé" in error
    assert "Faux" not in error and "Faux" not in format_report(report)
    assert report.sent > 0  # the reminders and digests still went
    assert "Faux@Secret" in secret_values({"IMAP_URL": wrong})  # logs mask the decoded password too


def test_a_server_without_tls_is_refused(tmp_path: Path):
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]

    def plain_server() -> None:
        conn, _ = listener.accept()
        conn.sendall(b"* OK IMAP4rev1 ready\r\n")
        line = conn.recv(1000)
        tag = line.split(b" ")[0]
        conn.sendall(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag + b" OK done\r\n")
        conn.recv(1000)
        conn.close()

    thread = threading.Thread(target=plain_server, daemon=True)
    thread.start()
    mailbox = Mailbox(parse_imap_url(f"imap://u:p@127.0.0.1:{port}/INBOX"), timeout=5)
    with pytest.raises(Exception) as caught:
        mailbox.open()
    assert "ne propose pas STARTTLS" in str(caught.value)
    listener.close()


@pytest.mark.parametrize("url, expected", [
    pytest.param("https://u:p@h/INBOX", "must start with imaps://", id="wrong-scheme"),
    pytest.param("imaps://h/INBOX", "needs a user and a password", id="no-credentials"),
    pytest.param("imaps://u:p@/INBOX", "has no host", id="no-host"),
])
def test_imap_url_problems_are_said_at_start(url: str, expected: str):
    with pytest.raises(ConfigurationError) as caught:
        parse_imap_url(url)
    assert expected in str(caught.value) and ":p@" not in str(caught.value)


def test_imap_url_reads_folders_and_encoded_credentials():
    parsed = parse_imap_url("imaps://hotline%40reseau.fr:p%40ss%3Aw@imap.example.org/Hotline?sent=Envoy%C3%A9s")
    assert (parsed.user, parsed.password, parsed.host, parsed.port) == ("hotline@reseau.fr", "p@ss:w", "imap.example.org", 993)
    assert (parsed.folder, parsed.sent_folder, parsed.implicit_tls) == ("Hotline", "Envoyés", True)


def questions_source(settings: Settings) -> list[dict]:
    store = WorkbookStore(settings.workbook.path, timezone=PARIS)
    return [dict(r.fields) for r in store.table(settings.schema["cantines"]).read()]


def text_of(data: bytes) -> str:
    message = email.message_from_bytes(data, policy=policy.default)
    return str(message["Subject"]) + "\n" + message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_rows_are_on_disk_before_messages_are_flagged_even_inside_the_cycles_batch(tmp_path: Path, imap: ImapServer):
    """The cycle keeps one batch open (the hub saved once, at the end); the hotline's rows are saved
    anyway before it flags the messages: a save failing at the end cannot lose flagged questions."""
    from automations.cycle.backends import hub_flush

    settings = hotline_settings(tmp_path, imap)
    write_demo_workbook(settings, TODAY)
    imap.deliver(raw("<flush@cantine.example>", "x@ailleurs.example", "Avant la fin du cycle", "Bonjour"))
    tables = open_tables(settings)
    seen_on_disk: list[int] = []

    def inside_the_cycle(write):  # type: ignore[no-untyped-def]
        with hub_batch(tables):  # nested in the cycle's batch, as in run_cycle
            write()
            hub_flush(tables)
        seen_on_disk.append(sum(1 for r in questions(settings) if r.get("Message-ID") == "<flush@cantine.example>"))

    with hub_batch(tables):  # the cycle's own batch, still open while the hotline flags
        read_hotline(settings, tables["questions"], [], TODAY, renderer=Renderer(settings.paths.templates),
                     write_batch=inside_the_cycle)
        assert seen_on_disk == [1]
        assert "\\Flagged" in dict(imap.state())["<flush@cantine.example>"]
