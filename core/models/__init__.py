"""Every table, imported here so that `SQLModel.metadata` is complete for Alembic and tests."""

from core.models.audit import AuditEntry
from core.models.auth import ApiToken
from core.models.config_generation import ConfigGeneration
from core.models.delivery import Delivery, DeliveryAttempt, DeliveryContent, EventRecord
from core.models.health import HealthChange, HealthSubject, ServiceLease
from core.models.inbound import InboundMessage as InboundMessage
from core.models.mail import EmailAccount, MailServer
from core.models.slack import SlackChannelLink as SlackChannelLink  # and the other Slack tables
from core.models.templates import CustomTemplate
from core.models.tenancy import NotificationSettings, SystemSettings, Tenant
from core.models.webhooks import WebhookTarget
from core.models.workers import WorkerHeartbeat

__all__ = [
    "ApiToken",
    "AuditEntry",
    "ConfigGeneration",
    "CustomTemplate",
    "Delivery",
    "DeliveryAttempt",
    "DeliveryContent",
    "EmailAccount",
    "EventRecord",
    "HealthChange",
    "HealthSubject",
    "MailServer",
    "NotificationSettings",
    "ServiceLease",
    "SystemSettings",
    "Tenant",
    "WebhookTarget",
    "WorkerHeartbeat",
]
