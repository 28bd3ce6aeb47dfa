"""The cycle delivering through real providers: SMTP (aiosmtpd) and SendGrid (the fake), the
messages parsed back, failures leaving messages pending or held, held ones released."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from click.testing import CliRunner

from automations.cli import cli
from automations.demo import write_demo_workbook
from automations.cycle.run import run_cycle
from automations.settings import Settings
from connectors.state import StateStore

from .conftest import PARIS
from .fakes.sendgrid import FakeSendGrid
from .fakes.smtp import SmtpServer

MONDAY = dt.date(2026, 11, 23)


def clock() -> dt.datetime:
    return dt.datetime(2026, 11, 23, 7, 30, tzinfo=PARIS)


def test_a_cycle_sends_through_smtp_once(make_settings: Callable[..., Settings]) -> None:
    with SmtpServer() as server:
        settings = make_settings(mail='backend = "smtp"', environ={"SMTP_URL": server.url()})
        write_demo_workbook(settings, MONDAY)
        first = run_cycle(settings, today=MONDAY, clock=clock)
        assert first.sent == first.queued > 14 and len(server.received) == first.sent
        second = run_cycle(settings, today=MONDAY, clock=clock)
        assert second.sent == 0 and len(server.received) == first.sent
        reminder = next(r.parsed() for r in server.received if "rappel-echeance" in str(r.parsed()["X-Cantines-Kind"])
                        and not str(r.parsed()["Subject"]).startswith("En retard"))  # an overdue one has no .ics
        assert reminder.get_body(("plain",)).get_content().startswith("Bonjour")
        (ics,) = [a for a in reminder.iter_attachments() if a.get_content_type() == "text/calendar"]
        assert b"BEGIN:VEVENT" in ics.get_payload(decode=True)
        digest = next(r for r in server.received if "recapitulatif-cantine" in str(r.parsed()["X-Cantines-Kind"]))
        parsed = digest.parsed()
        assert parsed["List-Unsubscribe"].startswith("<mailto:")
        assert sorted(digest.rcpt_tos) == sorted([str(a.addr_spec) for a in parsed["To"].addresses]
                                                 + [str(a.addr_spec) for a in (parsed["Cc"].addresses if parsed["Cc"] else ())])
        assert "Voici les nouvelles de la semaine" in parsed.get_body(("plain",)).get_content()


def test_an_unreachable_smtp_server_leaves_everything_pending(make_settings: Callable[..., Settings]) -> None:
    with SmtpServer() as server:
        url = server.url()
    # the server is gone: nothing listens there any more
    settings = make_settings(mail='backend = "smtp"\ntimeout_seconds = 2', environ={"SMTP_URL": url})
    write_demo_workbook(settings, MONDAY)
    report = run_cycle(settings, today=MONDAY, clock=clock)
    assert report.result == "Avertissements" and not report.fatal
    assert report.sent == 0 and report.pending == report.queued > 0
    assert any("envoi impossible (smtp)" in e for e in report.errors)
    with SmtpServer() as server:  # it is back: the next run sends what waited, once
        settings = make_settings(mail='backend = "smtp"', environ={"SMTP_URL": server.url()}, folder="deploy")
        again = run_cycle(settings, today=MONDAY, clock=clock)
        assert again.sent == report.queued and again.queued == 0


def test_a_cycle_sends_through_sendgrid_with_its_key_in_custom_args(make_settings: Callable[..., Settings]) -> None:
    with FakeSendGrid(api_key="SG.secret") as fake:
        environ = {"SENDGRID_API_KEY": "SG.secret", "SENDGRID_HOST": fake.url}
        settings = make_settings(mail='backend = "sendgrid"', environ=environ)
        write_demo_workbook(settings, MONDAY)
        report = run_cycle(settings, today=MONDAY, clock=clock)
        assert report.sent == len(fake.received) == report.queued
        keys = {p["custom_args"]["cantines_key"] for p in fake.received}
        assert len(keys) == report.sent and all(k.startswith(("reminder:", "digest:", "draft:")) for k in keys)
        assert all(p["from"]["email"] == "robot@example.org" for p in fake.received)


def test_a_rejected_sendgrid_key_stops_at_the_first_message_and_keeps_the_rest(make_settings: Callable[..., Settings]) -> None:
    with FakeSendGrid(api_key="SG.right") as fake:
        settings = make_settings(mail='backend = "sendgrid"', environ={"SENDGRID_API_KEY": "SG.wrong", "SENDGRID_HOST": fake.url})
        write_demo_workbook(settings, MONDAY)
        report = run_cycle(settings, today=MONDAY, clock=clock)
        assert fake.requests == 1  # one refusal is enough: not one request per message
        assert report.sent == 0 and report.pending == report.queued
        assert any("SENDGRID_API_KEY" in e for e in report.errors)
        assert all("SG.wrong" not in e for e in report.errors)


def test_a_held_message_is_released_and_sent(make_settings: Callable[..., Settings]) -> None:
    with FakeSendGrid(api_key="SG.k") as fake:
        settings = make_settings(mail='backend = "sendgrid"', environ={"SENDGRID_API_KEY": "SG.k", "SENDGRID_HOST": fake.url})
        write_demo_workbook(settings, MONDAY)
        fake.fail_next(400)  # refused for good: held
        first = run_cycle(settings, today=MONDAY, clock=clock)
        state = StateStore.open(None, sqlite_path=settings.state.path)
        assert state.counts()["failed"] == 1 and first.sent == first.queued - 1
        (held,) = state.held()
        status = CliRunner().invoke(cli, ["status", "--config", str(settings.path)], env={"SENDGRID_API_KEY": "SG.k"})
        assert held["idempotency_key"] in status.output
        result = CliRunner().invoke(cli, ["release", "--config", str(settings.path), held["idempotency_key"]],
                                    env={"SENDGRID_API_KEY": "SG.k", "SENDGRID_HOST": fake.url})
        assert result.exit_code == 0 and "1 message remis en file" in result.output
        again = run_cycle(settings, today=MONDAY, clock=clock)
        assert again.sent == 1 and state.counts() == {"sent": first.queued}


def recipients_of(payload: dict) -> int:
    return sum(len(p.get(field, [])) for p in payload["personalizations"] for field in ("to", "cc", "bcc"))


def test_the_sendgrid_daily_limit_stops_delivery_and_the_rest_waits_for_the_next_day(
    make_settings: Callable[..., Settings],
) -> None:
    from automations.cycle.run import DIGESTS, DRAFTS, MATCHING, REMINDERS, SYNC
    from automations.cycle.quotas import usage_lines
    from automations.summary import format_report

    limit = 7
    with FakeSendGrid(api_key="SG.k") as fake:
        settings = make_settings(mail='backend = "sendgrid"', quotas=f"sendgrid_emails_per_day = {limit}",
                                 environ={"SENDGRID_API_KEY": "SG.k", "SENDGRID_HOST": fake.url})
        write_demo_workbook(settings, MONDAY)
        # the worker's cycle job (its digests come later, in their own job)
        first = run_cycle(settings, today=MONDAY, clock=clock, parts=frozenset({SYNC, MATCHING, REMINDERS, DRAFTS}))
        assert first.queued > limit and first.result in ("OK", "Avertissements") and not first.errors
        assert 0 < sum(map(recipients_of, fake.received)) <= limit and first.sent == len(fake.received)
        assert first.over_limit == first.pending == first.queued - first.sent
        assert first.mail_note is not None and first.mail_note.startswith("envois reportés (quota SendGrid)")
        assert "limite de 7 emails par jour est atteinte le lundi 23 novembre 2026" in first.mail_note
        assert f"{first.pending} messages en attente, ils partiront dès demain" in first.mail_note
        assert f"Quotas : {first.mail_note}" in format_report(first)
        state = StateStore.open(None, sqlite_path=settings.state.path)
        (today_line,) = [line for line in usage_lines(settings, state, MONDAY) if "aujourd'hui" in line]
        assert today_line == f"  SendGrid aujourd'hui : {sum(map(recipients_of, fake.received))} email(s) sur une limite de 7 par jour"
        state.close()
        import openpyxl
        journal = list(openpyxl.load_workbook(settings.workbook.path)["Journal"].iter_rows(values_only=True))
        assert first.mail_note in journal[-1][-1]

        # the digests job the same day: the coordinator is told; its digest waits with the rest
        requests = fake.requests
        digests = run_cycle(settings, today=MONDAY, clock=lambda: clock() + dt.timedelta(hours=1), job="digests",
                            parts=frozenset({DIGESTS}))
        (coordinator,) = [m for m in digests.messages if m.kind == "recapitulatif-coordination"]
        assert first.mail_note in coordinator.text
        assert digests.sent == 0 and fake.requests == requests  # not even one request over the limit
        assert digests.over_limit == digests.pending == first.pending + digests.queued

        # the next days: each sends up to the limit, in order, none twice, none lost
        day, waiting = MONDAY, digests.pending
        while waiting:
            day += dt.timedelta(days=1)
            before = len(fake.received)
            later = run_cycle(settings, today=day, clock=lambda d=day: dt.datetime.combine(d, dt.time(7, 30), tzinfo=PARIS),
                              parts=frozenset({SYNC}))  # a job that queues nothing new: what waited goes
            assert 0 < sum(map(recipients_of, fake.received[before:])) <= limit
            assert later.pending == waiting - later.sent and (later.pending == 0) == (later.mail_note is None)
            waiting = later.pending
        keys = [p["custom_args"]["cantines_key"] for p in fake.received]
        assert len(keys) == len(set(keys)) == first.queued + digests.queued
