"""Edit one template: language, from, subject, HTML body (highlighted), live preview with the
sample payload.

The Language selector picks which of the owner's custom templates is edited: the one for every
language, or one locale's (a new one starts from the shipped default in that language). Every
edit is validated by core.template_validation (errors carry their line) and rendered by
core.rendering with the event's sample payload, in the owner's zone and the template's locale;
the preview shows the message as text and lists its attachments. Save creates or updates the
owner's custom template of that locale; Reset deletes it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Header, Input, Select, Static, TextArea

from tui.data import templates
from tui.data.templates import EVERY_LANGUAGE, Preview
from tui.jobs import Result, ShowsFailures, reporting
from tui.widgets.form import Field, FormState

if TYPE_CHECKING:
    from core.context import Context

PREVIEW_DELAY_S = 0.25


class TemplateLoaded(Result[dict[str, Any]]):
    """The template's default and custom parts, scope, and the From the server would use."""


class PreviewReady(Result[Preview]):
    """The template as typed, checked and rendered (for edit number `value.seq`)."""


class HtmlWritten(Result[Path]):
    """Where the rendered HTML was written."""


class TemplateSaved(Result[None]):
    pass


class TemplateReset(Result[None]):
    pass


class TemplateEditorScreen(ShowsFailures, Screen[bool]):
    PAGE_TITLE = "Template editor"
    DEFAULT_CSS = """
    TemplateEditorScreen #preview-where {
        color: $text-muted;
    }
    TemplateEditorScreen #preview-attachments {
        padding: 1 0 0 0;
    }
    """
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
            priority=True,  # the body's TextArea binds f6 (select line) too
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
        # The custom template edited: "" is the owner's template for every language.
        self.locale = ""
        self._timer: Timer | None = None

    @property
    def ctx(self) -> Context:
        return self.app.ctx  # type: ignore[attr-defined]

    def compose(self) -> ComposeResult:
        yield Header(icon="✉")
        with Vertical(id="editor"):
            yield Static(Text(self.name_, style="bold"), id="template-title")
            yield Field(
                "Language",
                Select(
                    [(EVERY_LANGUAGE, "")],
                    id="locale",
                    value="",
                    allow_blank=False,
                    compact=True,
                ),
                name="locale",
            )
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
                    yield Static("", id="preview-where", markup=False)
                    yield Static("Rendering…", id="preview", markup=False)
                    yield Static("", id="preview-attachments", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#body-error").display = False
        body = self.query_one("#body", TextArea)
        body.theme = "monokai" if self.app.current_theme.dark else "github_light"
        self.load()

    def load(self) -> None:
        self.load_locale(self.locale)

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load_locale(self, locale: str) -> None:
        with reporting(self, "load"):
            details = templates.load_template(self.ctx, self.slug, self.name_, locale)
            self.post_message(TemplateLoaded(details))

    def on_resize(self) -> None:
        self.query_one("#editor-panes").set_class(self.size.width >= 120, "-wide")

    @on(TemplateLoaded)
    def show(self, message: TemplateLoaded) -> None:
        details = self.details = message.value
        source = details["custom"] or details["default"]
        self.loaded = {key: source[key] for key in ("from", "subject", "body")}
        self.dirty = False
        choices = templates.locale_choices(details["owner_locale"], details["locales"])
        with self.prevent(Input.Changed, TextArea.Changed, Select.Changed):
            locale = self.query_one("#locale", Select)
            locale.set_options(choices)
            locale.value = self.locale
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
        if self.locale:
            title.append(f" {self.locale}", style="bold")
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
        self.render_preview(self.seq, self.parts(), self.details, self.locale)

    @work(thread=True, group="preview", exit_on_error=False)
    def render_preview(
        self, seq: int, parts: dict[str, str], details: dict[str, Any], locale: str
    ) -> None:
        """Rendering is CPU work: on a thread, so typing never waits for it."""
        with reporting(self, "preview"):
            locality = templates.preview_locality(details, locale)
            preview = templates.make_preview(
                seq, self.name_, parts, details["server_from"], locality
            )
            self.post_message(PreviewReady(preview))

    @on(PreviewReady)
    def show_preview(self, message: PreviewReady) -> None:
        preview = message.value
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
            self.query_one("#preview-where", Static).update(f"Preview in {preview.where}")
            files = Text()
            if preview.attachments:
                files.append("Attachments\n", style="bold")
            files.append("\n".join(preview.attachments) or "No attachments")
            self.query_one("#preview-attachments", Static).update(files)

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
        self.save(self.parts(), custom)

    @work(thread=True, exclusive=True, group="save", exit_on_error=False)
    def save(self, parts: dict[str, str], custom: bool) -> None:
        with reporting(self, "save"):
            templates.save_template(self.ctx, self.slug, self.name_, parts, custom, self.locale)
            self.post_message(TemplateSaved(None))

    def _which(self) -> str:
        return f"{self.name_} ({self.locale})" if self.locale else self.name_

    @on(TemplateSaved)
    def saved(self, _: TemplateSaved) -> None:
        self.notify(f"{self._which()} saved (custom template)")
        self.dirty = False
        self.load()

    def action_reset(self) -> None:
        from tui.screens.confirm import ConfirmScreen

        if self.details is None or self.details["custom"] is None:
            self.notify(f"{self._which()} uses the default already")
            return
        question = (
            f"Reset {self._which()} to the default template? The custom template is "
            "deleted. This cannot be undone."
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self.reset()

        self.app.push_screen(ConfirmScreen(question, confirm="Reset"), answered)

    @work(thread=True, exclusive=True, group="save", exit_on_error=False)
    def reset(self) -> None:
        with reporting(self, "reset"):
            templates.reset_template(self.ctx, self.slug, self.name_, self.locale)
            self.post_message(TemplateReset(None))

    @on(TemplateReset)
    def was_reset(self, _: TemplateReset) -> None:
        self.notify(f"{self._which()} is back to the default")
        self.dirty = False
        self.load()

    def action_open_html(self) -> None:
        if self.preview is None or not self.preview.html:
            self.notify("Nothing rendered yet", severity="warning")
            return
        self.write_html(Path(self.ctx.settings.home) / "previews", self.preview.html)

    @work(thread=True, group="html", exit_on_error=False)
    def write_html(self, folder: Path, html: str) -> None:
        with reporting(self, "HTML preview"):
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{self.name_}.html"
            path.write_text(html, encoding="utf-8")
            self.post_message(HtmlWritten(path))

    @on(HtmlWritten)
    def html_written(self, message: HtmlWritten) -> None:
        self.notify(f"HTML preview written to {message.value}", title="HTML preview", timeout=10)

    def action_toggle_preview(self) -> None:
        panes = self.query_one("#editor-panes")
        panes.toggle_class("-preview-only")

    def action_back(self) -> None:
        self._unless_unsaved("Leave the editor?", lambda: self.dismiss(False))

    def _unless_unsaved(
        self,
        question: str,
        then: Callable[[], object],
        *,
        kept: Callable[[], object] | None = None,
    ) -> None:
        """`then()`, after asking first when there are unsaved changes (`kept()` if the answer
        is to keep them)."""
        from tui.screens.confirm import ConfirmScreen

        if not self.dirty:
            then()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                then()
            elif kept is not None:
                kept()

        self.app.push_screen(
            ConfirmScreen(f"{question} Unsaved changes are lost.", confirm="Discard"), answered
        )

    @on(Select.Changed, "#locale")
    def locale_chosen(self, event: Select.Changed) -> None:
        event.stop()
        chosen = event.value if isinstance(event.value, str) else ""
        if self.details is None or chosen == self.locale:
            return

        def switch() -> None:
            self.locale = chosen
            self.load()

        def keep() -> None:
            select: Select[str] = self.query_one("#locale", Select)
            with self.prevent(Select.Changed):
                select.value = self.locale

        which = f"the {chosen} template" if chosen else "the template for every language"
        self._unless_unsaved(f"Edit {which}?", switch, kept=keep)
