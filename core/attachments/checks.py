"""The rules of a file an event carries (`AttachedFile` in core/catalog_payloads.py): its name,
its type, its base64 and its size. Raised errors are pydantic's custom errors, so the event's
validation names the payload field (`recording`, `report_file`) and the rule."""

from __future__ import annotations

import base64
import binascii
import mimetypes
import re
from dataclasses import dataclass

from pydantic_core import PydanticCustomError

from core.vocabulary import ATTACHMENT_FILENAME_MAX_LENGTH

_TOKEN = r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}"
_CONTENT_TYPE = re.compile(rf"{_TOKEN}/{_TOKEN}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Types mimetypes does not know everywhere (its table comes partly from the host's files).
_KNOWN_TYPES = {
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".csv": "text/csv",
    ".pdf": "application/pdf",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_EXTENSIONS = {
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "audio/mpeg": ".mp3",
    "text/csv": ".csv",
    "text/plain": ".txt",
    "application/pdf": ".pdf",
    "application/json": ".json",
}


def _error(message: str) -> PydanticCustomError:
    return PydanticCustomError("attachment", message)


def basename(value: str) -> str:
    """The file's name without any directory (`C:\\calls\\a.wav` → `a.wav`); no control
    characters, not empty, not `.` or `..`."""
    if _CONTROL.search(value):
        raise _error("filename must not hold control characters")
    name = re.split(r"[/\\]", value)[-1].strip()
    if name in ("", ".", ".."):
        raise _error("filename must name a file (it is empty once its directory is removed)")
    return name


def content_type(value: str) -> str:
    """`type/subtype`, lower-cased; no parameters."""
    lowered = value.lower()
    if not _CONTENT_TYPE.fullmatch(lowered):
        raise _error("content_type must be type/subtype (e.g. audio/wav), without parameters")
    return lowered


def decode(data: str, *, limit: int) -> bytes:
    """The base64 `data` decoded (line breaks and spaces allowed), refused over `limit` bytes
    before it is decoded when its length alone says so."""
    compact = "".join(data.split())  # MIME-style line breaks; fast when there are none
    padding = len(compact) - len(compact.rstrip("="))
    if len(compact) * 3 // 4 - padding > limit:
        raise _too_large(len(compact) * 3 // 4 - padding, limit)
    try:
        content = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise _error("data must be base64 (A-Z, a-z, 0-9, + and /, padded with =)") from None
    if len(content) > limit:
        raise _too_large(len(content), limit)
    if not content:
        raise _error("data is empty")
    return content


def _too_large(size: int, limit: int) -> PydanticCustomError:
    return _error(
        f"the file is {size} bytes; the limit is {limit} bytes (MAILBELL_ATTACHMENT_MAX_BYTES)"
    )


def sniff(content: bytes) -> str | None:
    """The type of an audio file from its first bytes: WAV (RIFF…WAVE) or MPEG (ID3, frame sync)."""
    if content[:4] == b"RIFF" and content[8:12] == b"WAVE":
        return "audio/wav"
    if content[:3] == b"ID3" or (len(content) > 1 and content[0] == 0xFF and content[1] >= 0xE0):
        return "audio/mpeg"
    return None


def guess_type(filename: str | None, content: bytes | None) -> str | None:
    """The type a file's name says (`.wav` → audio/wav), else what its bytes say."""
    if filename:
        suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        known = _KNOWN_TYPES.get(suffix) or mimetypes.guess_type(filename, strict=False)[0]
        if known:
            return known.lower()
    return sniff(content) if content else None


def extension(content_type_: str) -> str:
    return _EXTENSIONS.get(content_type_) or mimetypes.guess_extension(content_type_) or ".bin"


def safe_name(text: str) -> str:
    """`text` usable as a file name: separators and control characters become `-`."""
    return _CONTROL.sub("", re.sub(r"[/\\:]", "-", text)).strip(" .") or "file"


@dataclass(frozen=True)
class FileKind:
    """What one payload field accepts."""

    field: str
    allowed: tuple[str, ...] | None  # None: any type but those in `refused`
    refused: tuple[str, ...]
    fetched: bool  # whether a url is accepted (and fetched before the event is prepared)
    fallback_type: str | None  # when neither the type, the name nor the bytes say
    name_pattern: str  # the default file name; {name} is the payload's own name for it

    def default_name(self, name: str, content_type_: str) -> str:
        stem = safe_name(self.name_pattern.format(name=name))
        suffix = extension(content_type_)
        return stem[: ATTACHMENT_FILENAME_MAX_LENGTH - len(suffix)] + suffix


RECORDING = FileKind(
    field="recording",
    allowed=("audio/wav", "audio/x-wav", "audio/mpeg"),
    refused=(),
    fetched=True,
    fallback_type=None,
    name_pattern="voicemail-{name}",
)
REPORT_FILE = FileKind(
    field="report_file",
    allowed=None,
    refused=("text/html",),
    fetched=False,
    fallback_type="application/octet-stream",
    name_pattern="{name}",
)


def check_type(kind: FileKind, found: str) -> None:
    if found in kind.refused or (kind.allowed is not None and found not in kind.allowed):
        accepted = ", ".join(kind.allowed) if kind.allowed else f"any type but {kind.refused[0]}"
        raise _error(f"content_type {found} is not accepted here: {accepted}")
