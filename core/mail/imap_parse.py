"""Reading IMAP responses as aioimaplib hands them over, and turning them into message summaries.

aioimaplib gives a command's response as a list: text lines (`bytes`, the untagged `* ` removed)
and literal bodies (`bytearray`) in the order they arrived; the last line is the tagged
completion text. A FETCH item may span several entries: `1 FETCH (UID 5 BODY[HEADER]<0> {310}`,
the 310-byte literal, then ` BODY[1]<0> {80}`, its literal, then `)`.

Nothing here does I/O. Every function that looks at one message raises `MessageUnreadable`
with a plain reason when the message cannot be understood; the caller quarantines it.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import email.utils
import quopri
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any
from urllib.parse import unquote

from core.html_text import html_to_text

Chunk = bytes | bytearray
Node = Any  # bytes | None | list[Node]: one parsed IMAP value


class MessageUnreadable(Exception):
    """One message cannot be parsed; `str()` is the plain reason stored with the quarantine."""


class _Literal(bytes):
    """A literal's content (kept apart from atoms so `NIL` inside a literal stays text)."""


_FETCH_START = re.compile(rb"^(?:\* )?(\d+) FETCH \(")
_LITERAL_END = re.compile(rb"~?\{(\d+)\+?\}$")
# One token at a time: a parenthesis, a quoted string, or an atom. An atom may carry a section
# in brackets with spaces and parentheses inside (`BODY[HEADER.FIELDS (FROM)]<0>`).
_TOKEN = re.compile(
    rb"""\s*(?:(?P<paren>[()])|"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<atom>(?:[^\s()\["]|\[[^\]]*\])+))""",
    re.DOTALL,
)
_ESCAPE = re.compile(rb"\\(.)", re.DOTALL)


def _tokens(chunks: Sequence[Chunk]) -> Iterable[Any]:
    for index, chunk in enumerate(chunks):
        if isinstance(chunk, bytearray):
            yield _Literal(chunk)
            continue
        line = bytes(chunk)
        if index == 0 and line.startswith(b"* "):
            line = line[2:]
        literal = _LITERAL_END.search(line)
        if literal is not None:
            line = line[: literal.start()]
        line = line.rstrip()
        pos, end = 0, len(line)
        while pos < end:
            match = _TOKEN.match(line, pos)
            if match is None:
                raise MessageUnreadable(f"unreadable server answer near {line[pos : pos + 20]!r}")
            pos = match.end()
            if match.group("paren") is not None:
                yield match.group("paren").decode()
            elif match.group("quoted") is not None:
                yield _Literal(_ESCAPE.sub(rb"\1", match.group("quoted")))
            else:
                atom = match.group("atom")
                yield None if atom.upper() == b"NIL" else atom


def _parse_list(tokens: Iterable[Any]) -> list[Node]:
    stack: list[list[Node]] = [[]]
    for token in tokens:
        if token == "(":
            stack.append([])
        elif token == ")":
            if len(stack) == 1:
                raise MessageUnreadable("unbalanced parentheses in the server's answer")
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(token)
    if len(stack) != 1:
        raise MessageUnreadable("truncated answer from the server (parentheses left open)")
    return stack[0]


@dataclass
class FetchItem:
    """One `N FETCH (...)` response: its data items keyed by upper-case name."""

    seq: int
    items: dict[str, Node] = field(default_factory=dict)

    @property
    def uid(self) -> int | None:
        value = self.items.get("UID")
        return int(value) if isinstance(value, bytes) and value.isdigit() else None

    def section(self, prefix: str) -> bytes | None:
        """The value of the first item whose name starts with `prefix` (e.g. `BODY[HEADER]`)."""
        for name, value in self.items.items():
            if name.startswith(prefix):
                return value if isinstance(value, bytes) else None
        return None


