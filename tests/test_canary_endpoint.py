"""CanaryEndpoint: model from a package in another account, blue/green deployment with alarm rollback,
data capture, autoscaling, dashboard; stable identity across model versions; and its resource-model
surface: grant_invoke, the metric methods, imports, IGrantable/IConnectable and the extension points."""

from __future__ import annotations

import inspect
import json
import re
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match, Template

from mlops_constructs import ArtifactStore, FixedZonesStack, IsolatedNetwork, PropsError, add_compliance_checks
from mlops_constructs.compliance import open_findings, read_report
from mlops_constructs.serving import CanaryEndpoint, EndpointReference
from tests.conftest import CDK_CONTEXT, resources

PACKAGE = "arn:aws:sagemaker:eu-west-1:222222222222:model-package/acme-churn/7"
REPOSITORY = "arn:aws:ecr:eu-west-1:222222222222:repository/acme-dev/models"
ZONES = ["eu-west-1a", "eu-west-1b"]
DIMENSIONS = {"EndpointName": "acme-staging-churn", "VariantName": "AllTraffic"}
CFN_DIMENSIONS = [{"Name": "EndpointName", "Value": "acme-staging-churn"}, {"Name": "VariantName", "Value": "AllTraffic"}]


def build(outdir: Path | None = None, cls: type[CanaryEndpoint] = CanaryEndpoint, **kwargs: Any) -> tuple[cdk.App, cdk.Stack, CanaryEndpoint]:
    """The endpoint in a stack of its own. A prop given as a function is called with the stack, its
    network and its store (``lambda ctx: ctx.store.repository``)."""
    app = cdk.App(context=CDK_CONTEXT, **({"outdir": str(outdir)} if outdir else {}))
    stack = FixedZonesStack(app, "Serve", availability_zones=ZONES, env=cdk.Environment(account="333333333333", region="eu-west-1"))
    network = IsolatedNetwork(stack, "Net", availability_zones=ZONES, cidr="10.20.0.0/16")
    store = ArtifactStore(stack, "Store", name_prefix="acme-staging")
    context = SimpleNamespace(stack=stack, network=network, store=store)
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
    props.update({k: v(context) if inspect.isfunction(v) else v for k, v in kwargs.items()})
    return app, stack, cls(stack, "Churn", **props)


def template(**kwargs: Any) -> dict[str, Any]:
    app, stack, _ = build(**kwargs)
    return app.synth().get_stack_by_name(stack.stack_name).template


def one(t: dict[str, Any], type_: str) -> tuple[str, dict[str, Any]]:
    ((logical_id, resource),) = resources(t, type_).items()
    return logical_id, resource["Properties"]


def logical_id(construct: Any) -> str:
    node = construct.node.default_child if isinstance(construct.node.default_child, cdk.CfnElement) else construct
    return cdk.Stack.of(construct).get_logical_id(node)


def execution_policy(t: dict[str, Any], endpoint: CanaryEndpoint) -> dict[str, Any]:
    """The managed policy attached to the endpoint's execution role, found by the role it names."""
    role = {"Ref": logical_id(endpoint.role)}
    (policy,) = [r["Properties"] for r in resources(t, "AWS::IAM::ManagedPolicy").values() if r["Properties"].get("Roles") == [role]]
    return policy


def alarm_ids_by_name(t: dict[str, Any]) -> dict[Any, str]:
    return {r["Properties"].get("AlarmName"): i for i, r in resources(t, "AWS::CloudWatch::Alarm").items()}


def dashboard_metrics(t: dict[str, Any]) -> list[list[Any]]:
    """Every metric line of the dashboard's graphs, parsed from its body (references as ``<ref>``)."""
    _, dashboard = one(t, "AWS::CloudWatch::Dashboard")
    body = dashboard["DashboardBody"]
    text = body if isinstance(body, str) else "".join(p if isinstance(p, str) else "<ref>" for p in body["Fn::Join"][1])
    return [m for w in json.loads(text)["widgets"] if w["type"] == "metric" for m in w["properties"]["metrics"]]


@pytest.fixture(scope="module")
def canary() -> dict[str, Any]:
    return template()


@pytest.fixture(scope="module")
def endpoint() -> CanaryEndpoint:
    """An endpoint to read attributes and metrics of (not to add to)."""
    return build()[2]


def synth_clean(app: cdk.App, stack: cdk.Stack, outdir: Path) -> dict[str, Any]:
    """``app`` synthesized under every compliance pack; no open finding; ``stack``'s template."""
    add_compliance_checks(app)
    assembly = app.synth()
    assert open_findings(read_report(outdir)) == []
    return assembly.get_stack_by_name(stack.stack_name).template


# -- what it creates --------------------------------------------------------------------------------


def test_passes_every_compliance_pack(tmp_path: Path) -> None:
    app, stack, _ = build(outdir=tmp_path, image_repository=lambda ctx: ctx.store.repository,
                          scale_down_at=appscaling.Schedule.cron(hour="20", minute="0"), scale_up_at=appscaling.Schedule.cron(hour="6", minute="0"))
    synth_clean(app, stack, tmp_path)


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
        # SageMaker's API requires the wait interval whatever the type (CloudFormation's schema does not)
        ("ALL_AT_ONCE", {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 300}),
    ],
)
def test_deployment_policy_shifts_traffic_and_rolls_back_on_the_alarms_it_creates(deployment: str, routing: dict[str, Any]) -> None:
    extra = cloudwatch.Alarm.from_alarm_arn(cdk.Stack(), "Mine", "arn:aws:cloudwatch:eu-west-1:333333333333:alarm:acme-business-kpi")
    t = template(deployment=deployment, rollback_alarms=[extra])
    _, endpoint = one(t, "AWS::SageMaker::Endpoint")
    policy = endpoint["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration"] == routing
    assert (policy["TerminationWaitInSeconds"], policy["MaximumExecutionTimeoutInSeconds"]) == (300, 3600)
    ids = alarm_ids_by_name(t)
    assert endpoint["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"] == [
        {"AlarmName": {"Ref": ids["acme-staging-churn-5xx"]}},
        {"AlarmName": {"Ref": ids["acme-staging-churn-p99-latency"]}},
        {"AlarmName": "acme-business-kpi"},
    ]


