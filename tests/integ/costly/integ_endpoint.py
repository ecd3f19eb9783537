"""Integration test 4 (costly, opt-in: ``make integ INTEG_ARGS="--costly integ_endpoint"``): CanaryEndpoint, as
deployed, serving a model package and rolling a canary back.

No training run: the test ships two tiny models of its own, single-split XGBoost trees written in XGBoost's JSON
model format (``y = 0.5 ± 0.25`` for version 1, ``0.5 ± 0.125`` for version 2, on whether the first feature is
below 0.5), each packaged as ``model.tar.gz`` and copied to the test's bucket. The stack registers both as
versions 1 and 2 of a package group and serves them with the built-in XGBoost image:

1. **Serverless** (``serverless_memory_mb=1024``, the least memory: the cheapest endpoint) from version 1: an
   InvokeEndpoint with the CSV row ``0.9,0.1`` must answer ``0.75``.
2. **Instances** (two ml.t2.medium, the cheapest hosting type in stacks/prices.yaml, which the construct allows:
   it has no local storage, mlops_constructs/_instance_types.py; ``CANARY`` at 50 %, i.e. one
   of the two green instances, within the documented "canary size ... less than or equal to 50% of the new
   fleet's capacity", https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-blue-green-canary.html)
   from version 1, with one rollback alarm of the test's own (``rollback_alarms``). It answers ``0.75``; then it
   is updated to version 2; once the green fleet's canary is baking, the test forces its alarm into ALARM with
   CloudWatch ``SetAlarmState``, and the endpoint must return to ``InService`` on the original endpoint config
   and answer ``0.75`` again (version 2 would answer ``0.625``).

How version 2 is rolled out. In the platform a new version is a new ``model_package_arn``: CloudFormation then
replaces the construct's model and endpoint config (neither has a fixed name) and updates the endpoint, which
SageMaker runs with the endpoint's ``DeploymentConfig``. One deployment cannot update its own stack, so the
stack also holds what that update would create, a second model (version 2's package, the construct's execution
role, VPC config and network isolation) and a second endpoint config (the construct's config with that model),
and an assertion makes the call CloudFormation would make: ``UpdateEndpoint`` with that config and the
construct's own ``DeploymentConfig``, read from its ``CfnEndpoint`` (traffic routing, waits and the
``AutoRollbackConfiguration`` with ``rollback_alarm_names``).

Why a test alarm and not the construct's 5XX alarm: SageMaker rolls back "if any of your alarms trip during the
specified monitoring period" (https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html),
and SetAlarmState only sets a metric alarm's state "temporarily ... Metric alarms return to their actual state
quickly, often within seconds" (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_SetAlarmState.html):
the 5XX alarm, with no errors and missing data not breaching, would be OK again before SageMaker looked. The test's
alarm watches a metric nobody publishes, with missing data ignored ("The current alarm state is maintained",
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarms-and-missing-data):
forced into ALARM it stays there, as a failing business metric would.

The guardrails page also says "Ensure that your IAM execution role has permission to perform the
cloudwatch:DescribeAlarms action on the auto-rollback alarms you specify": CanaryEndpoint grants it on each rollback
alarm (this test's too). That SageMaker reads them with that role, and rolls back, is what this test shows.

Cost per run (eu-west-1 list prices as stacks/prices.yaml assumes them): ml.t2.medium at $0.0623 an hour, two
instances for about 40 minutes and two more (the green fleet) for about 15, about $0.12; the serverless endpoint
runs a few seconds at 1 GB (under $0.01); six interface endpoints in one zone for about an hour at $0.0101, about
$0.06; two KMS keys (volumes and capture, the alarm topic's), billed until their deletion is scheduled. About $0.20
in all and 45 minutes.
"""

from __future__ import annotations

import atexit
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/integ, for _support

from _models import ANSWERS, ROW, archive, tiny_model  # noqa: E402
from _support import TAG, integ_app, integ_config, integ_stack  # noqa: E402

import aws_cdk as cdk  # noqa: E402
from aws_cdk import aws_cloudwatch as cloudwatch  # noqa: E402
from aws_cdk import aws_kms as kms  # noqa: E402
from aws_cdk import aws_logs as logs  # noqa: E402
from aws_cdk import aws_s3 as s3  # noqa: E402
from aws_cdk import aws_s3_deployment as s3deploy  # noqa: E402
from aws_cdk import aws_sagemaker as sagemaker  # noqa: E402
from aws_cdk import integ_tests_alpha as integ  # noqa: E402

from mlops_constructs import CanaryEndpoint, IsolatedNetwork  # noqa: E402
from mlops_constructs.training.images import builtin_image_uri  # noqa: E402

app = integ_app()
config = integ_config()
stack = integ_stack(app, "endpoint", config)
group = "mlops-integ-endpoint"
INSTANCE = "ml.t2.medium"
models_dir = Path(tempfile.mkdtemp(prefix="integ-endpoint-models-"))  # the asset's source: copied into the assembly
atexit.register(shutil.rmtree, models_dir, ignore_errors=True)
for version, leaf in ((1, 0.25), (2, 0.125)):
    (models_dir / f"v{version}").mkdir()
    (models_dir / f"v{version}" / "model.tar.gz").write_bytes(archive(tiny_model(leaf)))

