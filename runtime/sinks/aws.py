"""What every AWS sink's configuration shares: the target's ARN, the tenant's IAM role the
platform assumes, and the ExternalId the role must require — the platform issues it per
account (`issued_external_id`) and control accepts no other, so no tenant can have the
platform assume a role that trusts another tenant's ExternalId (AWS's confused-deputy advice
for third parties)."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any

from runtime.sinks.base import ConfigFields, Field, invalid, require_string

# STS AssumeRole's own bounds for ExternalId (botocore refuses anything else before sending).
EXTERNAL_ID_LENGTH = (2, 1224)
EXTERNAL_ID_CHARS = re.compile(r"[\w+=,.@:/-]+")
# AWS account ids have 12 digits, but Twilio's own examples use fewer and Twilio accepts them.
ACCOUNT = r"(?P<account>\d{1,12})"
REGION = r"(?P<region>[a-z]{2}(?:-[a-z]+)+-\d)"
PARTITION = r"(?P<partition>aws[a-z-]*)"
IAM_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::(?P<account>\d{1,12}):role/[\w+=,.@/-]{1,512}")


def target_arn(service: str, resource: str) -> re.Pattern[str]:
    """The ARN of a regional resource: `resource` is the pattern after the account (with a
    `name` group)."""
    return re.compile(rf"arn:{PARTITION}:{service}:{REGION}:{ACCOUNT}:{resource}")


ROLE_FIELDS = (
    Field(
        "role_arn",
        "The IAM role in your AWS account the platform assumes to deliver",
        example="arn:aws:iam::111122223333:role/EventStreams",
    ),
    Field(
        "external_id",
        "The ExternalId issued to your account (GET /v1/Sinks/Kinesis/ExternalId); "
        "the role's trust policy should require it (sts:ExternalId)",
    ),
)


@dataclass(frozen=True)
class AwsTarget(ConfigFields):
    """An AWS resource written to under an assumed role."""

    arn: str
    role_arn: str
    external_id: str

    @property
    def region(self) -> str:
        return self.arn.split(":")[3]

    @property
    def partition(self) -> str:
        return self.arn.split(":")[1]

    @property
    def account(self) -> str:
        return self.arn.split(":")[4]

    @property
    def resource(self) -> str:
        return self.arn.split(":", 5)[5]


def issued_external_id(account_sid: str, secret: str) -> str:
    """The ExternalId this deployment sends when it assumes any of the account's roles, and
    the only one it accepts in the account's sink configurations: issued by the platform,
    never chosen by the tenant. Derived, not stored: the same on every replica and readable
    before the role exists. The secret makes it unguessable; it is unique per account without
    one."""
    digest = hmac.new(secret.encode(), account_sid.encode(), hashlib.sha256).hexdigest()
    return f"{account_sid}-{digest[:32]}"


def role_account(role_arn: str) -> str | None:
    """The 12-digit AWS account an IAM role ARN names; None for what is not a role ARN."""
    match = IAM_ROLE_ARN.fullmatch(role_arn)
    return match.group("account").zfill(12) if match else None


def role_and_external_id(config: dict[str, Any], target: re.Pattern[str], what: str) -> tuple[str, str]:
    """The configuration's role_arn and external_id, checked; `what` names the target (for
    the message when a target ARN sits where the role belongs)."""
    role_arn = require_string(config, "role_arn")
    if target.fullmatch(role_arn):
        raise invalid(f"role_arn must name the IAM role to assume, not {what} (that goes in arn)")
    if not IAM_ROLE_ARN.fullmatch(role_arn):
        raise invalid("role_arn must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)")
    external_id = require_string(config, "external_id")
    low, high = EXTERNAL_ID_LENGTH
    if not low <= len(external_id) <= high:
        raise invalid(f"external_id must be {low} to {high} characters long")
    if not EXTERNAL_ID_CHARS.fullmatch(external_id):
        raise invalid("external_id may hold only letters, digits and +=,.@:/-_")
    return role_arn, external_id


def target(config: dict[str, Any], pattern: re.Pattern[str], what: str, shape: str) -> str:
    """The configuration's `arn`, which must match `pattern`: `what` and `shape` word the
    refusal (e.g. "an SQS queue", "arn:aws:sqs:<region>:<account>:<queue>")."""
    arn = require_string(config, "arn")
    if IAM_ROLE_ARN.fullmatch(arn):
        raise invalid(f"arn must name {what}, not an IAM role (the role goes in role_arn)")
    if not pattern.fullmatch(arn):
        raise invalid(f"arn must be {what} ARN ({shape})")
    return arn
