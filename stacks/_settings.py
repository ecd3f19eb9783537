"""Translations from configuration values to CDK types, shared by the stacks."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs

from mlops_constructs.config import StageSettings

_RETENTION: dict[int, logs.RetentionDays] = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def log_retention(settings: StageSettings) -> logs.RetentionDays:
    """The stage's log retention as CDK's enum (the config allows exactly CloudWatch's periods)."""
    return _RETENTION[settings.log_retention_days]


def stateful_removal_policy(settings: StageSettings) -> RemovalPolicy:
    """RETAIN unless the stage's config explicitly lets stateful resources go (dev only).

    Not for what staging and prod serve from (:data:`SERVED_FROM_REMOVAL_POLICY`)."""
    return RemovalPolicy.RETAIN if settings.retain_stateful_resources else RemovalPolicy.DESTROY


SERVED_FROM_REMOVAL_POLICY = RemovalPolicy.RETAIN
"""Every stage's artifact store and dev's model registries are kept when they leave their stack, whatever
``retain_stateful_resources`` says: staging and prod serve the models dev trained, from dev's artifacts bucket,
image repository and key, and release the versions dev's registry holds. Deleting dev's store key would make every
model artifact encrypted under it unreadable once the key's waiting period ends (and unusable during it: "All calls to
use the key for cryptographic operations will fail", https://docs.aws.amazon.com/kms/latest/cryptographic-details/key-deletion.html),
so the serving stages' endpoints could no longer add an instance, update or roll back."""
