"""Edit one template: from, subject, HTML body (highlighted), live preview with the sample payload.

Every edit is validated by core.template_validation (errors carry their line) and rendered by
core.rendering with the event's sample payload; the preview shows the message as text. Save
creates or updates the owner's custom template; Reset deletes it (the default comes back).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Header, Input, Static, TextArea

from tui.jobs import JobsMixin
from tui.runtime import actor, owner
from tui.widgets.form import Field, FormState

if TYPE_CHECKING:
    from core.context import Context

PREVIEW_DELAY_S = 0.25
FALLBACK_FROM = "notifications@example.com"


@dataclass
class Preview:
    seq: int
    errors: dict[str, str] = field(default_factory=dict)
    subject: str = ""
    mail_from: str = ""
    text: str = ""
    html: str = ""


def load_template(ctx: Context, slug: str | None, name: str) -> dict[str, Any]:
    from core.services.mail_servers import resolve_effective_server
    from core.services.mail_tests import sender_address
    from core.services.templates import template_details

    with ctx.session() as session:
        tenant = owner(session, slug)
        details = template_details(session=session, tenant=tenant, name=name)
        server = resolve_effective_server(session=session, tenant=tenant).server
        details["server_from"] = (sender_address(server) if server else None) or FALLBACK_FROM
    return details


def make_preview(seq: int, name: str, parts: dict[str, str], server_from: str) -> Preview:
    from core.catalog import sample
    from core.errors import MailbellError, ValidationError
    from core.rendering import TemplateSource, render
    from core.template_validation import validate_template

    preview = Preview(seq)
    try:
        validate_template(
            name, mail_from=parts["from"], subject=parts["subject"], body=parts["body"]
        )
    except ValidationError as exc:
        preview.errors[exc.field if exc.field in parts else "body"] = exc.message
    source = TemplateSource(name, parts["from"], parts["subject"], parts["body"])
    try:
        message = render(name, sample(name), template=source, server_from=server_from)
    except MailbellError as exc:
        preview.errors.setdefault("body", str(exc))
        return preview
    preview.subject, preview.mail_from = message.subject, message.mail_from
    preview.text, preview.html = message.text, message.html
    return preview


def save_template(
    ctx: Context, slug: str | None, name: str, parts: dict[str, str], custom: bool
) -> None:
    from core.services.templates import create_custom_template, update_custom_template

    with ctx.session() as session:
        tenant = owner(session, slug)
        if custom:
            update_custom_template(
                session=session, tenant=tenant, name=name, changes=parts, actor=actor()
            )
        else:
            create_custom_template(
                session=session,
                tenant=tenant,
                name=name,
                mail_from=parts["from"],
                subject=parts["subject"],
                body=parts["body"],
                actor=actor(),
            )


def reset_template(ctx: Context, slug: str | None, name: str) -> None:
    from core.services.templates import delete_custom_template

    with ctx.session() as session:
        delete_custom_template(
            session=session, tenant=owner(session, slug), name=name, actor=actor()
        )


class TemplateEditorScreen(JobsMixin, Screen[bool]):
    PAGE_TITLE = "Template editor"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="template.back"),
        Binding("ctrl+s", "save", "Save", id="template.save"),
        Binding("ctrl+r", "reset", "Reset", id="template.reset", tooltip="Reset to the default"),
        Binding(
            "ctrl+o",
            "open_html",
            "HTML preview",
            id="template.html",
            tooltip="Write the rendered HTML to a file and show its path",
        ),
        Binding(
            "f6",
            "toggle_preview",
            "Preview",
            id="template.preview",
            tooltip="Show the preview full height (again: back to the editor)",
        ),
    ]

    def __init__(self, slug: str | None, name: str, *, editable: bool = True) -> None:
        super().__init__()
        self.slug = slug
        self.name_ = name
        self.editable = editable
        self.details: dict[str, Any] | None = None
        self.preview: Preview | None = None
        self.form = FormState(self)
        self.seq = 0
        self.dirty = False
        self.loaded: dict[str, str] = {}
        self._timer: Timer | None = None

    @property
    def ctx(self) -> Context:
        return self.app.ctx  # type: ignore[attr-defined]

    def compose(self) -> ComposeResult:
        yield Header(icon="✉")
        with Vertical(id="editor"):
            yield Static(Text(self.name_, style="bold"), id="template-title")
            yield Field(
                "From",
                Input(id="from", compact=True, placeholder="(the server's From)"),
                name="from",
            )
            yield Field("Subject", Input(id="subject", compact=True), name="subject")
            with Horizontal(id="editor-panes"):
                with Vertical(id="body-pane"):
                    yield TextArea.code_editor(
                        "", language="html", id="body", soft_wrap=False, tab_behavior="focus"
                    )
                    yield Static("", id="body-error", classes="field-note -error")
                with VerticalScroll(id="preview-pane"):
                    yield Static("Rendering…", id="preview", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#body-error").display = False
        body = self.query_one("#body", TextArea)
        body.theme = "monokai" if self.app.current_theme.dark else "github_light"
        self.run_job("load", load_template, self.ctx, self.slug, self.name_)

    def on_resize(self) -> None:
        self.query_one("#editor-panes").set_class(self.size.width >= 120, "-wide")

    def done_load(self, details: dict[str, Any]) -> None:
        self.details = details
        source = details["custom"] or details["default"]
        self.loaded = {key: source[key] for key in ("from", "subject", "body")}
        self.dirty = False
        with self.prevent(Input.Changed, TextArea.Changed):
            self.query_one("#from", Input).value = source["from"]
            self.query_one("#subject", Input).value = source["subject"]
            self.query_one("#body", TextArea).text = source["body"]
        for widget in self.query("#from, #subject"):
            widget.disabled = not self.editable
        self.query_one("#body", TextArea).read_only = not self.editable
        self._title()
        self.query_one("#body", TextArea).focus()
        self.schedule_preview(now=True)

    def _title(self) -> None:
        assert self.details is not None
        title = Text(self.name_, style="bold")
        custom = self.details["custom"] is not None
        title.append("  ")
        title.append(
            " custom " if custom else " default ",
            style="bold black on yellow" if custom else "reverse",
        )
        who = "the system" if self.slug is None else f"tenant {self.slug}"
        title.append(f"  {self.details['scope']} event · {who}", style="dim")
        if not self.editable:
            title.append("  read-only here", style="bold yellow")
        elif self.dirty:
            title.append("  ● unsaved", style="bold yellow")
        self.query_one("#template-title", Static).update(title)

    # -- live preview ----------------------------------------------------------------------

    def parts(self) -> dict[str, str]:
        return {
            "from": self.query_one("#from", Input).value,
            "subject": self.query_one("#subject", Input).value,
            "body": self.query_one("#body", TextArea).text,
        }

    def schedule_preview(self, *, now: bool = False) -> None:
        if self._timer is not None:
            self._timer.stop()
        if now:
            self.refresh_preview()
        else:
            self._timer = self.set_timer(PREVIEW_DELAY_S, self.refresh_preview)

    def refresh_preview(self) -> None:
        if self.details is None:
            return
        self.seq += 1
        self.run_job(
            "preview",
            make_preview,
            self.seq,
            self.name_,
            self.parts(),
            self.details["server_from"],
            exclusive=False,
        )

    def done_preview(self, preview: Preview) -> None:
        if preview.seq != self.seq:
            return  # an older edit's preview
        self.preview = preview
        for name in ("from", "subject"):
            self.form.set(name, preview.errors.get(name))
        body_error = self.query_one("#body-error", Static)
        body_error.update(f"✗ {preview.errors['body']}" if "body" in preview.errors else "")
        body_error.display = "body" in preview.errors
        if preview.text or preview.subject:
            text = Text()
            text.append("From: ", style="bold")
            text.append(preview.mail_from + "\n")
            text.append("Subject: ", style="bold")
            text.append(preview.subject + "\n\n")
            text.append(preview.text)
            text.append("\n\n(sample payload)", style="dim")
            self.query_one("#preview", Static).update(text)

    def on_input_changed(self, _: Input.Changed) -> None:
        self._edited()

    def on_text_area_changed(self, _: TextArea.Changed) -> None:
        self._edited()

    def _edited(self) -> None:
        if self.details is None:
            return
        dirty = self.parts() != self.loaded
        if dirty != self.dirty:
            self.dirty = dirty
            self._title()
        self.schedule_preview()

    # -- actions ---------------------------------------------------------------------------

    def action_save(self) -> None:
        if not self.editable or self.details is None:
            self.notify("This template is edited in the other scope", severity="warning")
            return
        if self.preview is None or self.preview.seq != self.seq:
            self.refresh_preview()
            self.notify("Checking the template… press ctrl+s again", timeout=2)
            return
        if self.preview.errors:
            self.notify("Fix the errors marked ✗ first", severity="warning", timeout=3)
            return
        custom = self.details["custom"] is not None
        self.run_job("save", save_template, self.ctx, self.slug, self.name_, self.parts(), custom)

    def done_save(self, _: None) -> None:
        self.notify(f"{self.name_} saved (custom template)")
        self.dirty = False
        self.run_job("load", load_template, self.ctx, self.slug, self.name_)

    def action_reset(self) -> None:
        from tui.screens.confirm import ConfirmScreen

        if self.details is None or self.details["custom"] is None:
            self.notify(f"{self.name_} uses the default already")
            return
        question = (
            f"Reset {self.name_} to the default template? The custom template is "
            "deleted. This cannot be undone."
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_job("reset", reset_template, self.ctx, self.slug, self.name_)

        self.app.push_screen(ConfirmScreen(question, confirm="Reset"), answered)

    def done_reset(self, _: None) -> None:
        self.notify(f"{self.name_} is back to the default")
        self.dirty = False
        self.run_job("load", load_template, self.ctx, self.slug, self.name_)

    def action_open_html(self) -> None:
        if self.preview is None or not self.preview.html:
            self.notify("Nothing rendered yet", severity="warning")
            return
        folder = Path(self.ctx.settings.home) / "previews"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.name_}.html"
        path.write_text(self.preview.html, encoding="utf-8")
        self.notify(f"HTML preview written to {path}", title="HTML preview", timeout=10)

    def action_toggle_preview(self) -> None:
        panes = self.query_one("#editor-panes")
        panes.toggle_class("-preview-only")

    def action_back(self) -> None:
        from tui.screens.confirm import ConfirmScreen

        if not self.dirty:
            self.dismiss(False)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.dismiss(False)

        self.app.push_screen(
            ConfirmScreen("Leave the editor? Unsaved changes are lost.", confirm="Discard"),
            answered,
        )
