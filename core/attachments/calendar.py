"""A conference invitation's calendar entry: an RFC 5545 `METHOD:REQUEST` built with icalendar.

`invitation_files(payload, mail_from=...)` gives the `.ics` twice, the way Google Calendar sends
an invitation: as a `text/calendar; method=REQUEST` part of the body's alternatives (what Outlook,
Gmail and Apple Mail turn into an invitation with Accept / Decline) and as an `invite.ics` file
(what other clients offer to import).

- Times are in the owner's zone (`current_locality()`, the render's locality) with its VTIMEZONE,
  so a client shows the meeting at the right hour on both sides of a DST change; a UTC owner
  gets `...Z` times and no VTIMEZONE.
- The UID depends only on the meeting and the invitee (room, start, title, address): the same
  invitation sent again updates the entry already in the invitee's calendar instead of adding
  a second one.
- ORGANIZER is the message's From address (where replies go) named after the payload's
  organizer; without an address in From it is left out (a cal-address is required).
- The description and the alarm's text are in the owner's language when mailbell ships it
  (en, fr, de), else English.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from email.utils import parseaddr

from icalendar import Alarm, Calendar, Event, vCalAddress
from icalendar.enums import STATUS, TRANSP

from core.attachments.model import Attachment
from core.catalog_payloads import ConferenceInvitationPayload
from core.locality import current_locality

PRODID = "-//mailbell//mailbell//EN"
FILENAME = "invite.ics"
ALARM_BEFORE = timedelta(minutes=15)
# The VTIMEZONE covers the meeting's year and the next: a single meeting needs no more, and the
# whole 1970-2038 history icalendar gives by default is some 4 kB of RDATEs per zone.
_ZONE_YEARS = 2

# Labels of the description, per language mailbell ships (core/vocabulary.py SHIPPED_LANGUAGES).
_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "conference": "Conference {number}",
        "dial_in": "Dial-in number",
        "number": "Conference number",
        "pin": "PIN",
        "join": "Join from a browser",
        "reminder": "Reminder",
    },
    "fr": {
        "conference": "Conférence {number}",
        "dial_in": "Numéro d'accès",
        "number": "Numéro de conférence",
        "pin": "Code PIN",
        "join": "Rejoindre depuis un navigateur",
        "reminder": "Rappel",
    },
    "de": {
        "conference": "Konferenz {number}",
        "dial_in": "Einwahlnummer",
        "number": "Konferenznummer",
        "pin": "PIN",
        "join": "Im Browser teilnehmen",
        "reminder": "Erinnerung",
    },
}


def invitation_files(payload: ConferenceInvitationPayload, *, mail_from: str) -> list[Attachment]:
    """The invitation as a `text/calendar; method=REQUEST` alternative and as a file."""
    data = invitation_ics(payload, mail_from=mail_from)
    return [
        Attachment(
            FILENAME,
            "text/calendar",
            data,
            alternative=True,
            params=(("method", "REQUEST"), ("charset", "UTF-8")),
        ),
        Attachment(FILENAME, "application/ics", data),
    ]


def invitation_uid(payload: ConferenceInvitationPayload) -> str:
    """Stable for one meeting and one invitee: a resend updates the same calendar entry."""
    key = "\n".join(
        (
            payload.conference_number,
            _utc(payload.starts_at).isoformat(),
            payload.title,
            str(payload.email).lower(),
        )
    )
    return f"{hashlib.sha256(key.encode('utf-8')).hexdigest()}@mailbell"


def invitation_ics(
    payload: ConferenceInvitationPayload, *, mail_from: str, now: datetime | None = None
) -> bytes:
    """The VCALENDAR (UTF-8, CRLF lines) of the invitation, in the render's zone."""
    locality = current_locality()
    labels = _LABELS.get(locality.language, _LABELS["en"])
    start = _utc(payload.starts_at).astimezone(locality.zone)
    end = start + timedelta(minutes=payload.duration_minutes)

    event = Event.new(
        uid=invitation_uid(payload),
        stamp=(now or datetime.now(UTC)).astimezone(UTC),
        start=start,
        end=end,
        summary=payload.title,
        location=payload.join_url or labels["conference"].format(number=payload.conference_number),
        description=_description(payload, labels),
        sequence=0,
        status=STATUS.CONFIRMED,
        transparency=TRANSP.OPAQUE,
    )
    if payload.join_url:
        event.url = payload.join_url
    organizer = parseaddr(mail_from)[1]
    if "@" in organizer:
        event.organizer = vCalAddress.new(organizer, cn=payload.organizer)
    event.add(
        "attendee",
        vCalAddress.new(
            str(payload.email),
            cn=payload.invitee_name or None,
            role="REQ-PARTICIPANT",
            partstat="NEEDS-ACTION",
            rsvp=True,
        ),
    )
    alarm = Alarm.new(description=f"{labels['reminder']}: {payload.title}")
    alarm.add("action", "DISPLAY")
    alarm.add("trigger", -ALARM_BEFORE)
    event.add_component(alarm)

    calendar = Calendar.new(prodid=PRODID, method="REQUEST", calscale="GREGORIAN")
    # Calendar.new gives the VCALENDAR a random UID (RFC 7986 allows one): the invitation's
    # identity is the event's UID alone, so RFC 5545 clients see nothing they do not know.
    calendar.pop("UID", None)
    calendar.add_component(event)
    calendar.add_missing_timezones(
        first_date=date(start.year, 1, 1), last_date=date(min(end.year + _ZONE_YEARS, 9999), 1, 1)
    )
    data: bytes = calendar.to_ical()
    return data


def _description(payload: ConferenceInvitationPayload, labels: dict[str, str]) -> str:
    lines = []
    if payload.dial_in_number:
        lines.append(f"{labels['dial_in']}: {payload.dial_in_number}")
    lines.append(f"{labels['number']}: {payload.conference_number}")
    if payload.pin:
        lines.append(f"{labels['pin']}: {payload.pin}")
    if payload.join_url:
        lines.append(f"{labels['join']}: {payload.join_url}")
    return "\n".join(lines)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
