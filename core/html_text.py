"""HTML to readable plain text, for the text/plain alternative of every message.

`html_to_text(html)` converts rendered HTML: paragraphs and headings become blank-line separated
blocks, `<br>` and rows become line breaks, list items get "- " (or "1. "), table cells are
joined with ": " after a header cell and " | " otherwise, links become "text (url)", images
their "[alt]" text; `<head>`, `<style>` and `<script>` are dropped.

`text_template_source(source, lex)` applies the same conversion once to a Jinja *template*: the
Jinja tags are set aside as placeholders, the HTML around them is converted, and the tags are put
back. Rendering that text template is far cheaper than parsing every rendered message's HTML.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from html.parser import HTMLParser

_PARAGRAPH = frozenset(
    ["p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "blockquote", "pre", "hr", "address", "dl", "section", "article", "header", "footer", "main", "nav", "figure"]
)
_LINE = frozenset(["div", "tr", "li", "br", "dt", "dd", "caption", "center", "tbody", "thead", "tfoot"])
_SKIP = frozenset(["head", "style", "script", "title", "template"])
_SPACE = re.compile(r"\s+")
_BLANKS = re.compile(r"[ \t]*\n[ \t]*")
_MANY_NEWLINES = re.compile(r"\n{3,}")

# Placeholders for Jinja tags while the HTML around them is converted (private-use characters:
# never in templates, unchanged by HTMLParser's lower-casing of names).
_EXPR_OPEN, _EXPR_CLOSE, _STMT_OPEN, _STMT_CLOSE = "\ue000", "\ue001", "\ue002", "\ue003"
_STATEMENT = re.compile(f"{_STMT_OPEN}\\d+{_STMT_CLOSE}")
_SPLIT_STATEMENTS = re.compile(f"({_STMT_OPEN}\\d+{_STMT_CLOSE})")
_PLACEHOLDER = re.compile(f"[{_EXPR_OPEN}{_STMT_OPEN}](\\d+)[{_EXPR_CLOSE}{_STMT_CLOSE}]")


def normalize(text: str) -> str:
    """Trim spaces around line breaks and keep at most one blank line in a row."""
    return _MANY_NEWLINES.sub("\n\n", _BLANKS.sub("\n", text)).strip()


class _Converter(HTMLParser):
    def __init__(self, *, keep_statements: bool = False) -> None:
        super().__init__(convert_charrefs=True)
        self.keep_statements = keep_statements
        self.out: list[str] = []
        self.pending = 0  # newlines owed before the next text
        self.skip = 0
        self.pre = 0
        self.links: list[tuple[str | None, int]] = []
        self.lists: list[int | None] = []  # None: unordered; int: next number
        self.cell: str | None = None  # tag of the previous cell in this row
        self.started = False  # some text was written
        self.at_space = True  # the last text written ends with a space or a newline

    # -- output helpers
    # Statement placeholders ({% ... %}) are written as they come, taking no space: they do not
    # consume pending line breaks, so a block tag between two rows adds no blank line.
    def _statements(self, text: str | None) -> None:
        if self.keep_statements and text:
            self.out.extend(_STATEMENT.findall(text))

    def _break(self, count: int) -> None:
        self.pending = max(self.pending, count)

    def _emit(self, text: str, *, verbatim: bool = False) -> None:
        if not verbatim and (self.pending or self.at_space):
            text = text.lstrip(" ")
        if not text:
            return
        if self.pending:
            if self.started:
                self.out.append("\n" * self.pending)
            self.pending = 0
        self.out.append(text)
        self.started = True
        self.at_space = text.endswith((" ", "\n"))

    # -- parser callbacks
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name not in ("href", "alt"):
                self._statements(name)
                self._statements(value)
        if tag in _SKIP:
            self.skip += 1
            return
        if self.skip:
            return
        if tag in _PARAGRAPH:
            self._break(2)
        elif tag in _LINE:
            self._break(1)
        if tag == "pre":
            self.pre += 1
        elif tag in ("ul", "ol"):
            self.lists.append(1 if tag == "ol" else None)
        elif tag == "li":
            number = self.lists[-1] if self.lists else None
            if number is None:
                self._emit("- ")
            else:
                self._emit(f"{number}. ")
                self.lists[-1] = number + 1
        elif tag == "tr":
            self.cell = None
        elif tag in ("td", "th"):
            if self.cell is not None:
                self._emit(": " if self.cell == "th" and tag == "td" else " | ")
            self.cell = tag
        elif tag == "a":
            href = dict(attrs).get("href")
            self.links.append((href, len(self.out)))
        elif tag == "img":
            alt = (dict(attrs).get("alt") or "").strip()
            if alt:
                self._emit(f"[{alt}]")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in _SKIP:
            self.skip -= 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
            return
        if self.skip:
            return
        if tag == "pre":
            self.pre = max(0, self.pre - 1)
        elif tag in ("ul", "ol") and self.lists:
            self.lists.pop()
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            label = "".join(self.out[start:]).strip()
            target = (href or "").strip()
            shown = target.removeprefix("mailto:")
            if target and not target.startswith(("#", "cid:")) and shown != label:
                self._emit(f" ({shown})" if label else shown)
        if tag in _PARAGRAPH:
            self._break(2)
        elif tag in _LINE and tag != "br":
            self._break(1)

    def handle_data(self, data: str) -> None:
        if self.skip:
            self._statements(data)
            return
        if self.pre:
            self._emit(data, verbatim=True)
            return
        data = _SPACE.sub(" ", data)
        if not self.keep_statements:
            self._emit(data)
            return
        for piece in _SPLIT_STATEMENTS.split(data):
            if _STATEMENT.fullmatch(piece):
                self.out.append(piece)
            else:
                self._emit(piece)

    def handle_comment(self, data: str) -> None:
        self._statements(data)

    def text(self) -> str:
        self.close()
        return normalize("".join(self.out))


def html_to_text(html: str) -> str:
    """Readable plain text for `html` (see the module docstring)."""
    converter = _Converter()
    converter.feed(html)
    return converter.text()


Token = tuple[int, str, str]


def text_template_source(source: str, lex: Callable[[str], Iterable[Token]]) -> str:
    """A Jinja template that renders the plain text of what `source` (HTML) renders.

    `lex` is the environment's `lex`. Comments and `raw` markers are dropped (raw text becomes
    literal text); a literal "{" in the text is written as `{{ "{" }}`.
    """
    html: list[str] = []
    tags: list[str] = []
    current: list[str] = []
    statement = False
    for _, token, value in lex(source):
        if token in ("data", "raw_begin", "raw_end") or token.startswith("comment"):
            if current:
                tags.append("".join(current))
                opening, closing = (
                    (_STMT_OPEN, _STMT_CLOSE) if statement else (_EXPR_OPEN, _EXPR_CLOSE)
                )
                html.append(f"{opening}{len(tags) - 1}{closing}")
                current, statement = [], False
            if token == "data":
                html.append(value)
            continue
        statement = statement or token == "block_begin"
        current.append(value)
    if current:
        tags.append("".join(current))
        html.append(f"{_STMT_OPEN}{len(tags) - 1}{_STMT_CLOSE}")
    converter = _Converter(keep_statements=True)
    converter.feed("".join(html))
    text = converter.text().replace("{", '{{ "{" }}')
    return _PLACEHOLDER.sub(lambda match: tags[int(match.group(1))], text)
