"""Custom email templates (of a tenant, or of the system); a row replaces the default of its name
for its owner only. `TemplateUpdate` is a change of some parts, `TemplateRead` what is shown."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import AliasChoices, BaseModel, ConfigDict
from pydantic import Field as ModelField
from sqlalchemy import Column, ForeignKey, Index, Integer, Text, text
from sqlmodel import Field, SQLModel

from core import validation as v
from core.errors import ValidationError
from core.models._common import utcnow
from core.vocabulary import LOCALE_MAX_LENGTH


class CustomTemplate(SQLModel, table=True):
    __tablename__ = "custom_template"
    __table_args__ = (
        Index("uq_custom_template_tenant_name", "tenant_id", "name", "locale", unique=True),
        Index(
            "uq_custom_template_system_name",
            "name",
            "locale",
            unique=True,
            sqlite_where=text("tenant_id IS NULL"),
            postgresql_where=text("tenant_id IS NULL"),
        ),
        # ids are never reused on SQLite (migration 0009)
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("tenant.id", ondelete="CASCADE"))
    )
    name: str = Field(max_length=32)
    # "" serves every locale the owner has no template of its own for (core/locality.py).
    locale: str = Field(default="", max_length=LOCALE_MAX_LENGTH)
    mail_from: str = Field(default="", max_length=320)
    subject: str = Field(default="", max_length=998)
    body: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


def _text_part(public: str) -> Any:
    """A template part: a string, or None to keep the stored one (named as the API names it)."""

    def check(_field: str, value: Any) -> str | None:
        if value is not None and not isinstance(value, str):
            raise ValidationError(public, "must be a string")
        return value

    return v.rule(check)


class TemplateUpdate(v.InputModel):
    """Some parts of a custom template: `from` (or `mail_from`), `subject`, `body`; a part left
    out or None keeps its value."""

    model_config = ConfigDict(populate_by_name=True)
    unknown_message: ClassVar[str] = "unknown field: use from, subject or body"

    mail_from: Annotated[str | None, _text_part("from")] = ModelField(
        default=None, validation_alias=AliasChoices("from", "mail_from")
    )
    subject: Annotated[str | None, _text_part("subject")] = None
    body: Annotated[str | None, _text_part("body")] = None

    def parts(self) -> dict[str, str]:
        """The parts given (not None), by column."""
        return {name: value for name, value in self.given().items() if value is not None}


class TemplateRead(BaseModel):
    """A custom template as any front end shows it."""

    model_config = ConfigDict(from_attributes=True)

    name: str
    locale: str = ""
    mail_from: str
    subject: str
    body: str
    created_at: datetime
    updated_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """The API's shape: `from`, and the times in ISO 8601."""
        return {
            "name": self.name,
            "locale": self.locale or None,
            "from": self.mail_from,
            "subject": self.subject,
            "body": self.body,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }
