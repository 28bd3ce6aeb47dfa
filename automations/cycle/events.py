"""Event messages rendered, with the calendar invitation calendars accept: an `.ics` with METHOD
REQUEST (an invitation or its update: same UID, higher SEQUENCE, so the event is replaced, never
doubled) or METHOD CANCEL, times in Europe/Paris with the zone's rules included (DST right)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event as CalendarEvent, vCalAddress, vText

from connectors.mail import Attachment, OutgoingMessage

from automations.cycle.messages import Network, template_problem
from automations.cycle.render import Renderer, TemplateFailure
from automations.domain.events import CANCELLATION, INVITATION, UPDATE, EventMessage, event_id
from automations.domain.french import date_longue
from automations.domain.model import DataProblem, Event

TEMPLATE = "evenement"
DEFAULT_LENGTH = dt.timedelta(hours=2)
SEQUENCE_EPOCH = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)


def sequence_at(now: dt.datetime) -> int:
    """An ever-increasing SEQUENCE: minutes since 2025. Each update is queued once, later than the one
    before, so a calendar always takes the newest."""
    return max(int((now - SEQUENCE_EPOCH).total_seconds() // 60), 0)


def when(event: Event, timezone: ZoneInfo) -> str:
    """ "jeudi 4 juin 2026, 9 h 30 – 17 h" or across days "du … au …", in the network's time zone."""
    start = event.starts_at.astimezone(timezone)
    end = event.ends_at.astimezone(timezone) if event.ends_at else None
    if end is None:
        return f"{date_longue(start)}, {_hour(start)}"
    if end.date() == start.date():
        return f"{date_longue(start)}, {_hour(start)} – {_hour(end)}"
    return f"du {date_longue(start)}, {_hour(start)} au {date_longue(end)}, {_hour(end)}"


def _hour(moment: dt.datetime) -> str:
    return f"{moment.hour} h" if moment.minute == 0 else f"{moment.hour} h {moment.minute:02d}"


def calendar(message: EventMessage, network: Network, timezone: ZoneInfo, now: dt.datetime) -> Attachment:
    """The invitation (REQUEST) or the cancellation (CANCEL) of `message.event` for its recipient."""
    event = message.event
    method = "CANCEL" if message.kind == CANCELLATION else "REQUEST"
    cal = Calendar()
    cal.add("prodid", f"-//{network.name}//cantines-worker//FR")
    cal.add("version", "2.0")
    cal.add("method", method)
    item = CalendarEvent()
    item.add("uid", f"evenement-{event_id(event)}@cantines-worker")
    item.add("sequence", sequence_at(now))
    item.add("dtstamp", now.astimezone(dt.timezone.utc))
    start = event.starts_at.astimezone(timezone)
    item.add("dtstart", start)
    item.add("dtend", (event.ends_at.astimezone(timezone) if event.ends_at else start + DEFAULT_LENGTH))
    item.add("summary", event.title)
    if event.place:
        item.add("location", event.place)
    elif event.link:
        item.add("location", event.link)
    if event.link and event.link.startswith(("https://", "http://")):
        item.add("url", event.link)
    description = "\n\n".join(x for x in (event.description, f"Visio : {event.link}" if event.link else None) if x)
    if description:
        item.add("description", description)
    organizer = vCalAddress(f"mailto:{network.coordinator_email}")
    organizer.params["cn"] = vText(network.coordinator_name or network.name)
    item.add("organizer", organizer)
    for address in (message.to, *message.cc):
        attendee = vCalAddress(f"mailto:{address}")
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        attendee.params["partstat"] = vText("NEEDS-ACTION")
        attendee.params["rsvp"] = vText("TRUE")
        item.add("attendee", attendee)
    item.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    cal.add_component(item)
    cal.add_missing_timezones()  # the VTIMEZONE of Europe/Paris, with its summer and winter rules
    name = "annulation.ics" if method == "CANCEL" else "invitation.ics"
    return Attachment(name, cal.to_ical(), "text/calendar", method=method)


def event_mail(
    due: Iterable[EventMessage], network: Network, renderer: Renderer, timezone: ZoneInfo, now: dt.datetime,
) -> tuple[list[OutgoingMessage], list[DataProblem]]:
    """One message per due event message; a broken template costs only the event messages."""
    messages: list[OutgoingMessage] = []
    for message in due:
        context = {"network": network, "event": message.event, "kind": message.kind, "name": message.name,
                   "days_before": message.days_before, "when": when(message.event, timezone)}
        try:
            rendered = renderer.email(TEMPLATE, context)
        except TemplateFailure as exc:
            return messages, [template_problem(TEMPLATE, exc)]
        with_calendar = message.kind in (INVITATION, UPDATE, CANCELLATION)  # a reminder leaves the calendar alone
        messages.append(OutgoingMessage(
            key=message.key, kind=f"evenement-{message.kind}", sender=network.sender_address,
            to=(message.to,), cc=message.cc, reply_to=network.reply_to, subject=rendered.subject,
            text=rendered.text, html=rendered.html,
            attachments=(calendar(message, network, timezone, now),) if with_calendar else (),
        ))
    return messages, []
