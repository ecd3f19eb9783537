"""Integration test 1: the isolated network and the artifact store, as deployed.

- The VPC has no internet gateway, no NAT gateway and no route to 0.0.0.0/0.
- A role granted the store (``grant_read_write``) writes an object over TLS, naming no encryption, and reads it
  back: S3 encrypted it with the store's key (the bucket's default encryption); the same requests over plain HTTP
  are refused (AccessDenied).

Costs cents per run (one interface endpoint for an hour at most, one KMS key pending deletion); about 10
minutes. Everything is destroyed afterwards: the store is created with ``auto_delete_objects``.
"""

from __future__ import annotations

from _support import integ_app, integ_config, integ_stack, probe_function

import aws_cdk as cdk
from aws_cdk import aws_logs as logs
from aws_cdk import integ_tests_alpha as integ

from mlops_constructs import ArtifactStore, IsolatedNetwork

app = integ_app()
config = integ_config()
stack = integ_stack(app, "network-storage", config)

network = IsolatedNetwork(
    stack, "Network", availability_zones=stack.availability_zones, cidr="10.250.0.0/24",
    interface_endpoints=("kms",), flow_log_retention=logs.RetentionDays.ONE_DAY, removal_policy=cdk.RemovalPolicy.DESTROY,
)
store = ArtifactStore(
    stack, "Store", removal_policy=cdk.RemovalPolicy.DESTROY, auto_delete_objects=True,
    noncurrent_version_retention=cdk.Duration.days(1), access_log_retention=cdk.Duration.days(1),
)
probe = probe_function(stack, "StorageProbe", "storage_probe", BUCKET=store.data_bucket.bucket_name)
store.grant_read_write(probe)

test = integ.IntegTest(app, "NetworkStorage", test_cases=[stack], regions=[config.region], diff_assets=True)
vpc_id = network.vpc.vpc_id
test.assertions.aws_api_call(
    "EC2", "describeInternetGateways", {"Filters": [{"Name": "attachment.vpc-id", "Values": [vpc_id]}]}
).expect(integ.ExpectedResult.object_like({"InternetGateways": []}))
test.assertions.aws_api_call(
    "EC2", "describeNatGateways", {"Filter": [{"Name": "vpc-id", "Values": [vpc_id]}]}
).expect(integ.ExpectedResult.object_like({"NatGateways": []}))
test.assertions.aws_api_call(
    "EC2", "describeRouteTables",
    {"Filters": [{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "route.destination-cidr-block", "Values": ["0.0.0.0/0"]}]},
).expect(integ.ExpectedResult.object_like({"RouteTables": []}))
test.assertions.invoke_function(function_name=probe.function_name).expect(integ.ExpectedResult.object_like({
    "StatusCode": 200,
    "Payload": integ.Match.serialized_json({
        "round_trip": True,
        "encryption": "aws:kms",
        # The store's key, by its ARN or its ID (SSEKMSKeyId's form is not documented; key IDs are UUIDs).
        "encrypted_with": integ.Match.string_like_regexp(f"^(arn:[^:]+:kms:[^:]+:[0-9]{{12}}:key/)?{store.encryption_key.key_id}$"),
        "plain_http_get": "AccessDenied",
        "plain_http_put": "AccessDenied",
    }),
}))

app.synth()
