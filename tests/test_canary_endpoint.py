"""CanaryEndpoint: model from a package in another account, blue/green deployment with alarm rollback,
data capture, autoscaling, dashboard; stable identity across model versions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_s3 as s3

from mlops_constructs import ArtifactStore, FixedZonesStack, IsolatedNetwork, PropsError, add_compliance_checks
from mlops_constructs.compliance import open_findings, read_report
from mlops_constructs.serving import CanaryEndpoint
from tests.conftest import CDK_CONTEXT, resources

PACKAGE = "arn:aws:sagemaker:eu-west-1:222222222222:model-package/acme-churn/7"
ZONES = ["eu-west-1a", "eu-west-1b"]


def build(outdir: Path | None = None, **kwargs: Any) -> tuple[cdk.App, cdk.Stack, CanaryEndpoint]:
    app = cdk.App(context=CDK_CONTEXT, **({"outdir": str(outdir)} if outdir else {}))
    stack = FixedZonesStack(app, "Serve", availability_zones=ZONES, env=cdk.Environment(account="333333333333", region="eu-west-1"))
    network = IsolatedNetwork(stack, "Net", availability_zones=ZONES, cidr="10.20.0.0/16")
    store = ArtifactStore(stack, "Store", name_prefix="acme-staging")
    props: dict[str, Any] = {
        "endpoint_name": "acme-staging-churn",
        "model_package_arn": PACKAGE,
        "vpc": network.vpc,
        "encryption_key": store.encryption_key,
        "capture_bucket": store.artifact_bucket,
        "artifact_bucket": s3.Bucket.from_bucket_name(stack, "DevArtifacts", "acme-dev-artifacts-222222222222-eu-west-1"),
        "artifact_prefix": "churn/",
        "artifact_key_alias": "alias/acme-dev/artifacts",
        "instance_count": 2,
    }
    props.update(kwargs)
    return app, stack, CanaryEndpoint(stack, "Churn", **props)


def template(**kwargs: Any) -> dict[str, Any]:
    app, stack, _ = build(**kwargs)
    return app.synth().get_stack_by_name(stack.stack_name).template


def one(t: dict[str, Any], type_: str) -> tuple[str, dict[str, Any]]:
    ((logical_id, resource),) = resources(t, type_).items()
    return logical_id, resource["Properties"]


@pytest.fixture(scope="module")
def canary() -> dict[str, Any]:
    return template()


def test_passes_every_compliance_pack(tmp_path: Path) -> None:
    app, _, _ = build(outdir=tmp_path, image_repository_arn="arn:aws:ecr:eu-west-1:222222222222:repository/acme-dev/models",
                      scale_down_at=appscaling.Schedule.cron(hour="20", minute="0"), scale_up_at=appscaling.Schedule.cron(hour="6", minute="0"))
    add_compliance_checks(app)
    app.synth()
    assert open_findings(read_report(tmp_path)) == []


def test_model_serves_the_package_isolated_in_the_vpc(canary: dict[str, Any]) -> None:
    _, model = one(canary, "AWS::SageMaker::Model")
    assert model["Containers"] == [{"ModelPackageName": PACKAGE}]
    assert model["EnableNetworkIsolation"] is True
    assert len(model["VpcConfig"]["Subnets"]) == 2 and len(model["VpcConfig"]["SecurityGroupIds"]) == 1


@pytest.mark.parametrize(
    ("deployment", "routing"),
    [
        ("CANARY", {"Type": "CANARY", "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10}, "WaitIntervalInSeconds": 300}),
        ("LINEAR", {"Type": "LINEAR", "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 10}, "WaitIntervalInSeconds": 300}),
        ("ALL_AT_ONCE", {"Type": "ALL_AT_ONCE"}),
    ],
)
def test_deployment_policy_shifts_traffic_and_rolls_back_on_the_alarms_it_creates(deployment: str, routing: dict[str, Any]) -> None:
    extra = cloudwatch.Alarm.from_alarm_arn(cdk.Stack(), "Mine", "arn:aws:cloudwatch:eu-west-1:333333333333:alarm:acme-business-kpi")
    t = template(deployment=deployment, rollback_alarms=[extra])
    _, endpoint = one(t, "AWS::SageMaker::Endpoint")
    policy = endpoint["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration"] == routing
    assert (policy["TerminationWaitInSeconds"], policy["MaximumExecutionTimeoutInSeconds"]) == (300, 3600)
    alarm_ids = set(resources(t, "AWS::CloudWatch::Alarm"))
    rollback = endpoint["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
    assert [a["AlarmName"] for a in rollback[:2]] == [{"Ref": i} for i in sorted(alarm_ids, key=lambda i: "Latency" in i)]
    assert rollback[2] == {"AlarmName": "acme-business-kpi"}


def test_rollback_alarms_watch_5xx_and_p99_latency_of_the_variant(canary: dict[str, Any]) -> None:
    alarms = {p["AlarmName"]: p for p in (r["Properties"] for r in resources(canary, "AWS::CloudWatch::Alarm").values())}
    errors, latency = alarms["acme-staging-churn-5xx"], alarms["acme-staging-churn-p99-latency"]
    dims = [{"Name": "EndpointName", "Value": "acme-staging-churn"}, {"Name": "VariantName", "Value": "AllTraffic"}]
    assert (errors["MetricName"], errors["Statistic"], errors["Threshold"], errors["Period"], errors["Dimensions"]) == ("Invocation5XXErrors", "Sum", 1, 60, dims)
    assert (latency["MetricName"], latency["ExtendedStatistic"], latency["Threshold"]) == ("ModelLatency", "p99", 1_000_000)
    assert (latency["EvaluationPeriods"], latency["DatapointsToAlarm"]) == (5, 3)
    topic_id = next(iter(resources(canary, "AWS::SNS::Topic")))
    for alarm in (errors, latency):
        assert alarm["AlarmActions"] == [{"Ref": topic_id}] and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_endpoint_config_encrypts_volumes_and_captures_to_kms(canary: dict[str, Any]) -> None:
    _, config = one(canary, "AWS::SageMaker::EndpointConfig")
    assert "KmsKeyId" in config
    (variant,) = config["ProductionVariants"]
    assert (variant["VariantName"], variant["InstanceType"], variant["InitialInstanceCount"]) == ("AllTraffic", "ml.m5.large", 2)
    capture = config["DataCaptureConfig"]
    assert capture["EnableCapture"] is True and capture["InitialSamplingPercentage"] == 20 and "KmsKeyId" in capture
    assert capture["CaptureOptions"] == [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]
    assert json.dumps(capture["DestinationS3Uri"]).endswith('/data-capture/acme-staging-churn"]]}')
    off = one(template(data_capture_percent=0), "AWS::SageMaker::EndpointConfig")[1]["DataCaptureConfig"]
    assert off["EnableCapture"] is False


def test_autoscaling_tracks_invocations_per_instance_with_off_hours(canary: dict[str, Any]) -> None:
    _, target = one(canary, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert (target["ResourceId"], target["ScalableDimension"], target["MinCapacity"], target["MaxCapacity"]) == (
        "endpoint/acme-staging-churn/variant/AllTraffic", "sagemaker:variant:DesiredInstanceCount", 2, 4)
    assert "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint" in json.dumps(target["RoleARN"])
    assert "ScheduledActions" not in target
    _, policy = one(canary, "AWS::ApplicationAutoScaling::ScalingPolicy")
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["PredefinedMetricSpecification"] == {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}
    assert (tracking["TargetValue"], tracking["ScaleInCooldown"], tracking["ScaleOutCooldown"]) == (100, 300, 60)
    scheduled = template(scale_down_at=appscaling.Schedule.cron(hour="20", minute="0"), scale_up_at=appscaling.Schedule.cron(hour="6", minute="0"))
    actions = one(scheduled, "AWS::ApplicationAutoScaling::ScalableTarget")[1]["ScheduledActions"]
    assert [(a["ScheduledActionName"], a["ScalableTargetAction"]) for a in actions] == [
        ("OffHours", {"MaxCapacity": 1, "MinCapacity": 1}), ("WorkingHours", {"MaxCapacity": 4, "MinCapacity": 2})]


def test_execution_role_reads_exactly_the_package_its_artifacts_and_writes_capture(canary: dict[str, Any]) -> None:
    assert resources(canary, "AWS::IAM::Policy") == {}
    (policy,) = [p["Properties"] for p in resources(canary, "AWS::IAM::ManagedPolicy").values() if "ExecutionPolicy" in json.dumps(p) or "Endpoint acme" in p["Properties"].get("Description", "")]
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert statements["DescribePackage"]["Resource"] == PACKAGE
    assert statements["ReadArtifacts"] == {"Sid": "ReadArtifacts", "Effect": "Allow", "Action": "s3:GetObject",
                                           "Resource": "arn:aws:s3:::acme-dev-artifacts-222222222222-eu-west-1/churn/*"}
    assert statements["DecryptArtifacts"]["Resource"] == "arn:aws:kms:eu-west-1:222222222222:key/*"
    assert statements["DecryptArtifacts"]["Condition"] == {
        "ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/acme-dev/artifacts"},
        "StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"},
    }
    assert statements["WriteCapture"]["Action"] == "s3:PutObject"
    assert "PullImage" not in statements  # no repository named: SageMaker's own images only


def test_dashboard_shows_the_endpoint(canary: dict[str, Any]) -> None:
    _, dashboard = one(canary, "AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["DashboardBody"])
    for metric in ("Invocations", "Invocation5XXErrors", "ModelLatency", "CPUUtilization", "MemoryUtilization", "InvocationsPerInstance"):
        assert metric in body


def test_a_new_package_updates_the_same_endpoint_through_a_new_config() -> None:
    first, second = template(), template(model_package_arn=PACKAGE.replace("/7", "/8"))
    (endpoint_1, props_1), (endpoint_2, props_2) = one(first, "AWS::SageMaker::Endpoint"), one(second, "AWS::SageMaker::Endpoint")
    assert endpoint_1 == endpoint_2 and props_1 == props_2  # same resource, same name, same deployment policy
    (model_1, m1), (model_2, m2) = one(first, "AWS::SageMaker::Model"), one(second, "AWS::SageMaker::Model")
    assert model_1 == model_2 and m1["Containers"] != m2["Containers"]
    # No fixed names: CloudFormation replaces model and config, and the endpoint moves to the new config
    # through its deployment policy.
    assert "ModelName" not in m1
    (_, c1), (_, c2) = one(first, "AWS::SageMaker::EndpointConfig"), one(second, "AWS::SageMaker::EndpointConfig")
    assert "EndpointConfigName" not in c1 and c1 == c2  # the config changes through its model's new name at deploy time
    assert props_1["EndpointConfigName"] == {"Fn::GetAtt": [one(first, "AWS::SageMaker::EndpointConfig")[0], "EndpointConfigName"]}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model_package_arn": "arn:aws:sagemaker:eu-west-1:222222222222:model-package-group/acme-churn"}, r"CanaryEndpoint: model_package_arn: must be a versioned model package ARN"),
        ({"deployment": "BLUE_GREEN"}, r"CanaryEndpoint: deployment: must be one of CANARY, LINEAR, ALL_AT_ONCE \(got 'BLUE_GREEN'\)"),
        ({"traffic_step_percent": 80}, r"CanaryEndpoint: traffic_step_percent: must be from 1 to 50 \(got 80\)"),
        ({"data_capture_percent": 101}, r"CanaryEndpoint: data_capture_percent: must be from 0 to 100 \(got 101\)"),
        ({"min_capacity": 5, "max_capacity": 3}, r"CanaryEndpoint: min_capacity: must be from 1 to max_capacity \(3\) \(got 5\)"),
        ({"scale_down_at": appscaling.Schedule.cron(hour="20")}, r"CanaryEndpoint: scale_up_at: must be given together with scale_down_at"),
        ({"artifact_key_alias": "acme-dev/artifacts"}, r"CanaryEndpoint: artifact_key_alias: must be a KMS alias name, alias/<name>"),
    ],
)
def test_bad_props_are_rejected_with_field_value_and_rule(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(PropsError, match=message):
        build(**kwargs)


def test_capture_prefix_is_what_a_drift_monitor_reads_and_none_without_capture() -> None:
    assert build()[2].capture_prefix == "data-capture/acme-staging-churn/"
    assert build(capture_prefix="capture/x/")[2].capture_prefix == "capture/x/"
    assert build(data_capture_percent=0)[2].capture_prefix is None
    assert build(serverless_memory_mb=2048)[2].capture_prefix is None


def test_serverless_has_no_instances_scaling_or_deployment_policy() -> None:
    t = template(serverless_memory_mb=2048, serverless_max_concurrency=10)
    _, config = one(t, "AWS::SageMaker::EndpointConfig")
    assert config["ProductionVariants"][0]["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 10}
    assert "KmsKeyId" not in config and "DataCaptureConfig" not in config
    assert "DeploymentConfig" not in one(t, "AWS::SageMaker::Endpoint")[1]
    assert resources(t, "AWS::ApplicationAutoScaling::ScalableTarget") == {}
    # serverless inference supports neither a VPC nor network isolation
    _, model = one(t, "AWS::SageMaker::Model")
    assert "VpcConfig" not in model and "EnableNetworkIsolation" not in model
    _, instances = one(template(), "AWS::SageMaker::Model")
    assert instances["EnableNetworkIsolation"] is True and instances["VpcConfig"]["Subnets"]