def test_rollback_alarms_watch_5xx_and_p99_latency_of_the_variant(canary: dict[str, Any]) -> None:
    t = Template.from_json(canary)
    (topic_id,) = resources(canary, "AWS::SNS::Topic")
    common = {"Namespace": "AWS/SageMaker", "Period": 60, "Dimensions": CFN_DIMENSIONS, "ComparisonOperator": "GreaterThanOrEqualToThreshold",
              "TreatMissingData": "notBreaching", "AlarmActions": [{"Ref": topic_id}], "OKActions": [{"Ref": topic_id}]}
    t.has_resource_properties("AWS::CloudWatch::Alarm", {
        **common, "AlarmName": "acme-staging-churn-5xx", "MetricName": "Invocation5XXErrors", "Statistic": "Sum",
        "Threshold": 1, "EvaluationPeriods": 1, "DatapointsToAlarm": 1,
    })
    t.has_resource_properties("AWS::CloudWatch::Alarm", {
        **common, "AlarmName": "acme-staging-churn-p99-latency", "MetricName": "ModelLatency", "ExtendedStatistic": "p99",
        "Threshold": 1_000_000, "EvaluationPeriods": 5, "DatapointsToAlarm": 3,  # ModelLatency is in microseconds
    })
    t.resource_count_is("AWS::CloudWatch::Alarm", 2)


def test_endpoint_config_encrypts_volumes_and_captures_to_kms(canary: dict[str, Any]) -> None:
    _, config = one(canary, "AWS::SageMaker::EndpointConfig")
    (key_id,) = [i for i, r in resources(canary, "AWS::KMS::Key").items() if r["Properties"]["Description"].startswith("Encrypts the data")]
    (bucket_id,) = [i for i, r in resources(canary, "AWS::S3::Bucket").items() if r["Properties"].get("BucketName") == "acme-staging-artifacts-333333333333-eu-west-1"]
    key = {"Fn::GetAtt": [key_id, "Arn"]}
    assert config["KmsKeyId"] == key
    (variant,) = config["ProductionVariants"]
    assert (variant["VariantName"], variant["InstanceType"], variant["InitialInstanceCount"]) == ("AllTraffic", "ml.m5.large", 2)
    assert config["DataCaptureConfig"] == {
        "EnableCapture": True, "InitialSamplingPercentage": 20, "KmsKeyId": key,
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "DestinationS3Uri": {"Fn::Join": ["", ["s3://", {"Ref": bucket_id}, "/data-capture/acme-staging-churn"]]},
    }
    off = one(template(data_capture_percent=0), "AWS::SageMaker::EndpointConfig")[1]["DataCaptureConfig"]
    assert off["EnableCapture"] is False


def test_autoscaling_tracks_invocations_per_instance_with_off_hours(canary: dict[str, Any]) -> None:
    _, target = one(canary, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert target == {
        "ResourceId": "endpoint/acme-staging-churn/variant/AllTraffic", "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
        "ServiceNamespace": "sagemaker", "MinCapacity": 2, "MaxCapacity": 4,
        "RoleARN": "arn:aws:iam::333333333333:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
    }
    _, policy = one(canary, "AWS::ApplicationAutoScaling::ScalingPolicy")
    assert policy["PolicyName"] == "acme-staging-churn-invocations-per-instance"
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["PredefinedMetricSpecification"] == {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}
    assert (tracking["TargetValue"], tracking["ScaleInCooldown"], tracking["ScaleOutCooldown"]) == (100, 300, 60)
    scheduled = template(scale_down_at=appscaling.Schedule.cron(hour="20", minute="0"), scale_up_at=appscaling.Schedule.cron(hour="6", minute="0"))
    actions = one(scheduled, "AWS::ApplicationAutoScaling::ScalableTarget")[1]["ScheduledActions"]
    assert [(a["ScheduledActionName"], a["ScalableTargetAction"]) for a in actions] == [
        ("OffHours", {"MaxCapacity": 1, "MinCapacity": 1}), ("WorkingHours", {"MaxCapacity": 4, "MinCapacity": 2})]


def test_execution_role_reads_exactly_the_package_its_artifacts_and_writes_capture() -> None:
    app, stack, endpoint = build()
    t = Template.from_stack(stack).to_json()
    assert resources(t, "AWS::IAM::Policy") == {}
    statements = {s["Sid"]: s for s in execution_policy(t, endpoint)["PolicyDocument"]["Statement"]}
    assert statements["DescribePackage"]["Resource"] == PACKAGE
    assert statements["ReadArtifacts"] == {"Sid": "ReadArtifacts", "Effect": "Allow", "Action": "s3:GetObject",
                                           "Resource": "arn:aws:s3:::acme-dev-artifacts-222222222222-eu-west-1/churn/*"}
    assert statements["DecryptArtifacts"]["Resource"] == "arn:aws:kms:eu-west-1:222222222222:key/*"
    assert statements["DecryptArtifacts"]["Condition"] == {
        "ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/acme-dev/artifacts"},
        "StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"},
    }
    assert statements["WriteCapture"]["Action"] == "s3:PutObject"
    assert "PullImage" not in statements and "RegistryLogin" not in statements  # no repository named: SageMaker's own images only


