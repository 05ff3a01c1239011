from __future__ import annotations

import struct
import zlib
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
import segno
from jinja2.sandbox import SecurityError

from core import catalog, rendering
from core.errors import PermanentError, ValidationError
from core.html_text import html_to_text
from core.locality import format_date, format_datetime
from core.paths import data_dir
from core.rendering import TemplateSource, render, render_message

SERVER_FROM = "PBX Notifications <noreply@pbx.example.com>"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def parse(message: EmailMessage) -> EmailMessage:
    """Serialise as for SMTP and parse back: what a receiving mail client sees."""
    parsed = BytesParser(policy=policy.default).parsebytes(message.as_bytes())
    assert isinstance(parsed, EmailMessage)
    return parsed


def part(message: EmailMessage, content_type: str) -> EmailMessage:
    found = [p for p in message.walk() if p.get_content_type() == content_type]
    assert len(found) == 1, f"{content_type}: {[p.get_content_type() for p in message.walk()]}"
    return found[0]


# Shown as a date only: a report's period reads "Oct 1, 2026 to Oct 31, 2026".
DATE_ONLY = {"period_start", "period_end"}


def shown_values(name: str) -> list[str]:
    """The sample's values as a reader sees them: strings as is, datetimes formatted."""
    values = []
    for key, value in catalog.get_event(name).sample_payload().model_dump().items():
        if isinstance(value, datetime):
            values.append(format_date(value) if key in DATE_ONLY else format_datetime(value))
        elif isinstance(value, str) and key != "currency":  # shown in the amounts: €8.40
            values.append(value)
    return values


def test_data_dir_is_the_checkout_data_folder() -> None:
    assert (data_dir() / "templates" / "index.json").is_file()
    # the reference's 14, then ours, then DIGEST (a template, not an event)
    assert tuple(rendering.default_templates()) == catalog.TEMPLATE_NAMES


