"""ArtifactStore: the encrypted buckets and image repository that training data, model artifacts and
serving images live in."""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mlops_constructs._buckets import access_log_bucket, encrypted_bucket
from mlops_constructs._keys import Key, deny_grants_except_for_aws_resources
from mlops_constructs._s3_names import reserved_prefix
from mlops_constructs._validate import is_token
from mlops_constructs.errors import PropsError

_ACCOUNT_ID = re.compile(r"\d{12}")
_NAME_PREFIX = re.compile(r"[a-z0-9][a-z0-9-]*[a-z0-9]")
_MAX_BUCKET_NAME = 63


class ArtifactStore(Construct):
    """Where the platform keeps what it learns from and what it produces.

    Creates:

    - a customer managed KMS key with yearly rotation (unless ``encryption_key`` is given);
    - a **data** bucket for training data (unless ``existing_data_bucket`` is given) and an
      **artifacts** bucket for model artifacts and evaluation reports: both encrypted with the key,
      TLS-only, versioned, public access blocked, server access logs on, old versions expired after
      ``noncurrent_version_retention`` and incomplete multipart uploads aborted;
    - an **access-logs** bucket receiving both buckets' server access logs (SSE-S3: log delivery needs no key
      grant for it), expired after ``access_log_retention``;
    - an ECR **repository** for serving and training images: scan on push, immutable tags, encrypted
      with the key, untagged images expired after ``untagged_image_retention``.

    Accounts in ``read_accounts`` may read the artifacts bucket's objects, decrypt with the key only
    through S3 and ECR in this region, and pull images from the repository. Nothing else is shared.

    Example::

        store = ArtifactStore(self, "Store", name_prefix="acme-dev", read_accounts=["333333333333"])
        store.grant_read_write(training_role)

    :param name_prefix: prefix for the buckets' and repository's names, e.g. ``acme-dev``. Buckets are
        named ``<prefix>-<purpose>-<account>-<region>``. Default: CloudFormation generates names.
    :param encryption_key: the key for the buckets and the repository. Default: a key with yearly
        rotation is created.
    :param existing_data_bucket: adopt this bucket as the data bucket instead of creating one; give it
        with its encryption key (``Bucket.from_bucket_attributes(..., encryption_key=...)``) so that
        grants cover the key. Default: a data bucket is created.
    :param read_accounts: ids of accounts allowed to read model artifacts and pull images (the accounts
        that serve the models). Default: no other account has access.
    :param removal_policy: what happens to the key, buckets and repository when they leave the stack.
        ``DESTROY`` never empties a bucket: a bucket that still holds objects fails the deletion instead
        of losing them. Default: ``RemovalPolicy.RETAIN``.
    :param noncurrent_version_retention: how long overwritten or deleted object versions are kept.
        Default: 90 days.
    :param access_log_retention: how long server access logs are kept. Default: 365 days.
    :param incomplete_upload_expiration: when unfinished multipart uploads are aborted. Default: 7 days.
    :param untagged_image_retention: how long untagged images are kept. Default: 30 days.
    :param data_events_to_eventbridge: send the data bucket's object events to EventBridge, so that new
        data can start a training run. Not for an adopted bucket. Default: true.
    :param auto_delete_objects: with ``removal_policy=DESTROY`` only: when the store leaves the stack, delete
        every object version of its buckets and every image of its repository first, so that the deletion
        succeeds (CDK's auto-delete custom resource, a Lambda function, does it for the buckets). For sandboxes
        and integration tests, never for data anyone needs. Default: false (a bucket that holds objects fails
        the deletion instead of losing them).
    :param encrypt_data_catalog: encrypt this account's AWS Glue Data Catalog (its metadata, and connection
        passwords) with the store's key, for tables over the store's buckets (``BatchInference``'s results). The
        setting is the account's and region's, one per catalog: set it on one store per account. Whoever reads
        the catalog then needs the key (``kms:Decrypt``), as whoever reads the buckets does. Default: false.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name_prefix: str | None = None,
        encryption_key: kms.IKey | None = None,
        existing_data_bucket: s3.IBucket | None = None,
        read_accounts: Sequence[str] = (),
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        noncurrent_version_retention: Duration = Duration.days(90),
        access_log_retention: Duration = Duration.days(365),
        incomplete_upload_expiration: Duration = Duration.days(7),
        untagged_image_retention: Duration = Duration.days(30),
        data_events_to_eventbridge: bool = True,
        auto_delete_objects: bool = False,
        encrypt_data_catalog: bool = False,
    ) -> None:
        super().__init__(scope, id)
        name = type(self).__name__
        if isinstance(read_accounts, str):
            raise PropsError(name, "read_accounts", read_accounts, "must be a list of 12-digit account ids, not a string")
        for account in read_accounts:
            if not isinstance(account, str) or not _ACCOUNT_ID.fullmatch(account):
                raise PropsError(name, "read_accounts", account, "each entry must be a 12-digit AWS account id")
        if name_prefix is not None and (not _NAME_PREFIX.fullmatch(name_prefix) or "--" in name_prefix):
            raise PropsError(
                name, "name_prefix", name_prefix,
                "must be lowercase letters, digits and single hyphens (the repository is named after it), not starting or ending with a hyphen",
            )
        reserved = reserved_prefix(name_prefix) if name_prefix is not None else None  # bucket names: "<name_prefix>-<purpose>-..."
        if reserved:
            raise PropsError(name, "name_prefix", name_prefix, f"must not start with {reserved!r}: S3 reserves it at the start of bucket names")
        if auto_delete_objects and removal_policy != RemovalPolicy.DESTROY:
            raise PropsError(
                name, "auto_delete_objects", auto_delete_objects,
                f"may be true only with removal_policy=RemovalPolicy.DESTROY (got {removal_policy}): a retained store keeps its objects",
            )
        self._auto_delete_objects = auto_delete_objects
        self._name_prefix = name_prefix
        self.read_accounts: tuple[str, ...] = tuple(dict.fromkeys(read_accounts))
        """The accounts that may read artifacts and pull images."""

        self.encryption_key: kms.IKey = encryption_key or Key(
            self,
            "Key",
            description=f"Encrypts the data, model artifacts and images of {self.node.path}",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        """The KMS key of the buckets and the repository."""
        self.key_alias: str | None = None
        """``alias/<name_prefix>/artifacts`` when the store creates its key with a name prefix: other
        accounts, which cannot know the key's id, name the key by this alias."""
        if encryption_key is None:
            deny_grants_except_for_aws_resources(self.encryption_key)  # type: ignore[arg-type]
        if encryption_key is None and name_prefix is not None:
            self.key_alias = f"alias/{name_prefix}/artifacts"
            kms.Alias(self, "KeyAlias", alias_name=self.key_alias, target_key=self.encryption_key, removal_policy=removal_policy)

        self.access_log_bucket = access_log_bucket(
            self,
            "AccessLogBucket",
            bucket_name=self._bucket_name("access-logs"),
            retention=access_log_retention,
            incomplete_upload_expiration=incomplete_upload_expiration,
            removal_policy=removal_policy,
            auto_delete_objects=auto_delete_objects,
        )
        """Receives the server access logs of the data and artifacts buckets."""

        lifecycle = [
            s3.LifecycleRule(
                id="expire-old-versions-and-uploads",
                noncurrent_version_expiration=noncurrent_version_retention,
                abort_incomplete_multipart_upload_after=incomplete_upload_expiration,
            )
        ]
        if existing_data_bucket is None:
            data_bucket = self._secure_bucket("DataBucket", "data", lifecycle, removal_policy, notifies_events=data_events_to_eventbridge)
            if data_events_to_eventbridge:
                # Set on the CloudFormation resource: CDK's own switch would add a notifications
                # custom resource (a Lambda function) for what CloudFormation does natively.
                cfn_data_bucket = data_bucket.node.default_child
                assert isinstance(cfn_data_bucket, s3.CfnBucket)
                cfn_data_bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
                    event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(event_bridge_enabled=True)
                )
            self.data_bucket: s3.IBucket = data_bucket
        else:
            self.data_bucket = existing_data_bucket
        """Training data: where preprocessing reads from."""
        self.artifact_bucket: s3.IBucket = self._secure_bucket("ArtifactBucket", "artifacts", lifecycle, removal_policy)
        """Model artifacts and evaluation reports: what training writes and endpoints read."""

        self.repository = ecr.Repository(
            self,
            "Repository",
            repository_name=f"{name_prefix}/models" if name_prefix else None,
            image_scan_on_push=True,
            image_tag_mutability=ecr.TagMutability.IMMUTABLE,
            encryption=ecr.RepositoryEncryption.KMS,
            encryption_key=self.encryption_key,
            removal_policy=removal_policy,
            empty_on_delete=auto_delete_objects or None,
            lifecycle_rules=[
                ecr.LifecycleRule(
                    description="Expire untagged images; tagged images may back a registered model",
                    tag_status=ecr.TagStatus.UNTAGGED,
                    max_image_age=untagged_image_retention,
                )
            ],
        )
        """Serving and training images."""

        if self.read_accounts:
            self._share_with(self.read_accounts)

        self.data_catalog_encryption: glue.CfnDataCatalogEncryptionSettings | None = None
        """The account's Glue Data Catalog encryption with the store's key (``encrypt_data_catalog``), or ``None``."""
        if encrypt_data_catalog:
            # https://docs.aws.amazon.com/glue/latest/dg/encrypt-glue-data-catalog.html: metadata at rest (SSE-KMS with a
            # customer managed key) and connection passwords, both with the store's key.
            key_arn = self.encryption_key.key_arn
            settings = glue.CfnDataCatalogEncryptionSettings
            self.data_catalog_encryption = settings(
                self, "DataCatalogEncryption", catalog_id=Stack.of(self).account,
                data_catalog_encryption_settings=settings.DataCatalogEncryptionSettingsProperty(
                    encryption_at_rest=settings.EncryptionAtRestProperty(catalog_encryption_mode="SSE-KMS", sse_aws_kms_key_id=key_arn),
                    connection_password_encryption=settings.ConnectionPasswordEncryptionProperty(
                        return_connection_password_encrypted=True, kms_key_id=key_arn),
                ),
            )

    # ------------------------------------------------------------------------------------------------
    # Grants
    # ------------------------------------------------------------------------------------------------

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read objects of the data and artifacts buckets, decrypt them with the key, and pull images."""
        return (
            self.data_bucket.grant_read(grantee)
            .combine(self.artifact_bucket.grant_read(grantee))
            .combine(self.repository.grant_pull(grantee))
        )

    def grant_read_write(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read and write objects of both buckets (encrypting and decrypting with the key), and pull images."""
        return (
            self.data_bucket.grant_read_write(grantee)
            .combine(self.artifact_bucket.grant_read_write(grantee))
            .combine(self.repository.grant_pull(grantee))
        )

    # ------------------------------------------------------------------------------------------------

    @staticmethod
    def bucket_name(name_prefix: str, purpose: str, account: str, region: str) -> str:
        """The name ``ArtifactStore(name_prefix=...)`` gives its ``data``, ``artifacts`` or
        ``access-logs`` bucket, for stacks that import the bucket by name instead of by reference."""
        return f"{name_prefix}-{purpose}-{account}-{region}"

    def _bucket_name(self, purpose: str) -> str | None:
        if self._name_prefix is None:
            return None
        stack = Stack.of(self)
        account = stack.account if not is_token(stack.account) else Aws.ACCOUNT_ID
        region = stack.region if not is_token(stack.region) else Aws.REGION
        name = self.bucket_name(self._name_prefix, purpose, account, region)
        if not is_token(name) and len(name) > _MAX_BUCKET_NAME:
            raise PropsError(
                type(self).__name__,
                "name_prefix",
                self._name_prefix,
                f"is too long: bucket name {name!r} would have {len(name)} characters and S3 allows {_MAX_BUCKET_NAME}",
            )
        return name

    def _secure_bucket(
        self, id: str, purpose: str, lifecycle: list[s3.LifecycleRule], removal_policy: RemovalPolicy, notifies_events: bool = False
    ) -> s3.Bucket:
        return encrypted_bucket(
            self,
            id,
            bucket_name=self._bucket_name(purpose),
            encryption_key=self.encryption_key,
            access_logs=self.access_log_bucket,
            access_log_prefix=f"{purpose}/",
            lifecycle_rules=lifecycle,
            removal_policy=removal_policy,
            notifies_events=notifies_events,
            auto_delete_objects=self._auto_delete_objects,
            replication_reason="Data stays in the one configured region (residency). Durability comes from S3's multi-AZ "
            "storage, versioning and retained buckets; a cross-region copy would need a second region and key.",
        )

    def _share_with(self, accounts: Sequence[str]) -> None:
        principals = [iam.AccountPrincipal(account) for account in accounts]
        self.artifact_bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="ServingAccountsReadArtifacts",
                principals=principals,
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[self.artifact_bucket.arn_for_objects("*")],
            )
        )
        # A drift job in a serving account reads its model version's baseline as a processing input of type
        # S3Prefix, which SageMaker lists before it downloads: listing, limited to the baseline folders
        # (<model>/<run>/baseline) the training pipeline writes.
        self.artifact_bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="ServingAccountsListBaselines",
                principals=principals,
                actions=["s3:ListBucket"],
                resources=[self.artifact_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": ["*/baseline", "*/baseline/*"]}},
            )
        )
        added = self.encryption_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="ServingAccountsDecryptArtifactsAndImages",
                principals=principals,
                actions=["kms:Decrypt", "kms:DescribeKey"],
                resources=["*"],  # in a key policy, "*" means this key
                conditions={
                    "StringEquals": {
                        "kms:ViaService": [
                            f"s3.{Aws.REGION}.amazonaws.com",
                            f"ecr.{Aws.REGION}.amazonaws.com",
                        ]
                    }
                },
            )
        )
        if not added.statement_added:
            raise PropsError(
                type(self).__name__,
                "read_accounts",
                list(accounts),
                "cannot be shared through an imported encryption_key, whose key policy this stack cannot change: "
                "grant these accounts kms:Decrypt in the key's own policy and leave read_accounts empty, or let "
                "ArtifactStore create the key",
            )
        self.repository.add_to_resource_policy(
            iam.PolicyStatement(
                sid="ServingAccountsPullImages",
                principals=principals,
                actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
            )
        )

