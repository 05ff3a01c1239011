"""A single counter bumped in the same transaction as any change to mail configuration.

Emit keeps each tenant's settings, server, templates and Slack routes in memory and checks this
one row per event instead of re-reading them (DESIGN §3); other processes see a change as soon
as it commits.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column
from sqlmodel import Field, SQLModel


class ConfigGeneration(SQLModel, table=True):
    __tablename__ = "config_generation"

    id: int = Field(default=1, primary_key=True)
    value: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