def split_fetch_responses(lines: Sequence[Chunk]) -> list[list[Chunk]]:
    """The response's entries grouped per FETCH item (other untagged lines are dropped)."""
    groups: list[list[Chunk]] = []
    current: list[Chunk] | None = None
    expect_literal = False
    for chunk in lines:
        if isinstance(chunk, bytearray):
            if current is not None:
                current.append(chunk)
            expect_literal = False
            continue
        if not expect_literal and _FETCH_START.match(chunk):
            current = [chunk]
            groups.append(current)
        elif current is not None:
            current.append(chunk)
        expect_literal = _LITERAL_END.search(chunk) is not None
    return groups


def parse_fetch_response(group: Sequence[Chunk]) -> FetchItem:
    match = _FETCH_START.match(bytes(group[0]))
    if match is None:
        raise MessageUnreadable("not a FETCH answer")
    tokens = list(_tokens(group))
    # tokens: seq, FETCH, then the item list
    parsed = _parse_list(tokens[2:])
    if len(parsed) != 1 or not isinstance(parsed[0], list):
        raise MessageUnreadable("the FETCH answer is not one parenthesised list")
    values = parsed[0]
    item = FetchItem(seq=int(match.group(1)))
    for position in range(0, len(values) - 1, 2):
        name = values[position]
        if isinstance(name, bytes):
            item.items[name.decode("ascii", "replace").upper()] = values[position + 1]
    return item


def uid_of_group(group: Sequence[Chunk]) -> int | None:
    """The UID of a FETCH answer too broken to parse, read from its first line if there."""
    found = re.search(rb"\bUID (\d+)", bytes(group[0]))
    return int(found.group(1)) if found else None


# -- mailbox status -------------------------------------------------------------------------


@dataclass(frozen=True)
class MailboxStatus:
    uidvalidity: int
    uidnext: int | None
    exists: int


def parse_select(lines: Sequence[Chunk]) -> MailboxStatus:
    text = b"\n".join(bytes(line) for line in lines if isinstance(line, bytes))
    validity = re.search(rb"\[UIDVALIDITY (\d+)\]", text)
    if validity is None:
        raise MessageUnreadable("the server did not say the folder's UIDVALIDITY")
    uidnext = re.search(rb"\[UIDNEXT (\d+)\]", text)
    exists = re.search(rb"(?m)^(?:\* )?(\d+) EXISTS", text)
    return MailboxStatus(
        uidvalidity=int(validity.group(1)),
        uidnext=int(uidnext.group(1)) if uidnext else None,
        exists=int(exists.group(1)) if exists else 0,
    )


def parse_search(lines: Sequence[Chunk]) -> list[int]:
    """UIDs of a SEARCH answer. aioimaplib hands over `* SEARCH 3 4` as `3 4` (the name goes)."""
    uids: set[int] = set()
    for line in lines[:-1]:  # the last line is the completion text
        if isinstance(line, bytes):
            words = line.split()
            if words[:1] == [b"*"]:
                words = words[1:]
            if words[:1] == [b"SEARCH"]:
                words = words[1:]
            uids.update(int(word) for word in words if word.isdigit())
    return sorted(uids)


def uid_set(uids: Iterable[int]) -> str:
    """`1:3,7,9:10` for [1, 2, 3, 7, 9, 10]."""
    ordered = sorted(set(uids))
    ranges: list[str] = []
    start = prev = None
    for uid in ordered:
        if start is None:
            start = prev = uid
        elif uid == prev + 1:  # type: ignore[operator]
            prev = uid
        else:
            ranges.append(f"{start}" if start == prev else f"{start}:{prev}")
            start = prev = uid
    if start is not None:
        ranges.append(f"{start}" if start == prev else f"{start}:{prev}")
    return ",".join(ranges)


_MONTHS = {
    m: i for i, m in enumerate(b"Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)
}


def parse_internaldate(value: Node) -> datetime | None:
    found = isinstance(value, bytes) and re.match(
        rb"\s*(\d{1,2})-(\w{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)", value
    )
    if not found or found.group(2) not in _MONTHS:
        return None
    day, _, year, hour, minute, second, sign, off_h, off_m = found.groups()
    offset = timedelta(hours=int(off_h), minutes=int(off_m)) * (-1 if sign == b"-" else 1)
    local = datetime(
        int(year), _MONTHS[found.group(2)], int(day), int(hour), int(minute), int(second),
        tzinfo=timezone(offset),
    )  # fmt: skip
    return local.astimezone(UTC)


def imap_date(moment: datetime) -> str:
    """`15-Nov-2026` for SEARCH SINCE (English month names whatever the locale)."""
    month = list(_MONTHS)[moment.month - 1].decode()
    return f"{moment.day}-{month}-{moment.year}"


# -- BODYSTRUCTURE --------------------------------------------------------------------------


@dataclass(frozen=True)
class BodyPart:
    section: str
    type: str
    subtype: str
    params: dict[str, str]
    encoding: str
    size: int
    disposition: str | None
    filename: str | None

    @property
    def is_attachment(self) -> bool:
        return self.disposition == "attachment" or self.filename is not None


def _text(value: Node) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else ""


def _pairs(value: Node) -> list[tuple[str, str]]:
    if not isinstance(value, list):
        return []
    return [(_text(k).lower(), _text(v)) for k, v in zip(value[::2], value[1::2], strict=False)]


def _decode_word(value: str) -> str:
    try:
        return str(make_header(decode_header(value)))
    except (ValueError, LookupError, UnicodeError, binascii.Error):
        return value


def _param(pairs: list[tuple[str, str]], name: str) -> str | None:
    """A parameter, RFC 2231 (`name*`, `name*0*`…) and RFC 2047 encodings decoded."""
    plain = next((v for k, v in pairs if k == name), None)
    extended = [(k, v) for k, v in pairs if k.startswith(name + "*")]
    if extended:

        def order(item: tuple[str, str]) -> int:
            digits = item[0][len(name) + 1 :].strip("*")
            return int(digits) if digits.isdigit() else 0

        parts = sorted(extended, key=order)
        raw = "".join(v for _, v in parts)
        if parts[0][0].endswith("*"):
            charset, _, value = email.utils.decode_rfc2231(raw)
            try:
                return unquote(value, encoding=charset or "utf-8", errors="replace")
            except LookupError:
                return unquote(value, errors="replace")
        return raw
    return _decode_word(plain) if plain is not None else None


def parse_bodystructure(node: Node, section: str = "") -> list[BodyPart]:
    """The leaf parts of a BODYSTRUCTURE, depth first, with their section numbers."""
    if not isinstance(node, list) or not node:
        raise MessageUnreadable("the server's BODYSTRUCTURE is empty")
    if isinstance(node[0], list):  # multipart: (part)(part)... subtype ...
        leaves: list[BodyPart] = []
        children = []
        for child in node:  # the parts come first; the subtype (a string) ends them
            if not isinstance(child, list):
                break
            children.append(child)
        for number, child in enumerate(children, 1):
            leaves.extend(
                parse_bodystructure(child, f"{section}.{number}" if section else str(number))
            )
        return leaves
    if len(node) < 7:
        raise MessageUnreadable("the server's BODYSTRUCTURE has too few fields")
    kind, subtype = _text(node[0]).lower(), _text(node[1]).lower()
    params = _pairs(node[2])
    if kind == "text":
        extension = node[8:]
    elif kind == "message" and subtype == "rfc822":
        extension = node[10:]
    else:
        extension = node[7:]
    disposition, disposition_params = None, []
    if len(extension) > 1 and isinstance(extension[1], list) and extension[1]:
        disposition = _text(extension[1][0]).lower() or None
        disposition_params = _pairs(extension[1][1] if len(extension[1]) > 1 else None)
    filename = _param(disposition_params, "filename") or _param(params, "name")
    size = _text(node[6])
    return [
        BodyPart(
            section=section or "1",
            type=kind,
            subtype=subtype,
            params=dict(params),
            encoding=_text(node[5]).lower() or "7bit",
            size=int(size) if size.isdigit() else 0,
            disposition=disposition,
            filename=filename,
        )
    ]


def choose_text_part(parts: Sequence[BodyPart]) -> BodyPart | None:
    """The part the snippet comes from: the first inline text/plain with content, else the
    first inline text/html, else an empty text/plain."""
    inline = [p for p in parts if p.type == "text" and not p.is_attachment]
    plain = [p for p in inline if p.subtype == "plain"]
    return (
        next((p for p in plain if p.size > 2), None)  # more than a lone line break
        or next((p for p in inline if p.subtype == "html"), None)
        or next(iter(plain), None)
    )


def attachment_names(parts: Sequence[BodyPart], text_part: BodyPart | None) -> list[str]:
    names = []
    for part in parts:
        if part is text_part or not (part.is_attachment or part.type not in ("text", "multipart")):
            continue
        if part.type == "message" and part.subtype == "delivery-status":
            continue
        names.append(part.filename or f"(unnamed {part.type}/{part.subtype})")
    return names


# -- header and text ------------------------------------------------------------------------


@dataclass
class Headers:
    message_id: str | None
    from_addr: str | None
    to_addr: str | None
    subject: str | None
    date: datetime | None


def _header(message: Message, name: str) -> str | None:
    raw = message.get(name)
    if raw is None:
        return None
    text = " ".join(_decode_word(str(raw)).split())
    return text or None


def _addresses(message: Message, name: str) -> str | None:
    values = message.get_all(name)
    if not values:
        return None
    pairs = email.utils.getaddresses([str(v) for v in values])
    shown = [
        email.utils.formataddr((_decode_word(display), address)) if display else address
        for display, address in pairs
        if address or display
    ]
    return ", ".join(shown) or _header(message, name)


def parse_headers(raw: bytes | None) -> Headers:
    if not raw or not raw.strip():
        raise MessageUnreadable("the message has no header")
    message = BytesHeaderParser(policy=compat32).parsebytes(raw)
    if not message.keys():
        raise MessageUnreadable("the message does not start with a header (no 'Name: value' lines)")
    date = None
    if (raw_date := message.get("Date")) is not None:
        try:
            date = email.utils.parsedate_to_datetime(str(raw_date))
        except (TypeError, ValueError, IndexError):
            date = None
        if date is not None:
            date = date.replace(tzinfo=UTC) if date.tzinfo is None else date.astimezone(UTC)
    message_id = _header(message, "Message-ID")
    return Headers(
        message_id=message_id.replace(" ", "") if message_id else None,
        from_addr=_addresses(message, "From"),
        to_addr=_addresses(message, "To"),
        subject=_header(message, "Subject"),
        date=date,
    )


def snippet_text(data: bytes | None, part: BodyPart, limit: int) -> str:
    """Plain text from the first bytes of `part` (transfer encoding and charset undone)."""
    if not data:
        return ""
    if part.encoding == "base64":
        compact = re.sub(rb"[^A-Za-z0-9+/=]", b"", data)
        compact = compact[: len(compact) - len(compact) % 4]
        try:
            data = base64.b64decode(compact)
        except (binascii.Error, ValueError):
            return ""
    elif part.encoding == "quoted-printable":
        data = quopri.decodestring(data.rsplit(b"=", 1)[0] if data[-2:].count(b"=") else data)
    charset = part.params.get("charset", "utf-8") or "utf-8"
    try:
        codecs.lookup(charset)
    except LookupError:
        charset = "utf-8"
    text = data.decode(charset, "replace").rstrip("\ufffd")
    if part.subtype == "html":
        text = html_to_text(text)
    return " ".join(text.split())[:limit]
