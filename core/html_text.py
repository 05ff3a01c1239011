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
    [
        "p",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "table",
        "ul",
        "ol",
        "blockquote",
        "pre",
        "hr",
        "address",
        "dl",
        "section",
        "article",
        "header",
        "footer",
        "main",
        "nav",
        "figure",
    ]
)
_LINE = frozenset(
    ["div", "tr", "li", "br", "dt", "dd", "caption", "center", "tbody", "thead", "tfoot"]
)
_SKIP = frozenset(["head", "style", "script", "title", "template"])
_SPACE = re.compile(r"\s+")

# Placeholders for Jinja tags while the HTML around them is converted (private-use characters:
# never in templates, unchanged by HTMLParser's lower-casing of names).
_EXPR_OPEN, _EXPR_CLOSE, _STMT_OPEN, _STMT_CLOSE = "\ue000", "\ue001", "\ue002", "\ue003"
_STATEMENT = re.compile(f"{_STMT_OPEN}\\d+{_STMT_CLOSE}")
_NO_MARKERS = dict.fromkeys(map(ord, _EXPR_OPEN + _EXPR_CLOSE + _STMT_OPEN + _STMT_CLOSE))
_SPLIT_STATEMENTS = re.compile(f"({_STMT_OPEN}\\d+{_STMT_CLOSE})")
_PLACEHOLDER = re.compile(f"[{_EXPR_OPEN}{_STMT_OPEN}](\\d+)[{_EXPR_CLOSE}{_STMT_CLOSE}]")


def normalize(text: str) -> str:
    """Trim every line and keep at most one blank line in a row (runs once per message)."""
    lines: list[str] = []
    blank = True  # no blank line at the top
    for line in text.split("\n"):
        line = line.strip()
        if line:
            lines.append(line)
            blank = False
        elif not blank:
            lines.append("")
            blank = True
    return "\n".join(lines).rstrip("\n")


class _Converter(HTMLParser):
    def __init__(self, *, keep_statements: bool = False) -> None:
        super().__init__(convert_charrefs=True)
        self.keep_statements = keep_statements
        self.out: list[str] = []
        self.pending = 0  # line breaks owed before the next text
        self.newlines = 0  # line breaks written since the last text
        self.skip = 0
        self.pre = 0
        self.links: list[tuple[str | None, int]] = []
        self.lists: list[int | None] = []  # None: unordered; int: next number
        self.cell: str | None = None  # tag of the previous cell in this row
        self.started = False  # some text was written
        self.at_space = True  # the last text written ends with a space or a newline

    # -- output helpers
    # Statement placeholders ({% ... %}) write the line breaks owed so far before themselves, and
    # those breaks count towards the next ones: a row inside `{% if %}` neither adds a blank line
    # when shown nor eats the paragraph break after it when hidden.
    def _statement(self, placeholder: str) -> None:
        self._flush_breaks()
        self.out.append(placeholder)

    def _statements(self, text: str | None) -> None:
        if self.keep_statements and text:
            for placeholder in _STATEMENT.findall(text):
                self._statement(placeholder)

    def _break(self, count: int) -> None:
        self.pending = max(self.pending, count)

    def _flush_breaks(self) -> None:
        owed = self.pending - self.newlines
        if owed > 0 and self.started:
            self.out.append("\n" * owed)
            self.newlines += owed
            self.at_space = True
        self.pending = 0

    def _emit(self, text: str, *, verbatim: bool = False) -> None:
        if not verbatim and (self.pending or self.at_space):
            text = text.lstrip(" ")
        if not text:
            return
        self._flush_breaks()
        self.out.append(text)
        self.started = True
        self.newlines = 0
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
                self._statement(piece)
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
    literal text); a literal "{" in the text is written as `{{ "{" }}`, so text never turns into
    Jinja code: the text template holds no tag that the HTML template does not.
    """
    html: list[str] = []
    tags: list[str] = []
    current: list[str] = []
    in_comment = False
    for _, token, value in lex(source):
        if token == "data":
            html.append(value.translate(_NO_MARKERS))
        elif token.startswith("comment") or token in ("raw_begin", "raw_end"):
            in_comment = token in ("comment_begin", "comment")
        elif not in_comment:
            current.append(value)
            if token in ("block_end", "variable_end"):
                tags.append("".join(current))
                opening, closing = (
                    (_STMT_OPEN, _STMT_CLOSE) if token == "block_end" else (_EXPR_OPEN, _EXPR_CLOSE)
                )
                html.append(f"{opening}{len(tags) - 1}{closing}")
                current = []
    converter = _Converter(keep_statements=True)
    converter.feed("".join(html))
    text = converter.text().replace("{", '{{ "{" }}')
    return _PLACEHOLDER.sub(lambda match: tags[int(match.group(1))], text)
