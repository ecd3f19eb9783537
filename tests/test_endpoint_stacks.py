"""Endpoints in the platform's stages: one per model and stage, staging and prod on CANARY with
rollback alarms, dev ALL_AT_ONCE on one instance, artifacts read across accounts no wider than needed,
and a new package updating the same endpoint."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import yaml

from mlops_constructs.config import STAGES, PlatformConfig
from mlops_constructs.schedules import drift_cron
from stacks import build_platform
from stacks.network_stack import NetworkStack
from tests.conftest import CDK_CONTEXT, REPO, SynthesizedPlatform, default_config_data, resources

PACKAGE = "arn:aws:sagemaker:eu-west-1:222222222222:model-package/mlops-demo-churn/1"


def props(template: dict[str, Any], type_: str) -> dict[str, Any]:
    (resource,) = resources(template, type_).values()
    return resource["Properties"]


def test_every_stage_serves_the_model(platform: SynthesizedPlatform) -> None:
    for stage in STAGES:
        template = platform.templates[f"{stage.capitalize()}/Release-churn/Endpoint"]
        assert props(template, "AWS::SageMaker::Endpoint")["EndpointName"] == f"mlops-demo-{stage}-churn"
        assert props(template, "AWS::SageMaker::Model")["Containers"] == [{"ModelPackageName": PACKAGE}]
    assert platform.stages["prod"].endpoints["churn"].termination_protection
    assert not platform.stages["dev"].endpoints["churn"].termination_protection


def test_staging_and_prod_canary_with_rollback_alarms_dev_all_at_once_on_one_instance(platform: SynthesizedPlatform) -> None:
    for stage, strategy, count in (("dev", "ALL_AT_ONCE", 1), ("staging", "CANARY", 2), ("prod", "CANARY", 2)):
        template = platform.templates[f"{stage.capitalize()}/Release-churn/Endpoint"]
        config = props(template, "AWS::SageMaker::Endpoint")["DeploymentConfig"]
        assert config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"] == strategy
        alarm_ids = {a["AlarmName"]["Ref"] for a in config["AutoRollbackConfiguration"]["Alarms"]}
        names = {i: r["Properties"]["AlarmName"] for i, r in resources(template, "AWS::CloudWatch::Alarm").items()}
        # 5XX and latency roll back; drift does not (it asks for a retraining instead)
        assert {names[i] for i in alarm_ids} == {f"mlops-demo-{stage}-churn-5xx", f"mlops-demo-{stage}-churn-p99-latency"}
        assert (f"mlops-demo-{stage}-churn-drift" in names.values()) == (stage != "dev")  # monitoring.stages: staging, prod
        assert props(template, "AWS::SageMaker::EndpointConfig")["ProductionVariants"][0]["InitialInstanceCount"] == count
    staging = props(platform.templates["Staging/Release-churn/Endpoint"], "AWS::ApplicationAutoScaling::ScalableTarget")
    assert [a["ScheduledActionName"] for a in staging["ScheduledActions"]] == ["OffHours", "WorkingHours"]
    prod = props(platform.templates["Prod/Release-churn/Endpoint"], "AWS::ApplicationAutoScaling::ScalableTarget")
    assert "ScheduledActions" not in prod


def test_serving_roles_read_dev_artifacts_no_wider_than_the_model(platform: SynthesizedPlatform) -> None:
    for stage in ("staging", "prod"):
        template = platform.templates[f"{stage.capitalize()}/Release-churn/Endpoint"]
        policy = next(p["Properties"] for p in resources(template, "AWS::IAM::ManagedPolicy").values() if "ExecutionRole" in json.dumps(p["Properties"]["Roles"]))
        statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
        assert statements["ReadArtifacts"]["Resource"] == "arn:aws:s3:::mlops-demo-dev-artifacts-222222222222-eu-west-1/churn/*"
        assert statements["DecryptArtifacts"]["Condition"]["ForAnyValue:StringEquals"] == {"kms:ResourceAliases": "alias/mlops-demo-dev/artifacts"}
        assert statements["PullImage"]["Resource"] == "arn:aws:ecr:eu-west-1:222222222222:repository/mlops-demo-dev/models"
        assert statements["DescribePackage"]["Resource"] == PACKAGE
        capture = statements["WriteCapture"]["Resource"]
        assert capture == f"arn:aws:s3:::mlops-demo-{stage}-artifacts-{platform.config.accounts.for_stage(stage)}-eu-west-1/data-capture/mlops-demo-{stage}-churn/*"
    dev_store = platform.templates["Dev/Storage"]
    assert props(dev_store, "AWS::KMS::Alias")["AliasName"] == "alias/mlops-demo-dev/artifacts"


def synth_endpoint(tmp_path: Path, package: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    config = PlatformConfig.from_mapping(data or default_config_data())
    app = cdk.App(outdir=str(tmp_path), context=CDK_CONTEXT)
    stages = build_platform(app, config, {"churn": package}, release="churn")  # as churn's release pipeline synthesizes it
    app.synth()
    stack = stages["prod"].endpoints["churn"]
    return json.loads((tmp_path / "assembly-Prod" / "assembly-Prod-Release-churn" / stack.template_file).read_text())


def test_a_stage_can_release_without_autoscaling_while_an_instance_type_changes(tmp_path: Path) -> None:
    # SageMaker refuses to change the instance type of a variant registered for autoscaling
    # (https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html)
    data = default_config_data()
    data["stages"]["prod"]["endpoint"]["autoscaling"] = {"enabled": False}
    data["stages"]["prod"]["endpoint"]["instance_type"] = "ml.m5.2xlarge"
    template = synth_endpoint(tmp_path, PACKAGE, data)
    assert not [r for r in template["Resources"].values() if r["Type"].startswith("AWS::ApplicationAutoScaling::")]
    (config,) = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::EndpointConfig"]
    assert config["ProductionVariants"][0]["InstanceType"] == "ml.m5.2xlarge"


def test_a_new_package_keeps_the_endpoint_and_replaces_model_and_config(tmp_path: Path) -> None:
    first = synth_endpoint(tmp_path / "v1", PACKAGE)
    second = synth_endpoint(tmp_path / "v2", PACKAGE.replace("/1", "/2"))
    assert resources(first, "AWS::SageMaker::Endpoint") == resources(second, "AWS::SageMaker::Endpoint")
    assert set(resources(first, "AWS::SageMaker::Model")) == set(resources(second, "AWS::SageMaker::Model"))
    assert props(first, "AWS::SageMaker::Model") != props(second, "AWS::SageMaker::Model")
    # neither model nor config has a fixed name: CloudFormation replaces both, and the endpoint moves
    # to the new config through its deployment policy
    assert "ModelName" not in props(second, "AWS::SageMaker::Model")
    assert "EndpointConfigName" not in props(second, "AWS::SageMaker::EndpointConfig")


def run_app(config: Path, outdir: Path, context: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps({"config": str(config), **context}), "CDK_OUTDIR": str(outdir)}
    return subprocess.run([sys.executable, "app.py"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def test_the_package_comes_from_context_over_config_and_a_model_without_one_has_no_endpoint(tmp_path: Path) -> None:
    data = default_config_data()
    data["models"].append({"name": "fraud"})
    config = tmp_path / "two.yaml"
    config.write_text(yaml.safe_dump(data))
    newer = PACKAGE.replace("/1", "/5")
    result = run_app(config, tmp_path / "out", {"model_package_arn.churn": newer})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr.strip().splitlines() == [
        "model fraud: no approved model package yet (models[].model_package_arn or -c model_package_arn.fraud=<arn>): no endpoint or batch stacks for it"
    ]
    stacks = {a["properties"]["stackName"] for manifest in (tmp_path / "out" / "assembly-Prod").rglob("manifest.json")
              for a in json.loads(manifest.read_text())["artifacts"].values() if a["type"] == "aws:cloudformation:stack"}
    # and the batch-only lead-scoring's batch stack, no endpoint
    assert stacks == {"mlops-demo-prod-network", "mlops-demo-prod-storage", "mlops-demo-prod-churn-endpoint", "mlops-demo-prod-lead-scoring-batch"}
    # churn's endpoint in its release stage (Prod/Release-churn), fraud with none
    (template,) = (tmp_path / "out" / "assembly-Prod").rglob("ProdRelease*Endpoint*.template.json")
    assert template.parent.name == "assembly-Prod-Release-churn"
    assert newer in template.read_text()


def test_a_malformed_package_in_context_is_one_line(tmp_path: Path) -> None:
    result = run_app(REPO / "config" / "default.yaml", tmp_path / "out", {"model_package_arn.churn": "churn-v2"})
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "context model_package_arn.churn: must be a versioned model package ARN, "
        "arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>, or 'none' (got 'churn-v2')"
    )


def monitored_endpoints(platform: SynthesizedPlatform, tmp_path: Path) -> dict[str, dict[str, Any]]:
    """Each stage's churn endpoint template with drift monitoring: staging and prod from the default platform, dev from
    the same config with monitoring.stages naming dev too (synthesized as churn's release pipeline does)."""
    assert platform.stages["dev"].endpoints["churn"].drift_monitor is None  # not monitored by default
    data = default_config_data()
    data["models"][0]["monitoring"]["stages"] = ["dev", "staging", "prod"]
    app = cdk.App(outdir=str(tmp_path), context=CDK_CONTEXT)
    stages = build_platform(app, PlatformConfig.from_mapping(data), {"churn": PACKAGE}, release="churn")
    app.synth()
    dev = json.loads((tmp_path / "assembly-Dev" / "assembly-Dev-Release-churn" / stages["dev"].endpoints["churn"].template_file).read_text())
    return {"dev": dev, **{s: platform.templates[f"{s.capitalize()}/Release-churn/Endpoint"] for s in ("staging", "prod")}}


def test_drift_monitoring_watches_captured_data_and_reaches_the_training_account(platform: SynthesizedPlatform, tmp_path: Path) -> None:
    minutes: set[str] = set()
    for stage, template in monitored_endpoints(platform, tmp_path).items():
        types = {r["Type"] for r in template["Resources"].values()}
        # SageMaker Model Monitor is closed to new customers: none of its resources may remain
        assert not types & {"AWS::SageMaker::DataQualityJobDefinition", "AWS::SageMaker::MonitoringSchedule"}
        (machine,) = [r for k, r in resources(template, "AWS::StepFunctions::StateMachine").items() if k.startswith("Drift")]
        definition = json.dumps(machine["Properties"]["DefinitionString"])
        assert "createProcessingJob.sync" in definition and "DriftBaselineS3Uri" in definition
        # the job reads this stage's own capture: <capture prefix><endpoint>/AllTraffic/<window>/
        name = f"mlops-demo-{stage}-churn"
        assert f"data-capture/{name}/{name}/AllTraffic/" in definition
        # hourly, the default config's, at a minute of the endpoint's own: an EventBridge Scheduler schedule, no rule
        assert not [r for r in resources(template, "AWS::Events::Rule").values() if "ScheduleExpression" in r["Properties"]]
        (schedule,) = [r["Properties"] for r in resources(template, "AWS::Scheduler::Schedule").values()]
        assert schedule["ScheduleExpression"] == drift_cron(name, "hourly") and schedule["ScheduleExpressionTimezone"] == "Etc/UTC"
        minutes.add(schedule["ScheduleExpression"])
        drift = next(r["Properties"] for r in resources(template, "AWS::CloudWatch::Alarm").values() if r["Properties"].get("AlarmName") == f"{name}-drift")
        assert drift["Threshold"] == 0.5 and drift["MetricName"] == "DriftedShare" and drift["Namespace"] == "MLOps/Drift"
        forwards = [r["Properties"] for r in resources(template, "AWS::Events::Rule").values() if "EventPattern" in r["Properties"]]
        if stage == "dev":
            assert forwards == []  # dev's own alarm is on the training account's bus already
        else:
            (rule,) = forwards
            assert rule["EventPattern"]["detail"] == {"alarmName": [f"{name}-drift"], "state": {"value": ["ALARM"]}}
            assert rule["Targets"][0]["Arn"] == "arn:aws:events:eu-west-1:222222222222:event-bus/default"
    assert len(minutes) == len(STAGES)  # the three endpoints do not check at the same minute


def test_the_drift_job_decrypts_baselines_with_the_dev_key_in_every_stage(platform: SynthesizedPlatform, tmp_path: Path) -> None:
    # Baselines are in dev's artifact bucket, encrypted with dev's key: staging and prod drift jobs must
    # be allowed to decrypt with a key of the dev account, not of their own; dev's job uses its own key.
    dev = platform.config.accounts.dev
    for stage, template in monitored_endpoints(platform, tmp_path).items():
        policy = next(p["Properties"] for p in resources(template, "AWS::IAM::ManagedPolicy").values() if "DriftJobRole" in json.dumps(p["Properties"]["Roles"]))
        statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
        assert statements["ReadBaselines"]["Resource"] == "arn:aws:s3:::mlops-demo-dev-artifacts-222222222222-eu-west-1/*"
        if stage == "dev":
            assert "DecryptBaselines" not in statements
        else:
            assert statements["DecryptBaselines"]["Resource"] == f"arn:aws:kms:eu-west-1:{dev}:key/*", stage
            assert statements["DecryptBaselines"]["Condition"]["ForAnyValue:StringEquals"] == {"kms:ResourceAliases": "alias/mlops-demo-dev/artifacts"}


def test_the_training_bus_admits_drift_alarms_from_the_serving_accounts_only(platform: SynthesizedPlatform) -> None:
    policies = [r["Properties"] for r in resources(platform.templates["Dev/Storage"], "AWS::Events::EventBusPolicy").values()]
    assert sorted(p["Statement"]["Principal"]["AWS"] for p in policies) == ["arn:aws:iam::333333333333:root", "arn:aws:iam::444444444444:root"]
    for policy in policies:
        assert policy["Statement"]["Action"] == "events:PutEvents"
        assert policy["Statement"]["Condition"] == {"StringEquals": {"events:source": "aws.cloudwatch", "events:detail-type": "CloudWatch Alarm State Change"}}
    for stage in ("Staging", "Prod"):
        assert resources(platform.templates[f"{stage}/Storage"], "AWS::Events::EventBusPolicy") == {}


def test_the_endpoint_stack_uses_only_the_librarys_public_api() -> None:
    # Stacks compose constructs as a consuming app would: no private module or name of mlops_constructs.
    tree = ast.parse((REPO / "stacks" / "endpoint_stack.py").read_text(encoding="utf-8"))
    imported = [(node.module or "", alias.name) for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for alias in node.names]
    imported += [(alias.name, "") for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    private = [f"{module}:{name}" for module, name in imported
               if module.split(".")[0] == "mlops_constructs" and any(part.startswith("_") for part in [*module.split("."), name] if part)]
    assert private == []


# -- the model's API --------------------------------------------------------------------------------


def test_the_default_configs_api_is_in_staging_and_prod_with_the_account_logging_role_and_no_vpc_endpoint(platform: SynthesizedPlatform) -> None:
    for stage in STAGES:
        endpoint = platform.templates[f"{stage.capitalize()}/Release-churn/Endpoint"]
        network = platform.templates[f"{stage.capitalize()}/Network"]
        has_api = stage in ("staging", "prod")
        assert len(resources(endpoint, "AWS::ApiGateway::RestApi")) == int(has_api), stage
        assert len(resources(endpoint, "AWS::WAFv2::WebACLAssociation")) == int(has_api), stage
        assert ("InferenceApiUrl" in endpoint.get("Outputs", {})) == has_api, stage
        assert len(resources(network, "AWS::ApiGateway::Account")) == int(has_api), stage
        services = json.dumps([r["Properties"]["ServiceName"] for r in resources(network, "AWS::EC2::VPCEndpoint").values()])
        assert "execute-api" not in services, stage  # regional: no execute-api endpoint
        if has_api:
            api = props(endpoint, "AWS::ApiGateway::RestApi")
            assert api["Name"] == f"mlops-demo-{stage}-churn" and api["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
            # the API invokes this stage's endpoint
            (endpoint_id,) = resources(endpoint, "AWS::SageMaker::Endpoint")
            assert f"endpoints/mlops-demo-{stage}-churn/invocations" in json.dumps(props(endpoint, "AWS::ApiGateway::Method")["Integration"]["Uri"])


def test_a_stage_whose_account_has_api_gateways_logging_role_leaves_it_alone() -> None:
    """``api_gateway_logging_role: existing`` (a landing zone's role, say): the stage's network stack neither creates
    the role nor sets the account's, which would replace the one there; the other stages still do."""
    data = default_config_data()
    data["stages"]["staging"]["api_gateway_logging_role"] = "existing"
    config = PlatformConfig.from_mapping(data, source="existing-role")
    app = cdk.App(context=CDK_CONTEXT)
    networks = {stage: NetworkStack(app, stage, config=config, stage=stage,
                                    env=cdk.Environment(account=getattr(config.accounts, stage), region=config.region))
                for stage in ("staging", "prod")}
    assembly = app.synth()
    for stage, expected in (("staging", 0), ("prod", 1)):
        template = assembly.get_stack_by_name(networks[stage].stack_name).template
        assert len(resources(template, "AWS::ApiGateway::Account")) == expected, stage
        api_gateway_roles = [r for r in resources(template, "AWS::IAM::Role").values()
                             if r["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "apigateway.amazonaws.com"}]
        assert len(api_gateway_roles) == expected, stage


def test_a_private_api_goes_through_the_stages_execute_api_endpoint_and_is_not_smoke_tested() -> None:
    from stacks.stage import PlatformStage

    data = default_config_data()
    data["models"][0]["api"] = {"stages": ["staging"], "endpoint_type": "private"}
    config = PlatformConfig.from_mapping(data, source="private-api")
    app = cdk.App(context=CDK_CONTEXT)
    stage = PlatformStage(app, "Staging", config=config, stage="staging", model_package_arns={"churn": PACKAGE})
    network = stage.synth().get_stack_by_name(stage.network.stack_name).template
    endpoint = stage.endpoints["churn"]
    endpoint_template = cdk.Stage.of(endpoint).synth().get_stack_by_name(endpoint.stack_name).template  # type: ignore[union-attr]
    (vpce_id,) = [i for i, r in resources(network, "AWS::EC2::VPCEndpoint").items() if "execute-api" in json.dumps(r["Properties"]["ServiceName"])]
    assert network["Outputs"]["ExecuteApiEndpointId"]["Value"] == {"Ref": vpce_id}
    api = props(endpoint_template, "AWS::ApiGateway::RestApi")
    (vpce,) = api["EndpointConfiguration"]["VpcEndpointIds"]
    assert api["EndpointConfiguration"]["Types"] == ["PRIVATE"]
    assert vpce == {"Fn::GetStackOutput": {"StackName": "mlops-demo-staging-network", "Region": "eu-west-1", "OutputName": "ExecuteApiEndpointId"}}
    assert api["Policy"]["Statement"][0]["Condition"] == {"StringEquals": {"aws:SourceVpce": vpce}}
    # the pipeline cannot reach a private API: its smoke role may invoke the endpoint only
    assert endpoint.smoke_test_role is not None
    smoke = [r["Properties"] for r in resources(endpoint_template, "AWS::IAM::ManagedPolicy").values()
             if r["Properties"].get("Roles") == [{"Ref": endpoint.get_logical_id(endpoint.smoke_test_role.node.default_child)}]]  # type: ignore[arg-type]
    assert "execute-api" not in json.dumps(smoke) and "cloudformation" not in json.dumps(smoke)


def test_an_api_requiring_api_keys_meters_them_and_is_not_smoke_tested() -> None:
    """With api_key_required the usage plan's throttle and quota apply to each key; the pipeline's smoke test has no
    key, so it calls the endpoint only: its role gets no execute-api:Invoke and its test names no API stack."""
    from stacks.release_stack import _reachable_api
    from stacks.stage import PlatformStage

    data = default_config_data()
    data["models"][0]["api"] = {"stages": ["staging"], "api_key_required": True, "quota_per_day": 5000}
    config = PlatformConfig.from_mapping(data, source="api-keys")
    app = cdk.App(context=CDK_CONTEXT)
    stage = PlatformStage(app, "Staging", config=config, stage="staging", model_package_arns={"churn": PACKAGE})
    endpoint = stage.endpoints["churn"]
    endpoint_template = cdk.Stage.of(endpoint).synth().get_stack_by_name(endpoint.stack_name).template  # type: ignore[union-attr]
    assert props(endpoint_template, "AWS::ApiGateway::Method")["ApiKeyRequired"] is True
    assert props(endpoint_template, "AWS::ApiGateway::UsagePlan")["Quota"] == {"Limit": 5000, "Period": "DAY"}
    assert endpoint.smoke_test_role is not None
    smoke = [r["Properties"] for r in resources(endpoint_template, "AWS::IAM::ManagedPolicy").values()
             if r["Properties"].get("Roles") == [{"Ref": endpoint.get_logical_id(endpoint.smoke_test_role.node.default_child)}]]  # type: ignore[arg-type]
    assert smoke and "execute-api" not in json.dumps(smoke) and "cloudformation" not in json.dumps(smoke)
    assert _reachable_api(config.models[0], "staging") is False
    assert _reachable_api(PlatformConfig.from_mapping(default_config_data()).models[0], "staging") is True
