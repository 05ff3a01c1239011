"""Settings from the environment (prefix MAILBELL_) and the paths derived from them.

Nothing is read at import time: call `load_settings()` where the process starts.
"""

from __future__ import annotations

from pathlib import Path

from platformdirs import user_data_dir
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_home() -> Path:
    return Path(user_data_dir("mailbell", appauthor=False))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MAILBELL_", extra="ignore")

    home: Path = Field(default_factory=_default_home)
    database_url: str | None = None
    secret_keys: str | None = None
    slack_admins: str = ""
    slack_api_url: str = "https://slack.com/api/"
    slack_bot_token: str | None = Field(
        default=None, validation_alias=AliasChoices("SLACK_BOT_TOKEN", "MAILBELL_SLACK_BOT_TOKEN")
    )
    slack_signing_secret: str | None = Field(
        default=None,
        validation_alias=AliasChoices("SLACK_SIGNING_SECRET", "MAILBELL_SLACK_SIGNING_SECRET"),
    )
    slack_app_token: str | None = Field(
        default=None, validation_alias=AliasChoices("SLACK_APP_TOKEN", "MAILBELL_SLACK_APP_TOKEN")
    )
    # Alerts of one event in one Slack channel within this window of the first go in its thread.
    slack_thread_window_s: float = 60.0
    retry_base_s: float = 30.0
    retry_max_age_s: float = 86400.0
    imap_sync_interval_s: float = 300.0
    # How long a worker holds a claimed delivery; a killed worker's rows come due after this.
    worker_lease_s: float = 120.0
    imap_backfill_days: int = 7
    imap_backfill_messages: int = 500
    oauth_google_token_url: str = "https://oauth2.googleapis.com/token"
    oauth_google_auth_url: str = "https://accounts.google.com/o/oauth2/v2/auth"
    # {tenant} is the server's directory (tenant) id, or "common" when it has none.
    oauth_microsoft_token_url: str = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
    oauth_microsoft_auth_url: str = (
        "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize"
    )
    oauth_redirect_uri: str = "http://localhost:8765/oauth/callback"
    # Render budget of every template (core/render_budget.py): output bytes of a body, and wall
    # time of one render.
    template_max_bytes: int = 2 * 1024 * 1024
    template_timeout_ms: int = 250
    # Hosts tenant-scoped actors may point a mail server at: comma-separated CIDRs, or "any";
    # empty: public unicast addresses only (core/netfence.py).
    tenant_smtp_networks: str = ""
    # Sent, suppressed and failed deliveries older than this are pruned by the worker.
    retention_days: int = 90
    # Health watch (core/health): how often each subject is checked, when queued mail counts as
    # backed up, how often an unresolved problem is recalled, how many checks run at once, and
    # how long one check may take.
    health_interval_s: float = 900.0
    health_backlog_s: float = 600.0
    health_remind_s: float = 86400.0
    health_concurrency: int = 16
    health_check_timeout_s: float = 30.0
    audit_retention_days: int = 365
    # The digest policy of an event no owner has set (core/digest_policy.py): AFTER/WINDOW or off.
    digest_default: str = "3/10m"
    # Files a message carries (core/attachments): the largest accepted at ingest or fetched
    # from a URL, how long a fetch may take, and the largest whole message with its files.
    attachment_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    attachment_fetch_timeout_s: float = Field(default=15.0, gt=0)
    message_max_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    # The SSH console (`mailbell ssh`): its keys file and host key (default: in the data
    # directory), how many sessions at once, how long an idle one stays open, and how many
    # failed logins an address may make in a minute before its connections are refused.
    ssh_authorized_keys: Path | None = None
    ssh_host_key: Path | None = None
    ssh_max_sessions: int = Field(default=32, ge=1)
    ssh_idle_s: float = Field(default=3600.0, gt=0)
    ssh_auth_failures_per_minute: int = Field(default=10, ge=1)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'mailbell.db'}"

    @property
    def key_file(self) -> Path:
        return self.home / "secret.key"

    @property
    def ssh_keys_file(self) -> Path:
        return self.ssh_authorized_keys or self.home / "ssh_authorized_keys"

    @property
    def ssh_host_key_file(self) -> Path:
        return self.ssh_host_key or self.home / "ssh_host_ed25519_key"

    @property
    def slack_admin_ids(self) -> list[str]:
        return [item.strip() for item in self.slack_admins.split(",") if item.strip()]


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