def test_dashboard_graphs_exactly_the_metric_methods(canary: dict[str, Any]) -> None:
    dims = ["EndpointName", "acme-staging-churn", "VariantName", "AllTraffic"]
    assert dashboard_metrics(canary) == [
        ["AWS/SageMaker", "Invocations", *dims, {"period": 60, "stat": "Sum"}],
        ["AWS/SageMaker", "Invocation4XXErrors", *dims, {"period": 60, "stat": "Sum"}],
        ["AWS/SageMaker", "Invocation5XXErrors", *dims, {"period": 60, "stat": "Sum"}],
        ["AWS/SageMaker", "ModelLatency", *dims, {"period": 60, "stat": "p50"}],
        ["AWS/SageMaker", "ModelLatency", *dims, {"period": 60, "stat": "p99"}],
        ["/aws/sagemaker/Endpoints", "CPUUtilization", *dims, {"period": 60}],  # Average, CloudWatch's default
        ["/aws/sagemaker/Endpoints", "MemoryUtilization", *dims, {"period": 60}],
        ["AWS/SageMaker", "InvocationsPerInstance", *dims, {"period": 60, "stat": "Sum"}],
    ]


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


# -- grant_invoke -----------------------------------------------------------------------------------


def test_grant_invoke_allows_the_two_invoke_actions_on_this_endpoint_only() -> None:
    app, stack, endpoint = build()
    client = iam.Role(stack, "Client", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    assert endpoint.grant_invoke(client).success
    Template.from_stack(stack).has_resource_properties("AWS::IAM::Policy", {
        "Roles": [{"Ref": logical_id(client)}],
        "PolicyDocument": {"Statement": [{
            "Effect": "Allow",
            "Action": ["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream"],
            "Resource": {"Ref": logical_id(endpoint.endpoint)},
        }]},
    })


def test_grant_invoke_takes_a_grantable_only(endpoint: CanaryEndpoint) -> None:
    with pytest.raises(PropsError, match=re.escape("CanaryEndpoint: grantee: must be an iam.IGrantable (got 'arn:aws:iam::333333333333:role/client')")):
        endpoint.grant_invoke("arn:aws:iam::333333333333:role/client")  # type: ignore[arg-type]


# -- metrics ----------------------------------------------------------------------------------------

INVOCATION, INSTANCE = "AWS/SageMaker", "/aws/sagemaker/Endpoints"


@pytest.mark.parametrize(
    ("method", "namespace", "name", "statistic"),
    [
        ("metric_invocations", INVOCATION, "Invocations", "Sum"),
        ("metric_invocations_per_instance", INVOCATION, "InvocationsPerInstance", "Sum"),
        ("metric_invocation_4xx_errors", INVOCATION, "Invocation4XXErrors", "Sum"),
        ("metric_invocation_5xx_errors", INVOCATION, "Invocation5XXErrors", "Sum"),
        ("metric_model_latency", INVOCATION, "ModelLatency", "p99"),
        ("metric_cpu_utilization", INSTANCE, "CPUUtilization", "Average"),
        ("metric_memory_utilization", INSTANCE, "MemoryUtilization", "Average"),
    ],
)
def test_each_metric_has_its_documented_name_statistic_and_period(endpoint: CanaryEndpoint, method: str, namespace: str, name: str,
                                                                  statistic: str) -> None:
    metric = getattr(endpoint, method)()
    assert (metric.namespace, metric.metric_name, metric.statistic, metric.period.to_seconds()) == (namespace, name, statistic, 60)
    assert metric.dimensions == DIMENSIONS


def test_metric_props_replace_the_defaults_like_aws_cdk_lib(endpoint: CanaryEndpoint) -> None:
    latency = endpoint.metric_model_latency(period=cdk.Duration.minutes(5), statistic="p90", label="p90 latency",
                                            unit=cloudwatch.Unit.MICROSECONDS, color="#d62728")
    assert (latency.metric_name, latency.statistic, latency.period.to_minutes(), latency.label, latency.unit, latency.color) == (
        "ModelLatency", "p90", 5, "p90 latency", cloudwatch.Unit.MICROSECONDS, "#d62728")
    overhead = endpoint.metric("OverheadLatency")
    assert (overhead.namespace, overhead.metric_name, overhead.statistic, overhead.period.to_seconds(), overhead.dimensions) == (
        INVOCATION, "OverheadLatency", "Average", 60, DIMENSIONS)
    disk = endpoint.metric("DiskUtilization", namespace=INSTANCE, statistic="Maximum")
    assert (disk.namespace, disk.statistic) == (INSTANCE, "Maximum")


@pytest.mark.parametrize(("call", "message"), [
    (lambda e: e.metric_invocations(perid=cdk.Duration.minutes(5)), r"CanaryEndpoint: perid: is not a prop of cloudwatch\.Metric: use one of account, color, "),
    (lambda e: e.metric_invocations(namespace="AWS/Lambda"), r"CanaryEndpoint: namespace: is not a prop of cloudwatch\.Metric"),
    (lambda e: e.metric(42), r"CanaryEndpoint: metric_name: must be a string \(got 42\)"),
])
def test_a_wrong_metric_prop_is_a_props_error(endpoint: CanaryEndpoint, call: Any, message: str) -> None:
    with pytest.raises(PropsError, match=message):
        call(endpoint)


class FiveMinuteEndpoint(CanaryEndpoint):
    """Every metric over five minutes: what the alarms and the dashboard read, if they read the methods."""

    def metric(self, metric_name: str, *, namespace: str = INVOCATION, **props: Any) -> cloudwatch.Metric:
        return super().metric(metric_name, namespace=namespace, **{"period": cdk.Duration.minutes(5), **props})


def test_the_alarms_and_the_dashboard_read_the_metric_methods() -> None:
    t = template(cls=FiveMinuteEndpoint)
    assert [r["Properties"]["Period"] for r in resources(t, "AWS::CloudWatch::Alarm").values()] == [300, 300]
    options = [m[-1] if isinstance(m[-1], dict) else {} for m in dashboard_metrics(t)]
    assert {o.get("period", 300) for o in options} == {300}  # a dashboard leaves out its default period, 300


# -- imports ----------------------------------------------------------------------------------------


def test_an_endpoint_of_the_stacks_account_is_imported_by_name() -> None:
    app, stack, endpoint = build()
    fraud = CanaryEndpoint.from_endpoint_name(stack, "Fraud", "acme-staging-fraud")
    assert isinstance(fraud, EndpointReference) and fraud.endpoint_name == "acme-staging-fraud"
    assert stack.resolve(fraud.endpoint_arn) == "arn:aws:sagemaker:eu-west-1:333333333333:endpoint/acme-staging-fraud"
    latency = fraud.metric_model_latency()
    assert (latency.metric_name, latency.statistic, latency.dimensions, latency.account) == (
        "ModelLatency", "p99", {"EndpointName": "acme-staging-fraud", "VariantName": "AllTraffic"}, None)
    fraud.grant_invoke(endpoint)  # one endpoint's model may call another
    statements = execution_policy(Template.from_stack(stack).to_json(), endpoint)["PolicyDocument"]["Statement"]
    assert statements[-1] == {"Effect": "Allow", "Action": ["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream"],
                              "Resource": "arn:aws:sagemaker:eu-west-1:333333333333:endpoint/acme-staging-fraud"}


def test_an_endpoint_of_another_account_and_region_is_imported_with_its_metrics_there() -> None:
    stack = cdk.Stack(cdk.App(), "Client", env=cdk.Environment(account="333333333333", region="eu-west-1"))
    prod = CanaryEndpoint.from_endpoint_attributes(stack, "Prod", endpoint_name="acme-prod-churn", account="444444444444",
                                                   region="eu-central-1", variant_name="Blue")
    assert stack.resolve(prod.endpoint_arn) == {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":sagemaker:eu-central-1:444444444444:endpoint/acme-prod-churn"]]}
    errors = prod.metric_invocation_5xx_errors()
    assert (errors.account, errors.region, errors.dimensions) == ("444444444444", "eu-central-1", {"EndpointName": "acme-prod-churn", "VariantName": "Blue"})
    assert "Resources" not in Template.from_stack(stack).to_json()  # an import creates nothing


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"endpoint_name": "acme_prod"}, r"EndpointReference: endpoint_name: must be 1-63 letters, digits and hyphens \(got 'acme_prod'\)"),
    ({"endpoint_name": "acme-prod", "account": "4444"}, r"EndpointReference: account: must be an AWS account id, 12 digits \(got '4444'\)"),
    ({"endpoint_name": "acme-prod", "region": "Frankfurt"}, r"EndpointReference: region: must be an AWS region name like eu-west-1 \(got 'Frankfurt'\)"),
])
def test_a_bad_import_is_a_props_error(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(PropsError, match=message):
        CanaryEndpoint.from_endpoint_attributes(cdk.Stack(), "Imported", **kwargs)


# -- IGrantable, IConnectable -----------------------------------------------------------------------


def test_grants_to_the_endpoint_land_in_its_execution_policy_as_its_role() -> None:
    app, stack, endpoint = build()
    s3.Bucket.from_bucket_name(stack, "Reference", "acme-reference-data").grant_read(endpoint, "lookup/*")
    t = Template.from_stack(stack).to_json()
    assert resources(t, "AWS::IAM::Policy") == {}  # no inline policy, which the NIST, HIPAA and PCI packs refuse
    assert execution_policy(t, endpoint)["PolicyDocument"]["Statement"][-1] == {
        "Effect": "Allow", "Action": ["s3:GetBucket*", "s3:GetObject*", "s3:List*"],
        "Resource": ["arn:aws:s3:::acme-reference-data", "arn:aws:s3:::acme-reference-data/lookup/*"],
    }
    # the model waits for the policy the grant is in
    assert logical_id(endpoint.policy) in resources(t, "AWS::SageMaker::Model")[logical_id(endpoint.model)]["DependsOn"]
    # in a resource policy, the principal is the execution role
    assert stack.resolve(endpoint.grant_principal.policy_fragment.principal_json) == {"AWS": [{"Fn::GetAtt": [logical_id(endpoint.role), "Arn"]}]}


def test_connections_are_the_models_security_group() -> None:
    app, stack, endpoint = build()
    vpc = stack.node.find_child("Net").vpc
    features = ec2.SecurityGroup(stack, "FeatureStore", vpc=vpc, allow_all_outbound=False)
    endpoint.connections.allow_to(features, ec2.Port.tcp(8443), "to the feature service")
    assert [g.node.path for g in endpoint.connections.security_groups] == [endpoint.security_group.node.path]
    Template.from_stack(stack).has_resource_properties("AWS::EC2::SecurityGroupEgress", {
        "GroupId": {"Fn::GetAtt": [logical_id(endpoint.security_group), "GroupId"]},
        "DestinationSecurityGroupId": {"Fn::GetAtt": [logical_id(features), "GroupId"]},
        "FromPort": 8443, "ToPort": 8443, "IpProtocol": "tcp",
    })


def test_serverless_connections_are_empty_as_the_model_is_in_no_vpc() -> None:
    app, stack, endpoint = build(serverless_memory_mb=2048)
    features = ec2.SecurityGroup(stack, "FeatureStore", vpc=stack.node.find_child("Net").vpc, allow_all_outbound=False)
    assert endpoint.connections.security_groups == []
    endpoint.connections.allow_to(features, ec2.Port.tcp(8443))
    t = Template.from_stack(stack)
    t.resource_count_is("AWS::EC2::SecurityGroupEgress", 0)
    t.resource_count_is("AWS::EC2::SecurityGroupIngress", 0)


# -- extension points -------------------------------------------------------------------------------


def test_add_to_role_policy_writes_into_the_execution_policy_under_the_packs(tmp_path: Path) -> None:
    app, stack, endpoint = build(outdir=tmp_path)
    endpoint.add_to_role_policy(iam.PolicyStatement(sid="ReadLookupTable", actions=["dynamodb:GetItem"],
                                                    resources=["arn:aws:dynamodb:eu-west-1:333333333333:table/acme-lookup"]))
    t = synth_clean(app, stack, tmp_path)
    assert resources(t, "AWS::IAM::Policy") == {}
    assert execution_policy(t, endpoint)["PolicyDocument"]["Statement"][-1] == {
        "Sid": "ReadLookupTable", "Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "arn:aws:dynamodb:eu-west-1:333333333333:table/acme-lookup"}
    with pytest.raises(PropsError, match=r"CanaryEndpoint: statement: must be PolicyStatement \(got \{'Effect': 'Allow'\}\)"):
        endpoint.add_to_role_policy({"Effect": "Allow"})  # type: ignore[arg-type]


def test_a_rollback_alarm_added_after_construction_joins_the_deployment_policy() -> None:
    app, stack, endpoint = build()
    kpi = cloudwatch.Alarm(stack, "Kpi", alarm_name="acme-kpi", metric=endpoint.metric_invocation_4xx_errors(), threshold=50, evaluation_periods=3)
    endpoint.add_rollback_alarm(kpi)
    endpoint.add_rollback_alarm(kpi)  # once only
    t = Template.from_stack(stack)
    ids = alarm_ids_by_name(t.to_json())
    expected = [{"Ref": ids["acme-staging-churn-5xx"]}, {"Ref": ids["acme-staging-churn-p99-latency"]}, {"Ref": ids["acme-kpi"]}]
    t.has_resource_properties("AWS::SageMaker::Endpoint", {
        "DeploymentConfig": {"AutoRollbackConfiguration": {"Alarms": [{"AlarmName": name} for name in expected]}}})
    assert [stack.resolve(name) for name in endpoint.rollback_alarm_names] == expected


def test_the_execution_role_may_describe_exactly_the_rollback_alarms() -> None:
    """SageMaker reads the rollback alarms with the model's execution role (deployment guardrails' auto-rollback
    page): the policy names each of them, a late one too, and no other alarm."""
    app, stack, endpoint = build()
    kpi = cloudwatch.Alarm(stack, "Kpi", alarm_name="acme-kpi", metric=endpoint.metric_invocation_4xx_errors(), threshold=50, evaluation_periods=3)
    cloudwatch.Alarm(stack, "Unrelated", alarm_name="acme-other", metric=endpoint.metric_invocation_4xx_errors(), threshold=1, evaluation_periods=1)
    endpoint.add_rollback_alarm(kpi)
    t = Template.from_stack(stack).to_json()
    ids = alarm_ids_by_name(t)
    (statement,) = [s for s in execution_policy(t, endpoint)["PolicyDocument"]["Statement"] if s.get("Sid") == "DescribeRollbackAlarms"]
    assert statement["Action"] == "cloudwatch:DescribeAlarms"
    assert statement["Resource"] == [{"Fn::GetAtt": [ids[name], "Arn"]} for name in ("acme-staging-churn-5xx", "acme-staging-churn-p99-latency", "acme-kpi")]

    _, serverless_stack, serverless = build(serverless_memory_mb=2048)
    serverless_t = Template.from_stack(serverless_stack).to_json()
    assert not [s for s in execution_policy(serverless_t, serverless)["PolicyDocument"]["Statement"] if s.get("Sid") == "DescribeRollbackAlarms"]


def test_a_composite_rollback_alarm_is_refused() -> None:
    _, stack, endpoint = build()
    composite = cloudwatch.CompositeAlarm(stack, "Both", composite_alarm_name="acme-both",
                                          alarm_rule=cloudwatch.AlarmRule.any_of(endpoint.error_alarm, endpoint.latency_alarm))
    with pytest.raises(PropsError, match=r"CanaryEndpoint: rollback_alarms: must be a metric alarm: the model's role may describe "
                                         r"alarms by ARN only, and a composite alarm can only be described with "
                                         r"cloudwatch:DescribeAlarms on every alarm \(got 'Serve/Both'\)"):
        endpoint.add_rollback_alarm(composite)


def test_rollback_alarms_stop_at_sagemakers_ten_and_serverless_has_none() -> None:
    app, stack, endpoint = build()
    for index in range(8):
        endpoint.add_rollback_alarm(cloudwatch.Alarm.from_alarm_arn(stack, f"Kpi{index}", f"arn:aws:cloudwatch:eu-west-1:333333333333:alarm:kpi-{index}"))
    late = cloudwatch.Alarm.from_alarm_arn(stack, "OneTooMany", "arn:aws:cloudwatch:eu-west-1:333333333333:alarm:kpi-9")
    with pytest.raises(PropsError, match=r"CanaryEndpoint: rollback_alarms: must be at most 8 besides the endpoint's own two: SageMaker watches up to 10 \(got 'kpi-9'\)"):
        endpoint.add_rollback_alarm(late)
    with pytest.raises(PropsError, match=r"CanaryEndpoint: alarm: must be a cloudwatch\.IAlarm \(got 'kpi-9'\)"):
        endpoint.add_rollback_alarm("kpi-9")  # type: ignore[arg-type]
    app, stack, serverless = build(serverless_memory_mb=2048)
    assert serverless.rollback_alarm_names == []
    with pytest.raises(PropsError, match="CanaryEndpoint: rollback_alarms: cannot be used with serverless_memory_mb: serverless updates all at once"):
        serverless.add_rollback_alarm(late)
    with pytest.raises(PropsError, match="CanaryEndpoint: rollback_alarms: cannot be used with serverless_memory_mb"):
        build(serverless_memory_mb=2048, rollback_alarms=[cloudwatch.Alarm.from_alarm_arn(cdk.Stack(), "K", "arn:aws:cloudwatch:eu-west-1:333333333333:alarm:k")])


def test_without_autoscaling_the_variant_is_not_registered_so_its_instance_type_can_change() -> None:
    """SageMaker refuses to change the instance type of a variant registered for autoscaling: for that one release the
    endpoint has no scalable target, no scaling policy and no scheduled actions; the deployment policy stays."""
    t = template(autoscaling=False, scale_down_at=appscaling.Schedule.cron(hour="20", minute="0"),
                 scale_up_at=appscaling.Schedule.cron(hour="6", minute="0"))
    assert not resources(t, "AWS::ApplicationAutoScaling::ScalableTarget") and not resources(t, "AWS::ApplicationAutoScaling::ScalingPolicy")
    assert "BlueGreenUpdatePolicy" in one(t, "AWS::SageMaker::Endpoint")[1]["DeploymentConfig"]
    with pytest.raises(PropsError, match=r"CanaryEndpoint: autoscaling: must be true or false \(got 'off'\)"):
        build(autoscaling="off")


def test_a_user_adds_scaling_policies_to_the_scalable_target(tmp_path: Path) -> None:
    app, stack, endpoint = build(outdir=tmp_path)
    assert endpoint.scalable_target is not None
    endpoint.scalable_target.scale_on_metric(
        "LatencySteps", metric=endpoint.metric_model_latency(statistic="Average"), adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
        scaling_steps=[appscaling.ScalingInterval(upper=200_000, change=-1), appscaling.ScalingInterval(lower=500_000, change=1)],
    )
    endpoint.scalable_target.scale_on_schedule("MondayPeak", schedule=appscaling.Schedule.cron(week_day="MON", hour="7", minute="0"), min_capacity=3)
    t = synth_clean(app, stack, tmp_path)
    target_id = logical_id(endpoint.scalable_target)
    steps = [p["Properties"] for p in resources(t, "AWS::ApplicationAutoScaling::ScalingPolicy").values() if p["Properties"]["PolicyType"] == "StepScaling"]
    assert len(steps) == 2 and all(p["ScalingTargetId"] == {"Ref": target_id} for p in steps)
    latency_alarms = [a["Properties"] for a in resources(t, "AWS::CloudWatch::Alarm").values() if a["Properties"].get("MetricName") == "ModelLatency"
                      and a["Properties"].get("Statistic") == "Average"]
    assert sorted(a["Threshold"] for a in latency_alarms) == [200_000, 500_000]
    (action,) = resources(t, "AWS::ApplicationAutoScaling::ScalableTarget")[target_id]["Properties"]["ScheduledActions"]
    assert (action["ScheduledActionName"], action["ScalableTargetAction"]) == ("MondayPeak", {"MinCapacity": 3})


ATTRIBUTES = ("endpoint_name", "endpoint_arn", "variant_name", "security_group", "connections", "role", "policy", "grant_principal", "model",
              "endpoint_config", "notification_topic", "error_alarm", "latency_alarm", "rollback_alarm_names", "endpoint", "scalable_target",
              "dashboard", "capture_prefix")


@pytest.mark.parametrize(("kwargs", "absent"), [({}, set()), ({"serverless_memory_mb": 2048}, {"scalable_target", "capture_prefix"}),
                                                 ({"autoscaling": False}, {"scalable_target"})])
def test_every_public_attribute_exists_on_every_path(kwargs: dict[str, Any], absent: set[str]) -> None:
    endpoint = build(**kwargs)[2]
    assert {a for a in ATTRIBUTES if getattr(endpoint, a) is None} == absent


# -- interfaces over strings, deprecated names ------------------------------------------------------


def test_the_image_repository_is_a_repository_the_role_may_pull_from() -> None:
    app, stack, endpoint = build(image_repository=lambda ctx: ctx.store.repository)
    statements = {s["Sid"]: s for s in execution_policy(Template.from_stack(stack).to_json(), endpoint)["PolicyDocument"]["Statement"]}
    repository_id = logical_id(stack.node.find_child("Store").repository)
    assert statements["PullImage"]["Resource"] == {"Fn::GetAtt": [repository_id, "Arn"]}
    assert sorted(statements["PullImage"]["Action"]) == ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    assert statements["RegistryLogin"] == {"Sid": "RegistryLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"}


def test_image_repository_arn_is_a_deprecated_alias_of_image_repository() -> None:
    with pytest.warns(DeprecationWarning, match=r"CanaryEndpoint: image_repository_arn is deprecated, use image_repository"):
        old = template(image_repository_arn=REPOSITORY)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new = template(image_repository=lambda ctx: ecr.Repository.from_repository_arn(ctx.stack, "Models", REPOSITORY))
    assert old == new
    with pytest.warns(DeprecationWarning):
        imported = template(image_repository_arn=cdk.Fn.import_value("ModelsRepositoryArn"))
    (policy,) = [p["Properties"] for p in resources(imported, "AWS::IAM::ManagedPolicy").values() if "Endpoint acme" in p["Properties"]["Description"]]
    (pull,) = [s for s in policy["PolicyDocument"]["Statement"] if s.get("Sid") == "PullImage"]
    assert pull["Resource"] == {"Fn::ImportValue": "ModelsRepositoryArn"}
    with pytest.raises(PropsError, match="CanaryEndpoint: image_repository_arn: is the deprecated name of image_repository, which is also given"):
        build(image_repository_arn=REPOSITORY, image_repository=lambda ctx: ctx.store.repository)


def test_notification_topic_receives_the_alarms_and_alarm_topic_is_its_deprecated_alias() -> None:
    app, stack, endpoint = build(notification_topic=lambda ctx: sns.Topic(ctx.stack, "OnCall", master_key=ctx.store.encryption_key, enforce_ssl=True))
    t = Template.from_stack(stack).to_json()
    (topic_id,) = resources(t, "AWS::SNS::Topic")  # none of its own
    assert topic_id == logical_id(endpoint.notification_topic)
    assert [r["Properties"]["AlarmActions"] for r in resources(t, "AWS::CloudWatch::Alarm").values()] == [[{"Ref": topic_id}]] * 2
    with pytest.warns(DeprecationWarning, match="CanaryEndpoint: alarm_topic is deprecated, use notification_topic"):
        assert endpoint.alarm_topic is endpoint.notification_topic
    with pytest.warns(DeprecationWarning, match="CanaryEndpoint: alarm_topic is deprecated, use notification_topic"):
        app, stack, old = build(alarm_topic=lambda ctx: sns.Topic(ctx.stack, "OnCall", master_key=ctx.store.encryption_key, enforce_ssl=True))
    assert logical_id(old.notification_topic) == topic_id


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model_package_arn": "arn:aws:sagemaker:eu-west-1:222222222222:model-package-group/acme-churn"}, r"CanaryEndpoint: model_package_arn: must be a versioned model package ARN"),
        ({"instance_type": "ml.m5.lrge"}, r"CanaryEndpoint: instance_type: must be a SageMaker real-time inference instance type name .*did you mean ml\.m5\.large"),
        ({"instance_type": "ml.inf1.xlarge"}, r"CanaryEndpoint: instance_type: cannot be used with deployment CANARY: SageMaker deploys to ml\.inf1 instances all at once"),
        ({"deployment": "BLUE_GREEN"}, r"CanaryEndpoint: deployment: must be one of CANARY, LINEAR, ALL_AT_ONCE \(got 'BLUE_GREEN'\)"),
        ({"traffic_step_percent": 80}, r"CanaryEndpoint: traffic_step_percent: must be from 1 to 50 \(got 80\)"),
        ({"deployment": "LINEAR", "traffic_step_percent": 5},
         r"CanaryEndpoint: traffic_step_percent: must be from 10 to 50 with deployment LINEAR: SageMaker's linear steps are 10-50% of the fleet \(got 5\)"),
        ({"wait_interval": cdk.Duration.minutes(61)},
         r"CanaryEndpoint: wait_interval: must be from 0 to 3600 seconds \(SageMaker's blue/green update policy\) \(got '3660 seconds'\)"),
        ({"max_execution_timeout": cdk.Duration.minutes(5)}, r"CanaryEndpoint: max_execution_timeout: must be from 600 to 28800 seconds"),
        # LINEAR by 10%: nine waits of 5 minutes and a 5-minute termination wait, 50 minutes, against a 30-minute timeout
        ({"deployment": "LINEAR", "max_execution_timeout": cdk.Duration.minutes(30)},
         r"CanaryEndpoint: max_execution_timeout: must be more than the deployment's waiting, 3000 seconds \(termination_wait plus "
         r"wait_interval for each of the 9 waits of a LINEAR deployment by 10%\) \(got '1800 seconds'\)"),
        ({"data_capture_percent": 101}, r"CanaryEndpoint: data_capture_percent: must be from 0 to 100 \(got 101\)"),
        ({"min_capacity": 5, "max_capacity": 3}, r"CanaryEndpoint: min_capacity: must be from 1 to max_capacity \(3\) \(got 5\)"),
        ({"scale_down_at": appscaling.Schedule.cron(hour="20")}, r"CanaryEndpoint: scale_up_at: must be given together with scale_down_at"),
        ({"artifact_key_alias": "acme-dev/artifacts"}, r"CanaryEndpoint: artifact_key_alias: must be a KMS alias name, alias/<name>"),
        # wrong types: the field, the value and what is allowed, not a TypeError from jsii or Python
        ({"instance_count": "2"}, r"CanaryEndpoint: instance_count: must be an integer \(got '2'\)"),
        ({"traffic_step_percent": True}, r"CanaryEndpoint: traffic_step_percent: must be an integer \(got True\)"),
        ({"rollback_alarms": ["acme-kpi"]}, r"CanaryEndpoint: rollback_alarms\[0\]: must be a cloudwatch\.IAlarm \(got 'acme-kpi'\)"),
        ({"rollback_alarms": "acme-kpi"}, r"CanaryEndpoint: rollback_alarms: must be list or tuple \(got 'acme-kpi'\)"),
        ({"image_repository": REPOSITORY}, r"CanaryEndpoint: image_repository: must be an ecr\.IRepository \(got 'arn:aws:ecr:"),
        ({"image_repository_arn": "acme-dev/models"}, r"CanaryEndpoint: image_repository_arn: must be an ECR repository ARN"),
        ({"notification_topic": "arn:aws:sns:eu-west-1:333333333333:on-call"}, r"CanaryEndpoint: notification_topic: must be an sns\.ITopic"),
        ({"wait_interval": 300}, r"CanaryEndpoint: wait_interval: must be Duration \(got 300\)"),
        ({"vpc": "vpc-0123"}, r"CanaryEndpoint: vpc: must be an ec2\.IVpc \(got 'vpc-0123'\)"),
        ({"error_threshold": 0}, r"CanaryEndpoint: error_threshold: must be at least 1 \(got 0\)"),
        ({"serverless_memory_mb": 1000}, r"CanaryEndpoint: serverless_memory_mb: must be one of 1024, 2048, 3072, 4096, 5120, 6144 \(got 1000\)"),
        ({"instance_count": cdk.Token.as_number(cdk.Fn.import_value("Count"))}, r"CanaryEndpoint: max_capacity: must be given when instance_count is a token"),
    ],
)
def test_bad_props_are_rejected_with_field_value_and_rule(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(PropsError, match=message):
        build(**kwargs)


def test_tokens_pass_the_checks_and_reach_the_template() -> None:
    count, step = cdk.Token.as_number(cdk.Fn.import_value("Count")), cdk.Token.as_number(cdk.Fn.import_value("Step"))
    t = template(instance_count=count, max_capacity=6, traffic_step_percent=step)
    assert one(t, "AWS::SageMaker::EndpointConfig")[1]["ProductionVariants"][0]["InitialInstanceCount"] == {"Fn::ImportValue": "Count"}
    routing = one(t, "AWS::SageMaker::Endpoint")[1]["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing["CanarySize"] == {"Type": "CAPACITY_PERCENT", "Value": {"Fn::ImportValue": "Step"}}
    _, target = one(t, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert (target["MinCapacity"], target["MaxCapacity"]) == ({"Fn::ImportValue": "Count"}, 6)


def test_a_package_registered_in_the_same_stack_can_be_served_by_its_token_arn() -> None:
    # Its account is needed only for the artifacts' key (artifact_key_alias): without one, a token ARN (a package
    # the stack registers, as the endpoint integration test does) reaches the model and the execution policy.
    package = lambda ctx: cdk.Token.as_string(cdk.Fn.import_value("PackageArn"))  # noqa: E731
    t = template(model_package_arn=package, artifact_key_alias=None)
    assert one(t, "AWS::SageMaker::Model")[1]["Containers"] == [{"ModelPackageName": {"Fn::ImportValue": "PackageArn"}}]
    policies = [r["Properties"]["PolicyDocument"]["Statement"] for r in resources(t, "AWS::IAM::ManagedPolicy").values()]
    assert {"Sid": "DescribePackage", "Effect": "Allow", "Action": "sagemaker:DescribeModelPackage",
            "Resource": {"Fn::ImportValue": "PackageArn"}} in [s for statements in policies for s in statements]
    with pytest.raises(PropsError, match=r"CanaryEndpoint: model_package_arn: must be a versioned model package ARN.* known at synthesis, "
                                         r"not a token, with artifact_key_alias"):
        build(model_package_arn=package)


def test_a_rollback_alarm_of_another_account_or_region_is_refused() -> None:
    # SageMaker's AutoRollbackConfig watches alarms of the endpoint's own account and region, by name
    _, stack, endpoint = build()
    elsewhere = cloudwatch.Alarm.from_alarm_arn(stack, "Elsewhere", "arn:aws:cloudwatch:eu-west-1:999999999999:alarm:team-errors")
    with pytest.raises(PropsError, match=r"CanaryEndpoint: rollback_alarms: must be an alarm of the endpoint's account \(333333333333\)"):
        endpoint.add_rollback_alarm(elsewhere)
    other_region = cloudwatch.Alarm.from_alarm_arn(stack, "OtherRegion", "arn:aws:cloudwatch:us-east-1:333333333333:alarm:team-errors")
    with pytest.raises(PropsError, match=r"must be an alarm of the endpoint's region \(eu-west-1\)"):
        endpoint.add_rollback_alarm(other_region)
    same = cloudwatch.Alarm.from_alarm_arn(stack, "Same", "arn:aws:cloudwatch:eu-west-1:333333333333:alarm:team-errors")
    endpoint.add_rollback_alarm(same)
    assert endpoint.rollback_alarm_names[-1] == "team-errors"


def test_an_imported_endpoints_arn_has_the_name_in_lowercase_as_sagemaker_writes_it() -> None:
    _, stack, _ = build()
    imported = CanaryEndpoint.from_endpoint_name(stack, "Mixed", "Team-Churn")
    assert stack.resolve(imported.endpoint_arn) == "arn:aws:sagemaker:eu-west-1:333333333333:endpoint/team-churn"
    assert imported.endpoint_name == "Team-Churn"  # the name itself, for metrics and the runtime API, is as given
