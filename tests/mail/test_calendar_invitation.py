"""A conference invitation through the real pipeline (emit → outbox → worker → aiosmtpd) carries
its calendar entry: a `text/calendar; method=REQUEST` alternative icalendar parses back, in the
tenant's time zone, with a UID that a resend keeps."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any
from zoneinfo import ZoneInfo

import icalendar

from core.attachments import Attachment
from core.attachments.calendar import invitation_ics
from core.catalog import get_template, sample
from core.catalog_payloads import ConferenceInvitationPayload
from core.locality import Locality, rendering_in
from core.mail.mime import serialize
from core.models.tenancy import NotificationSettingsUpdate
from core.pipeline.worker import Worker
from core.rendering import render
from core.services.notifications import update_notification_settings
from tests.support.factories import configure_tenant, emit_event

EVENT = "CONFERENCE_INVITATION"


def _tenant_in(session, ctx, tenant, actor, srv, timezone: str) -> None:
    """`tenant` sends through `srv` and reads its mail in `timezone`."""
    configure_tenant(
        session,
        ctx.box,
        tenant,
        smtp=srv,
        server={"name": "test", "mail_from": "PBX <pbx@acme.org>"},
        toggles=(),
        actor=actor,
    )
    changes = NotificationSettingsUpdate.parse({"timezone": timezone}, system=False)
    update_notification_settings(
        session=session, box=ctx.box, tenant=tenant, changes=changes, actor=actor
    )


async def _drain(ctx) -> None:
    worker = Worker(ctx)
    try:
        await worker.run_once()
    finally:
        await worker.close()


def _invite(**changes: Any) -> dict[str, Any]:
    return {**sample(EVENT), **changes}


def _calendar_part(received) -> tuple[EmailMessage, icalendar.Calendar]:
    message = BytesParser(policy=policy.default).parsebytes(received.data)
    [part] = [
        p
        for p in message.walk()
        if p.get_content_type() == "text/calendar" and p.get_param("method") == "REQUEST"
    ]
    return message, icalendar.Calendar.from_ical(part.get_content())


def _event(calendar: icalendar.Calendar) -> icalendar.Event:
    [event] = calendar.events
    return event


async def test_invitation_in_paris(ctx, session, actor, acme, smtp_servers):
    srv = smtp_servers()
    _tenant_in(session, ctx, acme, actor, srv, "Europe/Paris")
    data = _invite(starts_at="2026-11-10T15:00:00Z", duration_minutes=45)
    emit_event(session, ctx.box, acme, EVENT, data=data)
    await _drain(ctx)

    [received] = srv.messages
    assert received.rcpt_tos == [data["email"]]
    message, calendar = _calendar_part(received)
    # The calendar is one of the body's alternatives; the same file is attached for import.
    assert message.get_content_type() == "multipart/mixed"
    [body, *files] = message.iter_parts()
    assert body.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in body.iter_parts()] == [
        "text/plain",
        "text/html",
        "text/calendar",
    ]
    [ics_file] = files
    assert ics_file.get_content_type() == "application/ics"
    assert ics_file.get_filename() == "invite.ics"

    assert calendar["METHOD"] == "REQUEST"
    assert [tz.tz_name for tz in calendar.timezones] == ["Europe/Paris"]
    event = _event(calendar)
    start, end = event.decoded("DTSTART"), event.decoded("DTEND")
    assert event["DTSTART"].params["TZID"] == "Europe/Paris"
    assert start.tzinfo is not None and start.utcoffset() == timedelta(hours=1)
    assert (start.hour, start.minute) == (16, 0)
    assert start == datetime(2026, 11, 10, 15, tzinfo=UTC)
    assert start == datetime(2026, 11, 10, 16, tzinfo=ZoneInfo("Europe/Paris"))
    assert end - start == timedelta(minutes=45)
    assert event["DTEND"].params["TZID"] == "Europe/Paris"
    assert str(event["ATTENDEE"]) == f"mailto:{data['email']}"
    assert event["ATTENDEE"].params["CN"] == data["invitee_name"]
    assert event["ATTENDEE"].params["PARTSTAT"] == "NEEDS-ACTION"
    assert str(event["ORGANIZER"]) == "mailto:pbx@acme.org"
    assert event["ORGANIZER"].params["CN"] == data["organizer"]
    assert str(event["SUMMARY"]) == data["title"]
    assert str(event["LOCATION"]) == data["join_url"]
    assert data["pin"] in str(event["DESCRIPTION"])
    [alarm] = event.walk("VALARM")
    assert alarm.decoded("TRIGGER") == -timedelta(minutes=15)


async def test_invitation_in_new_york_on_the_day_dst_ends(ctx, session, actor, acme, smtp_servers):
    srv = smtp_servers()
    _tenant_in(session, ctx, acme, actor, srv, "America/New_York")
    # 2026-11-01: US daylight time ends at 06:00 UTC; 13:00 UTC is 08:00 EST (not 09:00 EDT).
    data = _invite(starts_at="2026-11-01T13:00:00Z", duration_minutes=30, join_url=None)
    emit_event(session, ctx.box, acme, EVENT, data=data)
    await _drain(ctx)

    [received] = srv.messages
    _, calendar = _calendar_part(received)
    assert [tz.tz_name for tz in calendar.timezones] == ["America/New_York"]
    event = _event(calendar)
    start = event.decoded("DTSTART")
    assert event["DTSTART"].params["TZID"] == "America/New_York"
    assert (start.hour, start.minute) == (8, 0) and start.utcoffset() == timedelta(hours=-5)
    assert event.decoded("DTEND") - start == timedelta(minutes=30)
    assert str(event["LOCATION"]) == f"Conference {data['conference_number']}"
    assert "URL" not in event


async def test_the_same_invitation_twice_keeps_its_uid(ctx, session, actor, acme, smtp_servers):
    srv = smtp_servers()
    _tenant_in(session, ctx, acme, actor, srv, "Europe/Paris")
    emit_event(session, ctx.box, acme, EVENT, data=_invite())
    emit_event(session, ctx.box, acme, EVENT, data=_invite())
    emit_event(session, ctx.box, acme, EVENT, data=_invite(starts_at="2026-11-11T15:00:00Z"))
    await _drain(ctx)

    first, again, moved = (
        str(_event(_calendar_part(received)[1])["UID"]) for received in srv.messages
    )
    assert first == again and first.endswith("@mailbell")
    assert moved != first


def test_serialized_files_keep_their_names_and_bytes():
    """core/mail/mime.py writes what the worker sends: alternatives inside the body, files in
    base64 after it, a name that is not ASCII in RFC 2231 form."""
    rendered = render(EVENT, sample(EVENT), server_from="pbx@acme.org")
    extra = Attachment("réunion «T4».ics", "application/ics", b"\x00\xffbytes")
    raw = serialize(replace(rendered, attachments=(*rendered.attachments, extra)))
    message = BytesParser(policy=policy.default).parsebytes(raw)
    [body, *files] = message.iter_parts()
    [calendar] = [p for p in body.iter_parts() if p.get_content_type() == "text/calendar"]
    assert calendar.get_content().encode() == rendered.attachments[0].data
    assert calendar.get_filename() is None and not calendar.is_attachment()
    assert [(f.get_filename(), f.get_content()) for f in files] == [
        ("invite.ics", rendered.attachments[1].data),
        ("réunion «T4».ics", b"\x00\xffbytes"),
    ]


def test_utc_owner_and_from_without_address():
    """A UTC owner gets `Z` times and no VTIMEZONE; a From without an address, no ORGANIZER;
    an invitee without a name, an ATTENDEE without CN; the German labels for de_DE."""
    payload = get_template(EVENT).validate(_invite(invitee_name=None, pin=None))
    assert isinstance(payload, ConferenceInvitationPayload)
    with rendering_in(Locality("UTC", "de_DE")):
        data = invitation_ics(payload, mail_from="")
    calendar = icalendar.Calendar.from_ical(data)
    event = _event(calendar)
    assert b"DTSTART:20261110T150000Z" in data and calendar.timezones == []
    assert "ORGANIZER" not in event and "CN" not in event["ATTENDEE"].params
    description = str(event["DESCRIPTION"])
    assert "Konferenznummer: 9100" in description and "PIN" not in description
