"""ArtifactStore on its own: encryption, access logging, lifecycle, repository, grants, sharing, errors."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template

from mlops_constructs import ArtifactStore, PropsError
from tests.conftest import CDK_CONTEXT

ENV = cdk.Environment(account="222222222222", region="eu-west-1")


def new_stack() -> cdk.Stack:
    return cdk.Stack(cdk.App(context=CDK_CONTEXT), "Test", env=ENV)


def logical_id(stack: cdk.Stack, construct) -> str:
    return stack.get_logical_id(construct.node.default_child)


def test_buckets_are_kms_encrypted_versioned_private_logged_and_expire_old_versions() -> None:
    stack = new_stack()
    store = ArtifactStore(stack, "Store", name_prefix="acme-dev", noncurrent_version_retention=cdk.Duration.days(45))
    template = Template.from_stack(stack)
    key_id = logical_id(stack, store.encryption_key)
    log_bucket_id = logical_id(stack, store.access_log_bucket)

    template.resource_count_is("AWS::S3::Bucket", 3)
    for bucket, purpose in ((store.data_bucket, "data"), (store.artifact_bucket, "artifacts")):
        props = template.to_json()["Resources"][logical_id(stack, bucket)]["Properties"]
        assert props["BucketName"] == f"acme-dev-{purpose}-222222222222-eu-west-1"
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
            {"BucketKeyEnabled": True, "ServerSideEncryptionByDefault": {"KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]}, "SSEAlgorithm": "aws:kms"}}
        ]
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
        }
        assert props["LoggingConfiguration"] == {"DestinationBucketName": {"Ref": log_bucket_id}, "LogFilePrefix": f"{purpose}/"}
        assert props["LifecycleConfiguration"]["Rules"] == [
            {"AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}, "Id": "expire-old-versions-and-uploads",
             "NoncurrentVersionExpiration": {"NoncurrentDays": 45}, "Status": "Enabled"}
        ]

    log_props = template.to_json()["Resources"][log_bucket_id]["Properties"]
    assert log_props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert log_props["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 365

    # Every bucket denies requests that are not over TLS.
    policies = template.find_resources("AWS::S3::BucketPolicy")
    assert len(policies) == 3
    for policy in policies.values():
        assert {
            "Action": "s3:*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}, "Effect": "Deny", "Principal": {"AWS": "*"},
        }.items() <= next(s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny").items()

    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    template.has_resource_properties(
        "AWS::ECR::Repository",
        {
            "RepositoryName": "acme-dev/models",
            "ImageScanningConfiguration": {"ScanOnPush": True},
            "ImageTagMutability": "IMMUTABLE",
            "EncryptionConfiguration": {"EncryptionType": "KMS", "KmsKey": {"Fn::GetAtt": [key_id, "Arn"]}},
            "LifecyclePolicy": {"LifecyclePolicyText": Match.string_like_regexp('"tagStatus":"untagged".*"countNumber":30')},
        },
    )


def test_stateful_resources_are_retained_by_default_and_destroyed_only_on_request() -> None:
    stack = new_stack()
    ArtifactStore(stack, "Kept")
    ArtifactStore(stack, "Dropped", removal_policy=cdk.RemovalPolicy.DESTROY)
    resources = Template.from_stack(stack).to_json()["Resources"]
    stateful = {"AWS::S3::Bucket", "AWS::KMS::Key", "AWS::ECR::Repository"}
    kept = {k: v["DeletionPolicy"] for k, v in resources.items() if v["Type"] in stateful and k.startswith("Kept")}
    dropped = {k: v["DeletionPolicy"] for k, v in resources.items() if v["Type"] in stateful and k.startswith("Dropped")}
    assert len(kept) == len(dropped) == 5
    assert set(kept.values()) == {"Retain"}
    assert set(dropped.values()) == {"Delete"}
    # Destroying never empties a bucket first: no auto-delete custom resource exists.
    assert not [v for v in resources.values() if v["Type"] == "Custom::S3AutoDeleteObjects"]


def test_grant_read_covers_both_buckets_the_key_and_image_pull() -> None:
    stack = new_stack()
    store = ArtifactStore(stack, "Store")
    role = iam.Role(stack, "Reader", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    store.grant_read(role)
    statements = _policy_statements(Template.from_stack(stack))
    actions = {a for s in statements for a in _as_list(s["Action"])}
    assert {"s3:GetObject*", "s3:List*", "kms:Decrypt", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"} <= actions
    assert not {"s3:PutObject", "s3:DeleteObject*", "kms:Encrypt", "kms:GenerateDataKey*"} & actions
    key_arn = {"Fn::GetAtt": [logical_id(stack, store.encryption_key), "Arn"]}
    assert any("kms:Decrypt" in _as_list(s["Action"]) and key_arn in _as_list(s["Resource"]) for s in statements)


def test_grant_read_write_adds_writes_and_encryption() -> None:
    stack = new_stack()
    store = ArtifactStore(stack, "Store")
    role = iam.Role(stack, "Writer", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    grant = store.grant_read_write(role)
    assert grant.success
    actions = {a for s in _policy_statements(Template.from_stack(stack)) for a in _as_list(s["Action"])}
    assert {"s3:PutObject", "s3:DeleteObject*", "kms:Encrypt", "kms:GenerateDataKey*", "kms:Decrypt", "ecr:BatchGetImage"} <= actions
    assert "ecr:PutImage" not in actions


def test_read_accounts_get_artifact_reads_decrypt_via_s3_and_ecr_and_image_pull_only() -> None:
    stack = new_stack()
    store = ArtifactStore(stack, "Store", read_accounts=["333333333333", "444444444444", "333333333333"])
    template = Template.from_stack(stack)
    accounts = [f"arn:aws:iam::{a}:root" for a in ("333333333333", "444444444444")]  # partition is known: env region
    assert store.read_accounts == ("333333333333", "444444444444")

    artifact_policy = _bucket_policy(template, logical_id(stack, store.artifact_bucket))
    shared = [s for s in artifact_policy if s.get("Sid") == "ServingAccountsReadArtifacts"]
    assert shared == [
        {
            "Sid": "ServingAccountsReadArtifacts", "Effect": "Allow", "Principal": {"AWS": accounts},
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": [logical_id(stack, store.artifact_bucket), "Arn"]}, "/*"]]},
        }
    ]
    # Listing is shared for the baseline folders only (a drift job's S3Prefix input is listed first).
    (listing,) = [s for s in artifact_policy if s.get("Sid") == "ServingAccountsListBaselines"]
    assert listing["Action"] == "s3:ListBucket" and listing["Principal"] == {"AWS": accounts}
    assert listing["Resource"] == {"Fn::GetAtt": [logical_id(stack, store.artifact_bucket), "Arn"]}
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["*/baseline", "*/baseline/*"]}}
    # The data bucket is not shared.
    data_policy = _bucket_policy(template, logical_id(stack, store.data_bucket))
    assert all(s["Effect"] == "Deny" for s in data_policy)

    template.has_resource_properties(
        "AWS::KMS::Key",
        {"KeyPolicy": {"Statement": Match.array_with([{
            "Sid": "ServingAccountsDecryptArtifactsAndImages", "Effect": "Allow", "Principal": {"AWS": accounts},
            "Action": ["kms:Decrypt", "kms:DescribeKey"], "Resource": "*",
            "Condition": {"StringEquals": {"kms:ViaService": [
                {"Fn::Join": ["", ["s3.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]},
                {"Fn::Join": ["", ["ecr.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]},
            ]}},
        }])}},
    )
    template.has_resource_properties(
        "AWS::ECR::Repository",
        {"RepositoryPolicyText": {"Statement": [{
            "Sid": "ServingAccountsPullImages", "Effect": "Allow", "Principal": {"AWS": accounts},
            "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        }], "Version": "2012-10-17"}},
    )


def test_without_read_accounts_nothing_is_shared() -> None:
    stack = new_stack()
    store = ArtifactStore(stack, "Store")
    template = Template.from_stack(stack)
    text = str(template.to_json())
    assert "ServingAccounts" not in text
    assert "RepositoryPolicyText" not in text
    assert store.read_accounts == ()
    # The data and artifact buckets allow nobody anything: their policies only deny requests without TLS.
    for bucket in (store.data_bucket, store.artifact_bucket):
        assert [(s["Effect"], s["Action"], s["Principal"]) for s in _bucket_policy(template, logical_id(stack, bucket))] == [
            ("Deny", "s3:*", {"AWS": "*"})
        ]
    # The key admits its own account only (and denies grants that are not for AWS resources); the repository has no policy.
    template.has_resource_properties(
        "AWS::KMS::Key",
        {"KeyPolicy": {"Statement": [
            {"Action": "kms:*", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:root"}, "Resource": "*"},
            Match.object_like({"Sid": "GrantsOnlyForAwsResources", "Effect": "Deny", "Action": "kms:CreateGrant"}),
        ], "Version": "2012-10-17"}},
    )
    template.has_resource_properties("AWS::ECR::Repository", {"RepositoryPolicyText": Match.absent()})


def test_adopts_an_existing_data_bucket() -> None:
    stack = new_stack()
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_s3 as s3

    key = kms.Key.from_key_arn(stack, "TeamKey", "arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab")
    bucket = s3.Bucket.from_bucket_attributes(stack, "TeamData", bucket_name="team-data", encryption_key=key)
    store = ArtifactStore(stack, "Store", existing_data_bucket=bucket)
    role = iam.Role(stack, "Reader", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    store.grant_read(role)
    template = Template.from_stack(stack)
    assert store.data_bucket is bucket
    template.resource_count_is("AWS::S3::Bucket", 2)  # artifacts + access logs
    statements = _policy_statements(template)
    assert any(key.key_arn in _as_list(s["Resource"]) and "kms:Decrypt" in _as_list(s["Action"]) for s in statements)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"read_accounts": ["12345"]}, r"ArtifactStore: read_accounts: each entry must be a 12-digit AWS account id \(got '12345'\)"),
        ({"read_accounts": "333333333333"}, r"ArtifactStore: read_accounts: must be a list of 12-digit account ids, not a string"),
        ({"name_prefix": "Acme_Dev"}, r"ArtifactStore: name_prefix: must be lowercase letters, digits and single hyphens.* \(got 'Acme_Dev'\)"),
        ({"name_prefix": "acme--dev"}, r"ArtifactStore: name_prefix: must be lowercase letters, digits and single hyphens.* \(got 'acme--dev'\)"),
        ({"name_prefix": "sthree-dev"}, r"ArtifactStore: name_prefix: must not start with 'sthree-': S3 reserves it at the start of bucket names \(got 'sthree-dev'\)"),
        ({"name_prefix": "amzn-s3-demo-dev"}, r"ArtifactStore: name_prefix: must not start with 'amzn-s3-demo-'"),
        ({"name_prefix": "sthree"}, r"ArtifactStore: name_prefix: must not start with 'sthree-'.* \(got 'sthree'\)"),
        ({"name_prefix": "amzn-s3-demo"}, r"ArtifactStore: name_prefix: must not start with 'amzn-s3-demo-'"),
        ({"name_prefix": "a-prefix-that-is-far-too-long"}, r"ArtifactStore: name_prefix: is too long: bucket name 'a-prefix-that-is-far-too-long-access-logs-222222222222-eu-west-1' would have 64 characters and S3 allows 63"),
    ],
)
def test_bad_props_are_rejected_with_field_value_and_rule(kwargs: dict, message: str) -> None:
    with pytest.raises(PropsError, match=message):
        ArtifactStore(new_stack(), "Store", **kwargs)


def test_names_are_left_to_cloudformation_without_a_prefix_and_tokens_are_accepted() -> None:
    stack = cdk.Stack(cdk.App(context=CDK_CONTEXT), "Agnostic")  # no env: account and region are tokens
    agnostic = ArtifactStore(stack, "Store", name_prefix="a-prefix-that-is-far-too-long")  # length unknown until deploy
    # The names are built from the prefix and the deploy-time account and region, not refused.
    resources = Template.from_stack(stack).to_json()["Resources"]
    for bucket, purpose in ((agnostic.data_bucket, "data"), (agnostic.artifact_bucket, "artifacts"), (agnostic.access_log_bucket, "access-logs")):
        assert resources[logical_id(stack, bucket)]["Properties"]["BucketName"] == {
            "Fn::Join": ["", [f"a-prefix-that-is-far-too-long-{purpose}-", {"Ref": "AWS::AccountId"}, "-", {"Ref": "AWS::Region"}]]
        }
    Template.from_stack(stack).has_resource_properties("AWS::ECR::Repository", {"RepositoryName": "a-prefix-that-is-far-too-long/models"})
    other = new_stack()
    ArtifactStore(other, "Store")
    buckets = Template.from_stack(other).find_resources("AWS::S3::Bucket")
    assert len(buckets) == 3
    for bucket in buckets.values():
        assert "BucketName" not in bucket["Properties"]


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _policy_statements(template: Template) -> list[dict]:
    return [s for p in template.find_resources("AWS::IAM::Policy").values() for s in p["Properties"]["PolicyDocument"]["Statement"]]


def _bucket_policy(template: Template, bucket_id: str) -> list[dict]:
    for policy in template.find_resources("AWS::S3::BucketPolicy").values():
        if policy["Properties"]["Bucket"] == {"Ref": bucket_id}:
            return policy["Properties"]["PolicyDocument"]["Statement"]
    raise AssertionError(f"no policy for {bucket_id}")


def test_sharing_through_an_imported_key_is_refused_not_silently_dropped() -> None:
    from aws_cdk import aws_kms as kms

    stack = new_stack()
    key = kms.Key.from_key_arn(stack, "Imported", "arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab")
    with pytest.raises(PropsError, match=r"ArtifactStore: read_accounts: cannot be shared through an imported encryption_key.* \(got \['333333333333'\]\)"):
        ArtifactStore(stack, "Store", encryption_key=key, read_accounts=["333333333333"])
    unshared = ArtifactStore(stack, "Unshared", encryption_key=key)  # without sharing, an imported key is fine
    # and it is the key that encrypts both buckets and the repository: no key of the store's own is made
    assert unshared.encryption_key is key
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::KMS::Key", 0)
    buckets = template.to_json()["Resources"]
    for bucket in (unshared.data_bucket, unshared.artifact_bucket):
        assert buckets[logical_id(stack, bucket)]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
            {"BucketKeyEnabled": True, "ServerSideEncryptionByDefault": {"KMSMasterKeyID": key.key_arn, "SSEAlgorithm": "aws:kms"}}
        ]
    template.has_resource_properties("AWS::ECR::Repository", {"EncryptionConfiguration": {"EncryptionType": "KMS", "KmsKey": key.key_arn}})


def test_auto_delete_objects_empties_every_bucket_and_the_repository_before_deleting_them() -> None:
    stack = new_stack()
    store = ArtifactStore(stack, "Store", removal_policy=cdk.RemovalPolicy.DESTROY, auto_delete_objects=True)
    template = Template.from_stack(stack)
    emptied = {r["Properties"]["BucketName"]["Ref"] for r in template.find_resources("Custom::S3AutoDeleteObjects").values()}
    assert emptied == {logical_id(stack, b) for b in (store.data_bucket, store.artifact_bucket, store.access_log_bucket)}
    template.has_resource_properties("AWS::ECR::Repository", {"EmptyOnDelete": True})
    for bucket in template.find_resources("AWS::S3::Bucket").values():
        assert bucket["DeletionPolicy"] == "Delete"


def test_by_default_nothing_is_emptied_so_a_bucket_with_objects_fails_its_deletion() -> None:
    stack = new_stack()
    ArtifactStore(stack, "Store", removal_policy=cdk.RemovalPolicy.DESTROY)
    template = Template.from_stack(stack)
    template.resource_count_is("Custom::S3AutoDeleteObjects", 0)
    assert "EmptyOnDelete" not in next(iter(template.find_resources("AWS::ECR::Repository").values()))["Properties"]


@pytest.mark.parametrize("policy", [cdk.RemovalPolicy.RETAIN, cdk.RemovalPolicy.SNAPSHOT, cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE])
def test_auto_delete_objects_is_refused_unless_the_store_is_destroyed(policy: cdk.RemovalPolicy) -> None:
    with pytest.raises(PropsError, match=r"ArtifactStore: auto_delete_objects: may be true only with removal_policy=RemovalPolicy.DESTROY"):
        ArtifactStore(new_stack(), "Store", removal_policy=policy, auto_delete_objects=True)
