from __future__ import annotations

from dataclasses import dataclass

from runtime.config import setting
from runtime.service_settings import ServiceSettings
from services.control.limits import TreeLimits


@dataclass(frozen=True)
class Settings(ServiceSettings):
    control_address: str = setting("127.0.0.1:50052", "control: gRPC listen address")
    control_database_url: str = setting(
        "sqlite+aiosqlite:///./data/control.db", "control: SQLAlchemy async database URL"
    )
    catalog_target: str = setting("127.0.0.1:50051", "where services reach catalog (gRPC)")
    router_target: str = setting("127.0.0.1:50053", "where services reach router (gRPC)")
    max_sinks_per_account: int = setting(100, "control: sink limit per account (Twilio: 100)")
    max_subaccounts_per_account: int = setting(1000, "control: subaccount limit per account (Twilio: 1,000)")
    max_subscriptions_per_account: int = setting(100, "control: subscription limit per account (Twilio: 100)")
    max_sinks_per_tree: int = setting(
        2000,
        "control: sink limit across a main account and its subaccounts (two per account of a full tree)",
    )
    max_subscriptions_per_tree: int = setting(
        2000,
        "control: subscription limit across a main account and its subaccounts (two per account of "
        "a full tree)",
    )
    max_types_per_subscription: int = setting(
        200,
        "control: event types per subscription (Twilio names none; above the catalog's subscribable types)",
    )
    max_filter_chars: int = setting(
        1024, "control: characters in a subscription's Filter (the filter language's own bound is 1,024)"
    )
    max_routing_bytes_per_tree: int = setting(
        4 * 1024 * 1024,
        "control: routing state a main account and its subaccounts may cost, estimated as the "
        "serialized subscriptions (SIDs, types, filters, ordering keys); keeps a tree far within "
        "one gRPC message",
    )
    routing_poll_seconds: float = setting(
        0.25, "control: how often a watch checks the database for changes made by other replicas"
    )
    token_encryption_key: str = setting(
        "",
        "control: Fernet key(s), comma-separated, sealing accounts' auth tokens at rest (the first "
        "seals, all reveal); make run generates one; empty: stored unencrypted",
    )
    dev_account: bool = setting(False, "control: ensure a development account at start (make run sets it)")
    dev_account_file: str = setting(
        "./data/dev-account.json", "control: where the development account's credentials are written"
    )
    dev_account_sid: str = setting("", "development account SID", env="TWILIO_ACCOUNT_SID")
    dev_auth_token: str = setting("", "development account auth token", env="TWILIO_AUTH_TOKEN")
    kinesis_external_id_secret: str = setting(
        "",
        "control: HMAC key from which each account's Kinesis ExternalId is derived (GET "
        "/v1/Sinks/Kinesis/ExternalId); changing it changes every account's; empty: still one "
        "per account, but derivable from the Account SID",
    )
    platform_aws_account_id: str = setting(
        "",
        "control: the AWS account the delivery workers' identity belongs to; Kinesis sinks whose "
        "role_arn is in it are refused; empty: not checked",
    )
    allow_private_destinations: bool = setting(
        False,
        "control and delivery: allow loopback/private/link-local webhook destinations (dev profile); "
        "refused at sink creation and at delivery otherwise",
    )

    def tree_limits(self) -> TreeLimits:
        return TreeLimits(
            subaccounts=self.max_subaccounts_per_account,
            sinks=self.max_sinks_per_tree,
            subscriptions=self.max_subscriptions_per_tree,
            types_per_subscription=self.max_types_per_subscription,
            filter_chars=self.max_filter_chars,
            routing_bytes=self.max_routing_bytes_per_tree,
        )