network = IsolatedNetwork(
    stack, "Network", availability_zones=stack.availability_zones, cidr="10.253.0.0/24",
    interface_endpoints=CanaryEndpoint.VPC_ENDPOINTS,  # what the model may call from the VPC (S3 is a gateway endpoint)
    flow_log_retention=logs.RetentionDays.ONE_DAY, removal_policy=cdk.RemovalPolicy.DESTROY,
)
# The test's own bucket: the model archives (models/v1/, models/v2/) and the instance endpoint's captured data.
bucket = s3.Bucket(
    stack, "Bucket", enforce_ssl=True, block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
    encryption=s3.BucketEncryption.S3_MANAGED, removal_policy=cdk.RemovalPolicy.DESTROY, auto_delete_objects=True,
)
models = s3deploy.BucketDeployment(stack, "Models", sources=[s3deploy.Source.asset(str(models_dir))], destination_bucket=bucket,
                                   destination_key_prefix="models/", retain_on_delete=False)
key = kms.Key(stack, "Key", description="Volumes and captured data of the endpoint integration test", enable_key_rotation=True,
              removal_policy=cdk.RemovalPolicy.DESTROY, pending_window=cdk.Duration.days(7))
package_group = sagemaker.CfnModelPackageGroup(stack, "Group", model_package_group_name=group)
package_group.apply_removal_policy(cdk.RemovalPolicy.DESTROY)


def register(version: int, after: cdk.CfnResource) -> sagemaker.CfnModelPackage:
    """Version ``version`` of the group, approved (what the platform serves), on the built-in XGBoost image."""
    package = sagemaker.CfnModelPackage(
        stack, f"Version{version}", model_package_group_name=group, model_approval_status="Approved",
        model_package_description=f"integration test version {version}",
        inference_specification=sagemaker.CfnModelPackage.InferenceSpecificationProperty(
            containers=[sagemaker.CfnModelPackage.ModelPackageContainerDefinitionProperty(
                image=builtin_image_uri("xgboost", "1.7-1", config.region),
                model_data_url=bucket.s3_url_for_object(f"models/v{version}/model.tar.gz"))],
            supported_content_types=["text/csv"], supported_response_mime_types=["text/csv"],
        ),
    )
    package.apply_removal_policy(cdk.RemovalPolicy.DESTROY)
    # A version in a group takes the group's tags and may not be given any: "If you supply ModelPackageGroupName ... you
    # cannot supply a tag argument" (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateModelPackage.html).
    cdk.Tags.of(package).remove(TAG)
    package.node.add_dependency(after)  # the group first, and versions in order: version numbers follow creation
    package.node.add_dependency(models)  # the archives are in the bucket before anything uses the package
    return package


first = register(1, package_group)
second = register(2, first)

serverless = CanaryEndpoint(
    stack, "Serverless", endpoint_name="mlops-integ-serverless", model_package_arn=first.attr_model_package_arn,
    vpc=network.vpc, encryption_key=key, capture_bucket=bucket, artifact_bucket=bucket, artifact_prefix="models/",
    serverless_memory_mb=1024, serverless_max_concurrency=1, removal_policy=cdk.RemovalPolicy.DESTROY,
)
# Never published, missing data ignored: SetAlarmState's ALARM stays until the stack is deleted.
forced = cloudwatch.Alarm(
    stack, "ForcedRollback", alarm_name="mlops-integ-endpoint-forced-rollback",
    alarm_description="Forced into ALARM by the endpoint integration test to roll its canary back",
    metric=cloudwatch.Metric(namespace="mlops/integ", metric_name="ForcedRollback", statistic="Maximum", period=cdk.Duration.minutes(1)),
    threshold=1, evaluation_periods=1, comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treat_missing_data=cloudwatch.TreatMissingData.IGNORE,
)
canary = CanaryEndpoint(
    stack, "Canary", endpoint_name="mlops-integ-canary", model_package_arn=first.attr_model_package_arn,
    vpc=network.vpc, encryption_key=key, capture_bucket=bucket, artifact_bucket=bucket, artifact_prefix="models/",
    instance_type=INSTANCE, instance_count=2, max_capacity=2, deployment="CANARY", traffic_step_percent=50,
    # long enough a canary bake for the assertions (polling every 15 s) to catch it; a short termination wait
    wait_interval=cdk.Duration.minutes(10), termination_wait=cdk.Duration.minutes(1), max_execution_timeout=cdk.Duration.hours(1),
    rollback_alarms=[forced], notification_topic=serverless.notification_topic, removal_policy=cdk.RemovalPolicy.DESTROY,
)

