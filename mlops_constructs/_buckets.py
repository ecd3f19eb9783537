"""The two kinds of bucket the platform creates: KMS-encrypted buckets for what it stores, and the
SSE-S3 bucket their server access logs go to."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, FeatureFlags, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mlops_constructs.compliance import acknowledge_each, guard, in_packs, skip_checkov


_LOG_DELIVERY_BY_POLICY = "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"
"""The feature flag under which CDK grants S3 log delivery with a bucket policy instead of an ACL."""


def access_log_bucket(
    scope: Construct,
    id: str,
    *,
    bucket_name: str | None,
    retention: Duration,
    incomplete_upload_expiration: Duration,
    removal_policy: RemovalPolicy,
    auto_delete_objects: bool = False,
) -> s3.Bucket:
    """A private, TLS-only, versioned bucket for server access logs, expired after ``retention``."""
    bucket = s3.Bucket(
        scope,
        id,
        bucket_name=bucket_name,
        # SSE-S3: log delivery needs no key grant for it. AWS long documented SSE-S3 as the only default encryption a
        # log target may have; aws-cdk found SSE-KMS targets work given a key policy for the logging service
        # (https://github.com/aws/aws-cdk/pull/25350), which, wrong, would stop log delivery silently. The logs hold
        # request metadata, not object contents.
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        versioned=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        # Object ownership is left to CDK: it grants log delivery with a bucket policy (owner
        # enforced) or, in apps without that feature flag, with the ACL S3 then requires.
        removal_policy=removal_policy,
        auto_delete_objects=auto_delete_objects,
        lifecycle_rules=[
            s3.LifecycleRule(
                id="expire-access-logs",
                expiration=retention,
                noncurrent_version_expiration=Duration.days(1),
                abort_incomplete_multipart_upload_after=incomplete_upload_expiration,
            )
        ],
    )
    sse_s3_reason = ("SSE-S3 (AES-256) at rest: S3 log delivery needs no key grant for it, where a customer managed key would "
                     "have to admit the logging service in its key policy, and a mistake there would stop log delivery without "
                     "an error anyone sees. The logs hold request metadata, not object data; the bucket is TLS-only and private.")
    acknowledge_each(bucket, {
        **in_packs("S3DefaultEncryptionKMS", sse_s3_reason),
        **_no_replication(reason="Access logs stay in the configured region with the data they describe."),
        guard("s3_bucket_default_encryption_kms_check"): sse_s3_reason,
        guard("s3_bucket_logging_enabled_check"): "This is the access-log bucket: logging it into itself would loop.",
        guard("s3_event_notifications_enabled_check"): "Nothing consumes log-file events: an event per delivered "
        "access-log object would only add noise to the account's default event bus.",
        **_no_object_lock(),
        **({} if FeatureFlags.of(bucket).is_enabled(_LOG_DELIVERY_BY_POLICY) else {guard("s3_bucket_acl_prohibited_check"):
            f"This app does not set {_LOG_DELIVERY_BY_POLICY}, so CDK grants S3 log delivery the LogDeliveryWrite ACL, "
            "the one grant S3 accepts then; with the flag (the platform's cdk.json) it uses a bucket policy."}),
    })
    skip_checkov(bucket, "CKV_AWS_18", "This is the access-log bucket: logging it into itself would loop.")
    return bucket


def encrypted_bucket(
    scope: Construct,
    id: str,
    *,
    bucket_name: str | None,
    encryption_key: kms.IKey,
    access_logs: s3.IBucket,
    access_log_prefix: str,
    lifecycle_rules: Sequence[s3.LifecycleRule],
    removal_policy: RemovalPolicy,
    replication_reason: str,
    notifies_events: bool = False,
    auto_delete_objects: bool = False,
) -> s3.Bucket:
    """A private, TLS-only, versioned bucket encrypted with ``encryption_key``, logging to ``access_logs``.

    ``replication_reason`` says why the bucket is not replicated to another region. ``notifies_events``:
    the caller configures event notifications on the bucket (else Guard's CT.S3.PR.4 is acknowledged).
    """
    bucket = s3.Bucket(
        scope,
        id,
        bucket_name=bucket_name,
        encryption=s3.BucketEncryption.KMS,
        encryption_key=encryption_key,
        bucket_key_enabled=True,
        enforce_ssl=True,
        versioned=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix=access_log_prefix,
        lifecycle_rules=list(lifecycle_rules),
        removal_policy=removal_policy,
        auto_delete_objects=auto_delete_objects,
    )
    acknowledge_each(bucket, {
        **_no_replication(reason=replication_reason),
        **_no_object_lock(),
        **({} if notifies_events else {guard("s3_event_notifications_enabled_check"): "Nothing consumes this bucket's "
            "object events: its readers (jobs, endpoints, the pipeline) are started on their own, and its server "
            "access logs record every request."}),
    })
    return bucket


OBJECT_CHANGES = ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:ReplicateObject", "s3:ReplicateDelete")
"""What writes, overwrites or removes an object or one of its versions: ``s3:PutObject`` is also what a copy into the
bucket and every part of a multipart upload are authorized as; ``s3:DeleteObjectVersion`` would make an older version
current again; replication is a way in from another bucket. (Tags, ACLs and retention settings do not change content.)"""


def objects_changed_only_by(bucket: s3.Bucket, *, tag: str, values: Sequence[str], writers: Sequence[Construct] = ()) -> None:
    """Refuse :data:`OBJECT_CHANGES` in ``bucket`` to every principal not tagged ``tag`` with one of ``values``,
    whatever IAM allows it elsewhere: for a bucket whose objects are deployed as they are (a pipeline's artifacts, the
    source a pipeline builds from), so that its writers are the roles so tagged and no other principal of the account.

    A principal's tags are its role's (or user's) and its session's (``aws:PrincipalTag``); a request without the
    key, an AWS service's own or an untagged principal's, is refused too. The account's root user may still replace
    or delete the bucket policy unless an Organizations policy refuses it
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketPolicy.html): the break-glass path. Lifecycle
    expiration is not a request a bucket policy governs, and goes on.

    ``writers``: the roles of the bucket's stack that carry the tag, whose tags CloudFormation must put on before the
    policy refuses everyone else (the policy is updated after them).
    """
    bucket.add_to_resource_policy(iam.PolicyStatement(
        sid="ObjectsChangeOnlyByTheirWriters",
        effect=iam.Effect.DENY,
        principals=[iam.AnyPrincipal()],
        actions=list(OBJECT_CHANGES),
        resources=[bucket.arn_for_objects("*")],
        conditions={"StringNotEquals": {f"aws:PrincipalTag/{tag}": list(values)}},
    ))
    if writers and bucket.policy is not None:  # the policy add_to_resource_policy made
        bucket.policy.node.add_dependency(*writers)


def _no_object_lock() -> dict[str, str]:
    """Guard's Object Lock control (CT.S3.PR.9), with the reason the platform's buckets do without it."""
    return {guard("s3_bucket_object_lock_enabled_check"): "No write-once retention is required of this bucket: "
            "versioning keeps every overwrite and delete recoverable until the lifecycle rule expires old versions, "
            "which Object Lock's retention would block."}


def _no_replication(*, reason: str) -> dict[str, str]:
    """The three packs' cross-region replication finding, each with ``reason``."""
    return in_packs("S3BucketReplicationEnabled", reason)