def test_data_dir_of_an_installed_wheel(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import core
    import mailbell

    monkeypatch.setattr(core, "__file__", str(tmp_path / "site-packages/core/__init__.py"))
    data_dir.cache_clear()
    try:
        assert data_dir() == Path(mailbell.__file__).parent / "_data"
    finally:
        data_dir.cache_clear()


@pytest.mark.parametrize("name", catalog.NAMES)
def test_every_default_renders_its_sample_to_a_complete_message(name: str) -> None:
    message = parse(
        render_message(
            name,
            catalog.get_event(name).sample,
            to=["ops@acme.example", "Zoë Admin <zoe@acme.example>"],
            server_from=SERVER_FROM,
            reply_to="help@pbx.example.com",
        )
    )
    # A sample with a file (a recording, a report) is multipart/mixed around the alternatives.
    files = message.get_content_type() == "multipart/mixed"
    body = next(message.iter_parts()) if files else message
    assert body.get_content_type() == "multipart/alternative"
    assert message["From"] == SERVER_FROM
    assert message["To"].addresses[1].display_name == "Zoë Admin"
    assert message["Reply-To"] == "help@pbx.example.com"
    assert message["Message-ID"].endswith("@pbx.example.com>")
    assert message["Date"].datetime is not None
    assert message["Subject"] and "\n" not in message["Subject"]
    assert "{{" not in message["Subject"]
    text = part(message, "text/plain").get_content()
    html = part(message, "text/html").get_content()
    assert next(body.iter_parts()).get_content_type() == "text/plain"
    for value in shown_values(name):
        assert value in text, f"{name}: {value!r} missing from the text part"
    assert "<html" in html and "{{" not in html and "{%" not in html
    assert "http://" not in html.replace("https://", "")  # no external assets


def test_non_ascii_subject_is_encoded_and_round_trips() -> None:
    data = dict(catalog.EVENTS["QUEUE_SLA"].sample, queue_name="Réception — file d'attente")
    message = render_message("QUEUE_SLA", data, to=["a@acme.example"], server_from=SERVER_FROM)
    raw = message.as_bytes()
    headers = raw.split(b"\r\n\r\n", 1)[0]
    assert headers.isascii() and b"=?utf-8?" in headers
    assert b"\r\n" in raw and b"\n\n" not in raw.replace(b"\r\n", b"")  # CRLF throughout
    parsed = parse(message)
    assert parsed["Subject"].startswith("SLA breached in queue Réception — file d'attente (8001)")
    assert "Réception — file d'attente" in part(parsed, "text/plain").get_content()


def test_payload_values_are_escaped_in_html_but_not_in_subject_or_text() -> None:
    data = dict(catalog.EVENTS["QUEUE_SLA"].sample, queue_name="<script>alert(1)</script> & Co")
    rendered = render("QUEUE_SLA", data, server_from=SERVER_FROM)
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in rendered.html
    assert "<script>alert(1)</script> & Co" in rendered.subject
    assert "<script>alert(1)</script> & Co" in rendered.text


def test_line_breaks_in_values_cannot_add_headers() -> None:
    data = dict(
        catalog.EVENTS["QUEUE_SLA"].sample, queue_name="Sales\r\nBcc: evil@attacker.example"
    )
    message = parse(render_message("QUEUE_SLA", data, to=["a@x.example"], server_from=SERVER_FROM))
    assert message["Bcc"] is None
    assert "Sales Bcc: evil@attacker.example" in message["Subject"]


def test_from_comes_from_the_template_else_the_server() -> None:
    sample = catalog.EVENTS["TRUNK_CONNECTED"].sample
    default = rendering.default_template("TRUNK_CONNECTED")
    assert default.mail_from == ""
    assert render("TRUNK_CONNECTED", sample, server_from=SERVER_FROM).mail_from == SERVER_FROM
    custom = TemplateSource(
        "TRUNK_CONNECTED", "Trunk watch <trunks@ops.example>", default.subject, default.body
    )
    rendered = render("TRUNK_CONNECTED", sample, template=custom, server_from=SERVER_FROM)
    assert rendered.mail_from == "Trunk watch <trunks@ops.example>"
    assert rendered.message_id.endswith("@ops.example>")
    assert "Reply-To" not in rendered.to_email_message()
    with pytest.raises(ValidationError) as error:
        render("TRUNK_CONNECTED", sample)
    assert error.value.field == "from"


def test_compiled_templates_are_cached_by_source() -> None:
    rendering.compile_body.cache_clear()
    rendering.compile_line.cache_clear()
    sample = catalog.EVENTS["DISK_LOW"].sample
    first = render("DISK_LOW", sample, server_from=SERVER_FROM)
    second = render("DISK_LOW", dict(sample, host="pbx-02.example.com"), server_from=SERVER_FROM)
    assert rendering.compile_body.cache_info().misses == 1
    assert rendering.compile_body.cache_info().hits == 1
    assert rendering.compile_line.cache_info().misses == 1
    assert "pbx-02.example.com" in second.html and "pbx-02" not in first.html
    # a different source text is a different entry
    template = TemplateSource("DISK_LOW", "", "Disk {{ host }}", "<p>{{ host }}</p>")
    render("DISK_LOW", sample, template=template, server_from=SERVER_FROM)
    assert rendering.compile_body.cache_info().misses == 2


def png_pixels(data: bytes) -> list[list[int]]:
    """Decode a greyscale or palette PNG (any bit depth up to 8) to rows of 0 (dark) / 1."""
    assert data.startswith(PNG_MAGIC)
    pos, chunks, header = 8, b"", {}
    palette: list[int] = []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            header = {"w": width, "h": height, "depth": depth, "color": color}
        elif kind == b"PLTE":
            palette = [sum(body[i : i + 3]) // 3 for i in range(0, len(body), 3)]
        elif kind == b"IDAT":
            chunks += body
    assert header["color"] in (0, 3) and header["depth"] <= 8
    raw = zlib.decompress(chunks)
    stride = (header["w"] * header["depth"] + 7) // 8
    rows: list[list[int]] = []
    previous = bytearray(stride)
    for y in range(header["h"]):
        filter_type = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - 1] if i else 0
            up, up_left = previous[i], previous[i - 1] if i else 0
            if filter_type == 1:
                line[i] = (line[i] + left) & 0xFF
            elif filter_type == 2:
                line[i] = (line[i] + up) & 0xFF
            elif filter_type == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif filter_type == 4:
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                best = left if pa <= pb and pa <= pc else up if pb <= pc else up_left
                line[i] = (line[i] + best) & 0xFF
        previous = line
        depth, mask = header["depth"], (1 << header["depth"]) - 1
        values = [
            (line[(x * depth) // 8] >> (8 - depth - (x * depth) % 8)) & mask
            for x in range(header["w"])
        ]
        if header["color"] == 3:
            values = [palette[v] for v in values]
        else:
            values = [v * 255 // mask for v in values]
        rows.append([1 if v > 127 else 0 for v in values])
    return rows


def qr_modules(png: bytes, size: int) -> list[list[bool]]:
    """The QR code's modules read back from the image (True = dark)."""
    pixels = png_pixels(png)
    scale = len(pixels) // (size + 8)  # 4 modules of quiet zone on each side
    return [
        [
            pixels[(4 + r) * scale + scale // 2][(4 + c) * scale + scale // 2] == 0
            for c in range(size)
        ]
        for r in range(size)
    ]


def test_welcome_email_has_an_inline_qr_code_referenced_by_cid() -> None:
    sample = catalog.EVENTS["USER_CREATION"].sample
    message = parse(
        render_message("USER_CREATION", sample, to=[sample["email"]], server_from=SERVER_FROM)
    )
    related = part(message, "multipart/related")
    html_part = part(message, "text/html")
    image = part(message, "image/png")
    assert [p.get_content_type() for p in related.iter_parts()] == ["text/html", "image/png"]
    cid = image["Content-ID"].strip("<>")
    assert f'src="cid:{cid}"' in html_part.get_content()
    assert image.get_content_disposition() == "inline"
    png = image.get_content()
    assert png.startswith(PNG_MAGIC)
    expected_text = catalog.login_uri(catalog.EVENTS["USER_CREATION"].sample_payload())  # type: ignore[arg-type]
    expected = segno.make_qr(expected_text, error="m")
    size = int(expected.symbol_size(border=0)[0])
    assert qr_modules(png, size) == [[bool(m) for m in row] for row in expected.matrix]
    text = part(message, "text/plain").get_content()
    for detail in ("1001", "x7#Qm2!pLr", "acme.pbx.example.com", "203.0.113.10:5060"):
        assert detail in text  # the text fallback carries the login details


def test_welcome_qr_code_decodes_to_the_login_uri() -> None:
    import zxingcpp

    sample = catalog.EVENTS["USER_CREATION"].sample
    rendered = render("USER_CREATION", sample, server_from=SERVER_FROM)
    pixels = png_pixels(rendered.inline[0].data)
    height, width = len(pixels), len(pixels[0])
    grey = bytes(255 * v for row in pixels for v in row)
    found = zxingcpp.read_barcodes(memoryview(grey).cast("B", (height, width)))
    expected = catalog.login_uri(catalog.EVENTS["USER_CREATION"].sample_payload())  # type: ignore[arg-type]
    assert [barcode.text for barcode in found] == [expected]


def test_no_inline_image_when_the_template_does_not_show_it() -> None:
    template = TemplateSource(
        "USER_CREATION", "", "Welcome", "<p>Extension {{ extension_number }}</p>"
    )
    sample = catalog.EVENTS["USER_CREATION"].sample
    message = parse(
        render_message("USER_CREATION", sample, template=template, server_from=SERVER_FROM)
    )
    assert [p.get_content_type() for p in message.walk()] == [
        "multipart/alternative",
        "text/plain",
        "text/html",
    ]


def test_plain_text_keeps_links_lists_and_paragraphs() -> None:
    rendered = render(
        "VOICEMAIL_RECEIVED", catalog.EVENTS["VOICEMAIL_RECEIVED"].sample, server_from=SERVER_FROM
    )
    assert "Listen to the message (https://pbx.example.com/portal/voicemail/5812)" in rendered.text
    assert "Mailbox: 1012\n" in rendered.text
    assert "\n\n\n" not in rendered.text
    text = html_to_text(
        "<html><head><style>p {color: red}</style><title>x</title></head><body>"
        "<h1>Title</h1><p>First&nbsp;line<br>second   line &amp; more</p>"
        "<ul><li>one</li><li>two</li></ul><ol><li>a</li><li>b</li></ol>"
        '<p>See <a href="https://example.com/x?a=1&amp;b=2">the page</a>, '
        '<a href="mailto:ops@example.com">ops@example.com</a> or '
        '<a href="https://example.com">https://example.com</a>.</p>'
        '<table><tr><th>Queue</th><td>Sales</td></tr></table><img src="cid:x" alt="QR">'
        "<script>alert(1)</script></body></html>"
    )
    assert text == (
        "Title\n\nFirst line\nsecond line & more\n\n- one\n- two\n\n1. a\n2. b\n\n"
        "See the page (https://example.com/x?a=1&b=2), ops@example.com or https://example.com."
        "\n\nQueue: Sales\n\n[QR]"
    )


@pytest.mark.parametrize("name", catalog.NAMES)
def test_derived_text_template_matches_converting_the_rendered_html(name: str) -> None:
    event = catalog.get_event(name)
    assert rendering.compile_body(rendering.default_template(name).body).text is not None
    for payload in (event.sample_payload(), event.minimal_payload()):
        rendered = render(name, payload, server_from=SERVER_FROM)
        assert rendered.text == html_to_text(rendered.html)


def test_custom_template_with_jinja_inside_tags_gets_matching_text() -> None:
    body = (
        "{# a comment with <p>html</p> #}<style>{% if caller_name %}p{}{% endif %}</style>"
        '<p class="{% if waiting_calls %}busy{% endif %}">Queue {{ queue_name }}'
        "{% if waiting_calls and waiting_calls > 3 %} is <b>busy</b>{% endif %}</p>"
        "{% for n in range(2) %}<li>{{ n }}</li>{% endfor %}"
        '<a href="{{ "https://x.example/" ~ queue_number }}">'
        "open</a>{% raw %}{{ literal }}{% endraw %} &#123;&#123; queue_name }}"
    )
    template = TemplateSource("QUEUE_SLA", "", "s", body)
    for waiting in (5, 1, None):
        data = dict(catalog.EVENTS["QUEUE_SLA"].sample, waiting_calls=waiting)
        rendered = render("QUEUE_SLA", data, template=template, server_from=SERVER_FROM)
        assert rendered.text == html_to_text(rendered.html)
    assert "{{ literal }} {{ queue_name }}" in rendered.text
    # placeholder characters in a template's text cannot pull tags into the text template
    odd = TemplateSource("QUEUE_SLA", "", "s", "<p>\ue0007\ue001 \ue0029\ue003 {{ caller }}</p>")
    rendered = render(
        "QUEUE_SLA", catalog.EVENTS["QUEUE_SLA"].sample, template=odd, server_from=SERVER_FROM
    )
    assert rendered.text == "7 9 +33 1 84 88 00 00"
    assert rendering.compile_body(odd.body).text is not None


def test_render_time_failures_are_permanent_errors_with_the_line() -> None:
    sample = catalog.EVENTS["QUEUE_SLA"].sample
    unknown = TemplateSource("QUEUE_SLA", "", "s", "<p>ok</p>\n<p>{{ not_a_variable }}</p>")
    with pytest.raises(PermanentError, match=r"line 2: 'not_a_variable' is undefined"):
        render("QUEUE_SLA", sample, template=unknown, server_from=SERVER_FROM)
    escape = TemplateSource("QUEUE_SLA", "", "s", "{{ cycler.__init__.__globals__ }}")
    with pytest.raises(PermanentError, match="not allowed"):
        render("QUEUE_SLA", sample, template=escape, server_from=SERVER_FROM)
    with pytest.raises(ValidationError, match="'queue_number'"):
        render("QUEUE_SLA", {"queue_name": "x"}, server_from=SERVER_FROM)


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ queue_name|attr('__class__') }}",
        "{{ range(1000000)|length }}",
        "{{ 'x' * 10000000 }}",
    ],
)
def test_the_sandbox_refuses_escapes_and_huge_values(source: str) -> None:
    context: dict[str, Any] = {"queue_name": "Sales"}
    with pytest.raises(SecurityError):
        rendering.compile_body(source).html.render(context)