# What CloudFormation creates when model_package_arn changes to version 2: the construct's model and endpoint
# config, with version 2's package (see the module docstring).
next_model = sagemaker.CfnModel(
    stack, "NextModel", execution_role_arn=canary.role.role_arn,
    containers=[sagemaker.CfnModel.ContainerDefinitionProperty(model_package_name=second.attr_model_package_arn)],
    enable_network_isolation=canary.model.enable_network_isolation, vpc_config=canary.model.vpc_config,
)
next_model.node.add_dependency(canary.model)  # the same execution role and policy, ready once the first model is
next_config = sagemaker.CfnEndpointConfig(
    stack, "NextConfig", kms_key_id=canary.endpoint_config.kms_key_id, data_capture_config=canary.endpoint_config.data_capture_config,
    production_variants=[sagemaker.CfnEndpointConfig.ProductionVariantProperty(
        variant_name=canary.variant_name, model_name=next_model.attr_model_name,
        instance_type=INSTANCE, initial_instance_count=2, initial_variant_weight=1)],
)

deployment = canary.endpoint.deployment_config
blue_green = deployment.blue_green_update_policy
routing = blue_green.traffic_routing_configuration
deployment_config = {  # the construct's DeploymentConfig, spelled as UpdateEndpoint (and CloudFormation) spell it
    "BlueGreenUpdatePolicy": {
        "TrafficRoutingConfiguration": {
            "Type": routing.type, "CanarySize": {"Type": routing.canary_size.type, "Value": routing.canary_size.value},
            "WaitIntervalInSeconds": routing.wait_interval_in_seconds,
        },
        "TerminationWaitInSeconds": blue_green.termination_wait_in_seconds,
        "MaximumExecutionTimeoutInSeconds": blue_green.maximum_execution_timeout_in_seconds,
    },
    "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": name} for name in canary.rollback_alarm_names]},
}

test = integ.IntegTest(app, "Endpoint", test_cases=[stack], regions=[config.region], diff_assets=True)
calls = test.assertions


def answers(endpoint: CanaryEndpoint, version: int) -> integ.IApiCall:
    """``endpoint`` answers ROW with version ``version``'s prediction; retried for five minutes (a serverless
    endpoint's first request starts its container)."""
    call = calls.aws_api_call("SageMakerRuntime", "invokeEndpoint", {
        "EndpointName": endpoint.endpoint_name, "ContentType": "text/csv", "Accept": "text/csv", "Body": ROW,
    })
    call.expect(integ.ExpectedResult.object_like({"Body": integ.Match.string_like_regexp(rf"^{ANSWERS[version].replace('.', r'[.]')}\s*$")}))
    call.wait_for_assertions(interval=cdk.Duration.seconds(30), total_timeout=cdk.Duration.minutes(5))
    return call


def described(path: str, expected: str, timeout: cdk.Duration | None) -> integ.IApiCall:
    """DescribeEndpoint of the canary endpoint: the value at ``path`` (a flattened path) is ``expected``, polled
    until it is when ``timeout`` is given. Only that value goes back to CloudFormation (``assert_at_path``): the whole
    answer, with its variants, images and deployment configuration, comes close to the 4,096 bytes a custom
    resource's response may have (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html)."""
    call = calls.aws_api_call("SageMaker", "describeEndpoint", {"EndpointName": canary.endpoint_name})
    call.assert_at_path(path, integ.ExpectedResult.exact(expected))
    if timeout is not None:
        call.wait_for_assertions(interval=cdk.Duration.seconds(15), total_timeout=timeout)
    return call


update = calls.aws_api_call("SageMaker", "updateEndpoint", {
    "EndpointName": canary.endpoint_name, "EndpointConfigName": next_config.attr_endpoint_config_name, "DeploymentConfig": deployment_config,
})
# The caller of UpdateEndpoint is who the volume key must allow ("The KMS key policy must grant permission to the IAM
# role that you specify in your CreateEndpoint, UpdateEndpoint requests", KmsKeyId in
# https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateEndpointConfig.html); CloudFormation's
# deployment role has it, the assertions' function is given it here (the key's policy defers to IAM).
update.provider.add_to_role_policy({"Effect": "Allow", "Action": ["kms:CreateGrant", "kms:DescribeKey"], "Resource": [key.key_arn]})
# Version 2's canary has traffic and SageMaker is watching the alarms ("Baking"): the only deployment pending is this
# update's.
baking = described("PendingDeploymentSummary.ProductionVariants.0.VariantStatus.0.Status", "Baking", cdk.Duration.minutes(40))
force = calls.aws_api_call("CloudWatch", "setAlarmState", {
    "AlarmName": forced.alarm_name, "StateValue": "ALARM", "StateReason": "endpoint integration test: roll the canary back",
})
# Rolled back: in service again (Updating, then RollingBack, then InService), on the endpoint config it had before the
# update (a completed update would have left it on version 2's).
in_service = described("EndpointStatus", "InService", cdk.Duration.minutes(30))
rolled_back = described("EndpointConfigName", canary.endpoint_config.attr_endpoint_config_name, None)
(answers(serverless, 1).next(answers(canary, 1))
 .next(update).next(baking).next(force).next(in_service).next(rolled_back)
 .next(answers(canary, 1)))

app.synth()
