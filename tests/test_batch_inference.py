"""BatchInference: a released model version scored over an S3 prefix by a batch transform job in a Step Functions
state machine, one run at a time, with a failure notification and alarm and an Athena table over the results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler

import mlops_constructs
from mlops_constructs import ArtifactStore, FixedZonesStack, IsolatedNetwork, PropsError, add_compliance_checks
from mlops_constructs.compliance import open_findings, read_report
from mlops_constructs.serving import BatchInference
from tests.conftest import CDK_CONTEXT, SynthesizedPlatform, resources

PACKAGE = "arn:aws:sagemaker:eu-west-1:222222222222:model-package/acme-forecast/3"
ZONES = ["eu-west-1a", "eu-west-1b"]
NAME = "acme-prod-forecast"
REMOVE = object()


def build(outdir: Path | None = None, **kwargs: Any) -> tuple[cdk.App, cdk.Stack, BatchInference]:
    """The batch inference of NAME in a serving account's stack. A kwarg overrides a prop; a callable kwarg makes
    its value in the stack; ``REMOVE`` leaves the prop out."""
    app = cdk.App(context=CDK_CONTEXT, **({"outdir": str(outdir)} if outdir else {}))
    stack = FixedZonesStack(app, "Serve", availability_zones=ZONES, env=cdk.Environment(account="444444444444", region="eu-west-1"))
    network = IsolatedNetwork(stack, "Net", availability_zones=ZONES, cidr="10.30.0.0/16")
    store = ArtifactStore(stack, "Store", name_prefix="acme-prod")
    props: dict[str, Any] = {
        "name": NAME,
        "model_package_arn": PACKAGE,
        "vpc": network.vpc,
        "encryption_key": store.encryption_key,
        "input_bucket": store.data_bucket,
        "input_prefix": "forecast/batch-input/",
        "output_bucket": store.artifact_bucket,
        "artifact_bucket": lambda stack: s3.Bucket.from_bucket_attributes(
            stack, "DevArtifacts", bucket_name="acme-dev-artifacts-222222222222-eu-west-1", account="222222222222"),
        "artifact_prefix": "forecast/",
        "artifact_key_alias": "alias/acme-dev/artifacts",
        "schedule": lambda stack: scheduler.ScheduleExpression.expression("cron(0 4 * * ? *)"),
        "on_new_data": True,
    }
    props.update(kwargs)
    props = {k: v(stack) if callable(v) else v for k, v in props.items()}
    return app, stack, BatchInference(stack, "Batch", **{k: v for k, v in props.items() if v is not REMOVE})


def synth(app: cdk.App, stack: cdk.Stack) -> dict[str, Any]:
    return app.synth().get_stack_by_name(stack.stack_name).template


@pytest.fixture(scope="module")
def built() -> tuple[dict[str, Any], cdk.Stack, BatchInference]:
    app, stack, batch = build()
    return synth(app, stack), stack, batch


@pytest.fixture(scope="module")
def template(built: tuple[dict[str, Any], cdk.Stack, BatchInference]) -> dict[str, Any]:
    return built[0]


def definition(template: dict[str, Any]) -> dict[str, Any]:
    """The batch state machine's definition, with every reference written as ``<ref>`` (a batch stack may also
    hold its drift check's machine, which is not this one)."""
    ((_, machine),) = [(k, m) for k, m in resources(template, "AWS::StepFunctions::StateMachine").items() if not k.startswith("Drift")]
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    return json.loads("".join(p if isinstance(p, str) else f"<{json.dumps(p).replace(chr(34), '')}>" for p in parts))


def only(template: dict[str, Any], type_: str) -> dict[str, Any]:
    (resource,) = resources(template, type_).values()
    return resource["Properties"]


def policy(template: dict[str, Any], description_start: str) -> list[dict[str, Any]]:
    (found,) = [r["Properties"]["PolicyDocument"]["Statement"] for r in resources(template, "AWS::IAM::ManagedPolicy").values()
                if r["Properties"].get("Description", "").startswith(description_start)]
    return found


def test_is_exported_at_the_top() -> None:
    assert mlops_constructs.BatchInference is BatchInference
    assert "BatchInference" in mlops_constructs.__all__


def test_passes_every_compliance_pack(tmp_path: Path) -> None:
    app, _, batch = build(outdir=tmp_path)
    batch.add_to_role_policy(iam.PolicyStatement(actions=["ssm:GetParameter"], resources=["arn:aws:ssm:eu-west-1:444444444444:parameter/acme/x"]))
    add_compliance_checks(app)
    app.synth()
    assert open_findings(read_report(tmp_path)) == []


def test_the_model_is_the_package_network_isolated_in_the_vpc(template: dict[str, Any]) -> None:
    model = only(template, "AWS::SageMaker::Model")
    assert model["Containers"] == [{"ModelPackageName": PACKAGE}]
    assert model["EnableNetworkIsolation"] is True
    assert len(model["VpcConfig"]["Subnets"]) == 2
    assert len(model["VpcConfig"]["SecurityGroupIds"]) == 1


def test_the_state_machine_guards_then_transforms_with_the_configured_fields(built: tuple[dict[str, Any], cdk.Stack, BatchInference]) -> None:
    template, stack, batch = built
    machine = only(template, "AWS::StepFunctions::StateMachine")
    assert machine["StateMachineName"] == f"{NAME}-batch"
    states = definition(template)["States"]
    assert definition(template)["StartAt"] == "ListRunning"
    assert states["ListRunning"]["Resource"] == "arn:aws:states:::aws-sdk:sfn:listExecutions"
    assert states["ListRunning"]["Parameters"] == {"StateMachineArn.$": "$$.StateMachine.Id", "StatusFilter": "RUNNING", "MaxResults": 1000}
    assert states["OneAtATime"]["Choices"] == [{"Variable": "$.run.go", "BooleanEquals": True, "Next": "Transform"}]
    assert states["ListRunning"]["ResultSelector"] == {"arns.$": "$.Executions[*].ExecutionArn", "starts.$": "$.Executions[*].StartDate"}
    throttling, other = states["ListRunning"]["Retry"]
    assert throttling == {"ErrorEquals": ["Sfn.ThrottlingException"], "IntervalSeconds": 2, "MaxAttempts": 8, "BackoffRate": 2,
                          "MaxDelaySeconds": 60, "JitterStrategy": "FULL"}
    assert "Sfn.ThrottlingException" not in other["ErrorEquals"]
    assert states["OneAtATime"]["Default"] == "AnotherRunInProgress"
    # a listing past 256 KiB (~750 running executions) is caught by name (States.ALL does not match it), first, and
    # fails the run with a readable cause, without a message each (the failed-runs alarm tells once)
    too_many, everything_else = states["ListRunning"]["Catch"]
    assert too_many == {"ErrorEquals": ["States.DataLimitExceeded"], "Next": "TooManyRunning"}
    assert everything_else["ErrorEquals"] == ["States.ALL"] and everything_else["Next"] == "NotifyFailure"
    assert states["TooManyRunning"]["Type"] == "Fail" and states["TooManyRunning"]["Error"] == "TooManyRunning"
    assert "scores nothing" in states["TooManyRunning"]["Cause"]
    transform = states["Transform"]
    assert transform["Resource"] == "arn:aws:states:::sagemaker:createTransformJob.sync"
    params = transform["Parameters"]
    key = f"<{json.dumps(stack.resolve(batch.node.find_child('Model').attr_model_name)).replace(chr(34), '')}>"
    assert params["ModelName"] == key
    assert params["BatchStrategy"] == "MultiRecord"
    assert params["MaxPayloadInMB"] == 6
    assert "MaxConcurrentTransforms" not in params
    assert params["TransformInput"]["ContentType"] == "text/csv"
    assert params["TransformInput"]["SplitType"] == "Line"
    assert params["TransformInput"]["DataSource"]["S3DataSource"]["S3DataType"] == "S3Prefix"
    assert params["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"].endswith("/forecast/batch-input/")
    assert params["TransformOutput"]["Accept"] == "text/csv"
    assert params["TransformOutput"]["AssembleWith"] == "Line"
    assert params["TransformOutput"]["S3OutputPath.$"] == "$.run.output"
    assert params["TransformResources"]["InstanceType"] == "ml.m5.large"
    assert params["TransformResources"]["InstanceCount"] == 1
    assert params["TransformResources"]["VolumeKmsKeyId"] == params["TransformOutput"]["KmsKeyId"]
    assert params["DataProcessing"] == {"InputFilter": "$", "JoinSource": "None", "OutputFilter": "$"}
    assert transform["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "NotifyFailure"}]
    # max_run_time (24 hours) bounds the job: a task timeout is States.Timeout, which States.ALL catches, and is not retried
    assert transform["TimeoutSeconds"] == 24 * 3600
    assert all("States.Timeout" not in r["ErrorEquals"] and "States.ALL" not in r["ErrorEquals"] for r in transform["Retry"])
    assert states["NotifyFailure"]["Next"] == "Failed"
    assert states["Failed"] == {"Type": "Fail", "Error": "BatchTransformFailed", "Cause": "See the execution's failure notification"}
    output = states["Prepare"]["Output"]["run"]["output"]
    assert "/batch-output/acme-prod-forecast/run_date=' & $fromMillis(" in output


def test_max_run_time_is_the_jobs_timeout_and_the_execution_times_out_soon_after() -> None:
    """CDK's StateMachine(timeout=...) applies only to definitions it builds from states, not one from a string: the
    definition itself must carry TimeoutSeconds, at the top (the backstop) and on the Transform task (caught, notified)."""
    for run_time, seconds in ((None, 24 * 3600), (cdk.Duration.hours(3), 3 * 3600), (cdk.Duration.minutes(1), 60)):
        app, stack, _ = build(**({"max_run_time": run_time} if run_time else {}))
        template = synth(app, stack)
        machine = definition(template)
        assert machine["States"]["Transform"]["TimeoutSeconds"] == seconds
        assert machine["TimeoutSeconds"] == seconds + 15 * 60
        assert "TimeoutSeconds" not in only(template, "AWS::StepFunctions::StateMachine")  # not a property of the resource


def test_a_max_run_time_whose_execution_would_outlast_a_year_is_refused() -> None:
    build(max_run_time=cdk.Duration.seconds(365 * 24 * 3600 - 15 * 60))
    with pytest.raises(PropsError, match=r"^BatchInference: max_run_time: must be from 1 minute to 1 year less 15 minutes"):
        build(max_run_time=cdk.Duration.days(365))


def test_transform_fields_come_from_the_props() -> None:
    app, stack, _ = build(instance_type="ml.c5.2xlarge", instance_count=3, max_payload_mb=10, max_concurrent_transforms=4,
                          batch_strategy="SingleRecord", split_type="None", content_type="application/json", accept="application/jsonlines",
                          join_source="Input", input_filter="$.features", output_filter="$['id','SageMakerOutput']")
    params = definition(synth(app, stack))["States"]["Transform"]["Parameters"]
    assert params["TransformResources"]["InstanceType"] == "ml.c5.2xlarge"
    assert params["TransformResources"]["InstanceCount"] == 3
    assert params["MaxPayloadInMB"] == 10
    assert params["MaxConcurrentTransforms"] == 4
    assert params["BatchStrategy"] == "SingleRecord"
    assert params["TransformInput"]["SplitType"] == "None"
    assert params["TransformInput"]["ContentType"] == "application/json"
    assert params["TransformOutput"]["Accept"] == "application/jsonlines"
    assert params["TransformOutput"]["AssembleWith"] == "None"
    assert params["DataProcessing"] == {"InputFilter": "$.features", "JoinSource": "Input", "OutputFilter": "$['id','SageMakerOutput']"}


def test_the_machine_may_create_jobs_only_inside_the_guardrails_and_list_its_own_executions(
        built: tuple[dict[str, Any], cdk.Stack, BatchInference]) -> None:
    template, stack, batch = built
    statements = {s["Sid"]: s for s in policy(template, "Batch transform runs of") if "Sid" in s}
    create = statements["CreateJobsInsideGuardrails"]
    assert create["Action"] == "sagemaker:CreateTransformJob"
    assert set(create["Condition"]["ArnEquals"]) == {"sagemaker:VolumeKmsKey", "sagemaker:OutputKmsKey", "sagemaker:ModelArn"}
    assert create["Condition"]["ArnEquals"]["sagemaker:ModelArn"] == {"Fn::GetAtt": [stack.get_logical_id(batch.model), "ModelArn"]}
    listing = statements["ListOwnExecutions"]
    assert listing["Action"] == "states:ListExecutions"
    assert listing["Resource"] == "arn:aws:states:eu-west-1:444444444444:stateMachine:acme-prod-forecast-batch"
    assert statements["FollowJobs"]["Resource"] == "arn:aws:events:eu-west-1:444444444444:rule/StepFunctionsGetEventsForSageMakerTransformJobsRule"
    every_action = [a for s in policy(template, "Batch transform runs of") for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]
    assert "*" not in every_action
    assert "iam:PassRole" not in every_action  # a transform job takes no role: the model has one


def test_the_models_role_reads_the_input_and_writes_only_the_output_prefix(template: dict[str, Any]) -> None:
    statements = {s["Sid"]: s for s in policy(template, "Batch transform of acme-prod-forecast: package") if "Sid" in s}
    assert statements["WriteResults"]["Action"] == ["s3:AbortMultipartUpload", "s3:PutObject"]
    assert statements["WriteResults"]["Resource"]["Fn::Join"][1][-1] == "/batch-output/acme-prod-forecast/*"
    assert statements["ReadInput"]["Resource"]["Fn::Join"][1][-1] == "/forecast/batch-input/*"
    assert statements["ListInput"]["Condition"] == {"StringLike": {"s3:prefix": ["forecast/batch-input/*"]}}
    assert statements["DescribePackage"]["Resource"] == PACKAGE


def test_failures_alarm_and_triggers_start_the_machine(template: dict[str, Any]) -> None:
    alarms = {a["Properties"].get("AlarmName"): a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()}
    failed = alarms[f"{NAME}-batch-failed"]
    assert failed["MetricName"] == "ExecutionsFailed"
    assert failed["Statistic"] == "Sum"
    assert failed["Period"] == 3600
    assert failed["Threshold"] == 1
    assert failed["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert len(failed["AlarmActions"]) == 1
    # an execution the definition's own timeout ends is TIMED_OUT: counted apart, and caught by no Catch
    timed_out = alarms[f"{NAME}-batch-timed-out"]
    assert (timed_out["MetricName"], timed_out["Statistic"], timed_out["Period"], timed_out["Threshold"]) == ("ExecutionsTimedOut", "Sum", 3600, 1)
    assert timed_out["Dimensions"] == failed["Dimensions"]
    assert timed_out["AlarmActions"] == failed["AlarmActions"]
    assert f"{NAME}-batch-not-started" in alarms
    schedule = only(template, "AWS::Scheduler::Schedule")
    assert schedule["ScheduleExpression"] == "cron(0 4 * * ? *)"
    assert json.loads(schedule["Target"]["Input"]) == {"trigger": "Schedule"}
    (rule,) = [r["Properties"] for r in resources(template, "AWS::Events::Rule").values()]
    assert rule["EventPattern"]["source"] == ["aws.s3"]
    assert rule["EventPattern"]["detail-type"] == ["Object Created"]
    assert rule["EventPattern"]["detail"]["object"] == {"key": [{"prefix": "forecast/batch-input/"}]}


def test_without_triggers_there_is_no_schedule_rule_or_queue() -> None:
    app, stack, batch = build(schedule=REMOVE, on_new_data=REMOVE)
    template = synth(app, stack)
    assert batch.schedule is None and batch.new_data_rule is None and batch.trigger_dead_letter_queue is None
    assert resources(template, "AWS::Scheduler::Schedule") == {}
    assert resources(template, "AWS::SQS::Queue") == {}


def test_the_results_table_projects_run_date_partitions_over_the_output_prefix(template: dict[str, Any]) -> None:
    database = only(template, "AWS::Glue::Database")
    assert database["DatabaseInput"]["Name"] == "acme_prod_forecast"
    table = only(template, "AWS::Glue::Table")
    assert table["DatabaseName"] == "acme_prod_forecast"
    table_input = table["TableInput"]
    assert table_input["Name"] == "predictions"
    assert table_input["PartitionKeys"] == [{"Name": "run_date", "Type": "string", "Comment": "The run's start date (UTC)"}]
    parameters = table_input["Parameters"]
    assert {k: v for k, v in parameters.items() if k != "storage.location.template"} == {
        "classification": "csv", "projection.enabled": "true", "projection.run_date.type": "date", "projection.run_date.format": "yyyy-MM-dd",
        "projection.run_date.range": "NOW-5YEARS,NOW", "projection.run_date.interval": "1", "projection.run_date.interval.unit": "DAYS",
    }
    assert parameters["storage.location.template"]["Fn::Join"][1][-1] == "/batch-output/acme-prod-forecast/run_date=${run_date}/"
    assert table_input["StorageDescriptor"]["Columns"] == [{"Name": "prediction", "Type": "string"}]
    assert table_input["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"] == "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"


def test_grants_and_metrics(built: tuple[dict[str, Any], cdk.Stack, BatchInference]) -> None:
    _, stack, batch = built
    assert batch.grant_principal is batch.role
    assert len(batch.connections.security_groups) == 1
    assert stack.resolve(batch.metric_failed_runs().period.to_seconds()) == 3600
    assert batch.metric_run_time().statistic == "Maximum"
    assert batch.metric_timed_out_runs().metric_name == "ExecutionsTimedOut"
    assert batch.timed_out_alarm_name == f"{NAME}-batch-timed-out"
    assert batch.metric_succeeded_runs(statistic="Average").statistic == "Average"
    with pytest.raises(PropsError, match=r"^BatchInference: colour: is not a metric option"):
        batch.metric_failed_runs(colour="red")


def test_grant_read_results_covers_the_prefix_key_and_table() -> None:
    app, stack, batch = build()
    reader = iam.Role(stack, "Analyst", assumed_by=iam.AccountRootPrincipal())
    batch.grant_read_results(reader)
    batch.grant_start(reader)
    template = synth(app, stack)
    (statements,) = [p["Properties"]["PolicyDocument"]["Statement"] for p in resources(template, "AWS::IAM::Policy").values()]
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert {"glue:GetTable", "glue:GetPartitions", "glue:GetDatabase", "states:StartExecution", "kms:Decrypt", "s3:GetObject*"} <= actions
    assert "kms:Encrypt" not in actions  # without a catalog key, nothing for the catalog


def test_grant_read_results_with_the_catalog_key_gives_what_athena_needs_on_an_encrypted_catalog() -> None:
    """https://docs.aws.amazon.com/athena/latest/ug/access-encrypted-data-glue-data-catalog.html: kms:GenerateDataKey,
    kms:Decrypt and kms:Encrypt on the catalog's key."""
    app, stack, batch = build()
    reader = iam.Role(stack, "Analyst", assumed_by=iam.AccountRootPrincipal())
    catalog_key = kms.Key.from_key_arn(stack, "CatalogKey", "arn:aws:kms:eu-west-1:444444444444:key/11111111-2222-3333-4444-555555555555")
    batch.grant_read_results(reader, catalog_key=catalog_key)
    template = synth(app, stack)
    (statements,) = [p["Properties"]["PolicyDocument"]["Statement"] for p in resources(template, "AWS::IAM::Policy").values()]
    on_catalog_key = {a for s in statements if s["Resource"] == catalog_key.key_arn
                      for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert on_catalog_key == {"kms:GenerateDataKey", "kms:Decrypt", "kms:Encrypt"}
    with pytest.raises(PropsError, match=r"^BatchInference: catalog_key: must be a kms.IKey"):
        batch.grant_read_results(reader, catalog_key="alias/catalog")  # type: ignore[arg-type]


def test_the_models_role_pulls_only_from_the_image_repository_given() -> None:
    """CreateModel's ExecutionRoleArn is what SageMaker uses to access the model artifacts and docker image: a model with
    its own image needs the pull actions on its repository and a registry login."""
    app, stack, _ = build(image_repository=lambda stack: ecr.Repository.from_repository_arn(
        stack, "Models", "arn:aws:ecr:eu-west-1:222222222222:repository/acme-dev/models"))
    statements = {s["Sid"]: s for s in policy(synth(app, stack), "Batch transform of acme-prod-forecast: package") if "Sid" in s}
    assert sorted(statements["PullImage"]["Action"]) == ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    assert statements["PullImage"]["Resource"] == "arn:aws:ecr:eu-west-1:222222222222:repository/acme-dev/models"
    assert statements["RegistryLogin"]["Action"] == "ecr:GetAuthorizationToken"
    assert statements["RegistryLogin"]["Resource"] == "*"


def test_without_an_image_repository_the_model_may_pull_nothing(template: dict[str, Any]) -> None:
    actions = [a for s in policy(template, "Batch transform of acme-prod-forecast: package")
               for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]
    assert not [a for a in actions if a.startswith("ecr:")]


@pytest.mark.parametrize(("prop", "value", "message"), [
    ("name", "acme_prod", "BatchInference: name: must be 1-63 lowercase letters, digits and hyphens, starting and ending with a letter or digit"),
    # SageMaker job ARNs are lowercase: the job permission (<name>-batch-*) would match no job of this name
    ("name", "Acme-prod", "BatchInference: name: must be 1-63 lowercase letters, digits and hyphens"),
    ("model_package_arn", "arn:aws:sagemaker:eu-west-1:222222222222:model-package/acme-forecast",
     "BatchInference: model_package_arn: must be a versioned model package ARN"),
    ("input_prefix", "/in", "BatchInference: input_prefix: must be an S3 key prefix without a leading slash, ending with '/' (got '/in')"),
    ("instance_type", "ml.g4dn.xlarge", "BatchInference: instance_type: must be an instance type without local (NVMe) instance storage"),
    # real-time and training types that batch transform's API refuses (its TransformInstanceType enum has no t, r5 or g types)
    ("instance_type", "ml.t3.medium", "BatchInference: instance_type: must be a SageMaker batch transform instance type name (ml.<family>.<size>)"),
    ("instance_type", "ml.m7g.large", "BatchInference: instance_type: must be a SageMaker batch transform instance type name (ml.<family>.<size>)"),
    ("instance_count", 0, "BatchInference: instance_count: must be from 1 to 100 (got 0)"),
    ("max_payload_mb", 101, "BatchInference: max_payload_mb: must be from 0 to 100 MB (got 101)"),
    ("max_concurrent_transforms", 20, "BatchInference: max_concurrent_transforms: times max_payload_mb (6) must be at most 100 MB"),
    ("batch_strategy", "Multi", "BatchInference: batch_strategy: must be one of MultiRecord, SingleRecord (got 'Multi')"),
    ("split_type", "line", "BatchInference: split_type: must be one of None, Line, RecordIO, TFRecord (got 'line')"),
    ("join_source", "Output", "BatchInference: join_source: must be one of None, Input (got 'Output')"),
    ("accept", "application/x-parquet", "BatchInference: accept: must be one of text/csv, application/jsonlines (got 'application/x-parquet')"),
    # joined with CSV input the output is CSV, which a JSON table would read as nulls
    ("accept", "application/jsonlines", "BatchInference: accept: must be text/csv with join_source Input and content_type text/csv"),
    ("content_type", "application/x-npy", "BatchInference: content_type: must be text/csv, application/json or application/jsonlines with join_source Input"),
    ("input_filter", "[1:]", "BatchInference: input_filter: must be a JSONPath expression of at most 63 characters starting with '$'"),
    ("output_columns", {"Score": "double"}, "BatchInference: output_columns: each column name must be lowercase letters"),
    ("output_columns", {"score": "number"}, "BatchInference: output_columns.score: must be an Athena type"),
    ("output_prefix", "forecast/batch-input/out/", "BatchInference: output_prefix: must not overlap input_prefix forecast/batch-input/ in the same bucket"),
    ("schedule", "cron(0 4 * * ? *)", "BatchInference: schedule: must be ScheduleExpression (or None) (got 'cron(0 4 * * ? *)')"),
    ("max_run_time", cdk.Duration.seconds(10), "BatchInference: max_run_time: must be from 1 minute to 1 year"),
    ("max_run_time", cdk.Duration.seconds(cdk.Token.as_number(cdk.Fn.ref("RunTime"))),
     "BatchInference: max_run_time: must be known at synthesis: the definition carries it as TimeoutSeconds"),
    ("image_repository", "arn:aws:ecr:eu-west-1:222222222222:repository/models", "BatchInference: image_repository: must be an ecr.IRepository"),
    ("vpc", "vpc-123", "BatchInference: vpc: must be an ec2.IVpc (got 'vpc-123')"),
])
def test_invalid_props_name_the_field_the_value_and_what_is_allowed(prop: str, value: Any, message: str) -> None:
    kwargs: dict[str, Any] = {prop: value}
    if prop == "output_prefix":
        kwargs["output_bucket"] = lambda stack: stack.node.find_child("Store").data_bucket
    if "with join_source Input" in message:
        kwargs["join_source"] = "Input"
    with pytest.raises(PropsError) as caught:
        build(**kwargs)
    assert str(caught.value).startswith(message)


def test_the_input_prefix_may_be_a_token() -> None:
    app, stack, _ = build(input_prefix=cdk.Token.as_string(cdk.Fn.select(0, ["in/"])))
    assert definition(synth(app, stack))["States"]["Transform"]["Parameters"]["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"].endswith("/in/")


# --------------------------------------------------------------------------------------------------
# The platform: the default config's batch-only model, lead-scoring


def test_a_batch_only_model_gets_batch_stacks_in_its_stages_and_no_endpoint(platform: SynthesizedPlatform) -> None:
    for stage_name, stage in platform.stages.items():
        assert "lead-scoring" not in stage.endpoints
        if stage_name == "dev":
            assert "lead-scoring" not in stage.batches and "lead-scoring" not in stage.releases
            continue
        batch = stage.batches["lead-scoring"]
        assert batch.node.path == f"{stage_name.capitalize()}/Release-lead-scoring/Batch"
        assert batch.stack_name == f"mlops-demo-{stage_name}-lead-scoring-batch"
        assert batch.termination_protection is True
        template = platform.templates[batch.node.path]
        assert only(template, "AWS::SageMaker::Model")["Containers"] == [
            {"ModelPackageName": "arn:aws:sagemaker:eu-west-1:222222222222:model-package/mlops-demo-lead-scoring/1"}]
        assert {r["Type"] for r in template["Resources"].values()}.isdisjoint({"AWS::SageMaker::Endpoint", "AWS::SageMaker::EndpointConfig"})
        params = definition(template)["States"]["Transform"]["Parameters"]
        # rows are lead_id,f1,f2: the model sees the features only, the output keeps the whole row
        assert params["DataProcessing"] == {"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$"}
        model_policy = {s["Sid"]: s for s in policy(template, "Batch transform of mlops-demo-") if "Sid" in s}
        assert model_policy["PullImage"]["Resource"] == "arn:aws:ecr:eu-west-1:222222222222:repository/mlops-demo-dev/models"
        assert only(template, "AWS::Glue::Table")["DatabaseName"] == f"mlops_demo_{stage_name}_lead_scoring"
        assert only(template, "AWS::Scheduler::Schedule")["ScheduleExpression"] == "cron(0 4 * * ? *)"
        names = {m["Properties"].get("StateMachineName") for m in resources(template, "AWS::StepFunctions::StateMachine").values()}
        assert names == {f"mlops-demo-{stage_name}-lead-scoring-batch", None}  # and its drift check's (issue 19), named by CDK
        # lead-scoring is monitored: each successful run starts the drift check of its input, less the lead_id column
        assert definition(template)["States"]["Transform"]["Next"] == "CheckDrift"
        assert batch.drift_monitor is not None and batch.drift_monitor.source == "batch-input" and batch.drift_monitor.drop_columns == 1
        assert batch.drift_monitor.capture_prefix == "lead-scoring/batch-input/"
        assert batch.drift_monitor.drift_alarm.alarm_name is not None
    # churn, served in real time, has no batch stack
    assert all("churn" not in stage.batches for stage in platform.stages.values())


def test_data_arriving_for_a_batch_model_reaches_eventbridge_in_its_stages(platform: SynthesizedPlatform) -> None:
    for stage in ("dev", "staging", "prod"):  # dev for training's own trigger, staging and prod for lead-scoring's runs
        buckets = resources(platform.templates[f"{stage.capitalize()}/Storage"], "AWS::S3::Bucket")
        (data,) = [b["Properties"] for b in buckets.values() if b["Properties"].get("BucketName", "").startswith(f"mlops-demo-{stage}-data-")]
        assert data["NotificationConfiguration"]["EventBridgeConfiguration"] == {"EventBridgeEnabled": True}, stage


def test_the_catalog_of_a_stage_with_batch_runs_is_encrypted_with_the_stage_key(platform: SynthesizedPlatform) -> None:
    for stage in ("dev", "staging", "prod"):
        template = platform.templates[f"{stage.capitalize()}/Storage"]
        found = [r["Properties"] for r in resources(template, "AWS::Glue::DataCatalogEncryptionSettings").values()]
        if stage == "dev":  # no batch runs in dev: the account's catalog is left as it is
            assert found == []
            continue
        ((settings),) = found
        (key_id,) = resources(template, "AWS::KMS::Key")
        key_arn = {"Fn::GetAtt": [key_id, "Arn"]}
        assert settings["CatalogId"] == platform.config.accounts.for_stage(stage)
        assert settings["DataCatalogEncryptionSettings"] == {
            "EncryptionAtRest": {"CatalogEncryptionMode": "SSE-KMS", "SseAwsKmsKeyId": key_arn},
            "ConnectionPasswordEncryption": {"ReturnConnectionPasswordEncrypted": True, "KmsKeyId": key_arn},
        }


def test_a_batch_only_models_release_deploys_its_stages_without_a_smoke_test(platform: SynthesizedPlatform) -> None:
    from tests.test_release_pipelines import pipeline_of, release_template, shape

    pipeline = pipeline_of(release_template(platform, "lead-scoring"))
    stages = shape(pipeline)
    assert [name for name, _ in stages] == ["Source", "Synth", "Staging", "Prod"]
    # staging: the deployment is the gate (no endpoint to smoke-test); prod after a person's approval
    assert [provider for _, provider, _ in dict(stages)["Staging"]] == ["CodeBuild"]
    assert [provider for _, provider, _ in dict(stages)["Prod"]] == ["Manual", "CodeBuild"]
    deploys = {s["Name"]: s["Actions"][-1] for s in pipeline["Stages"] if s["Name"] in ("Staging", "Prod")}
    for name, action in deploys.items():
        environment = {v["name"]: v["value"] for v in json.loads(action["Configuration"]["EnvironmentVariables"])}
        assert environment["RELEASE_STACKS"] == f"{name}/Release-lead-scoring/*"


def test_a_release_synthesis_of_the_batch_model_holds_its_batch_stacks_only(tmp_path: Path, default_config: Any) -> None:
    from stacks import build_platform

    app = cdk.App(outdir=str(tmp_path), context=CDK_CONTEXT)
    stages = build_platform(app, default_config, {"lead-scoring": "arn:aws:sagemaker:eu-west-1:222222222222:model-package/mlops-demo-lead-scoring/2"},
                            release="lead-scoring", validate=False)
    assert {name: sorted(s.batches) for name, s in stages.items()} == {"dev": [], "staging": ["lead-scoring"], "prod": ["lead-scoring"]}
    assert all(not s.endpoints for s in stages.values())
    template = Template.from_stack(stages["prod"].batches["lead-scoring"]).to_json()
    assert only(template, "AWS::SageMaker::Model")["Containers"] == [
        {"ModelPackageName": "arn:aws:sagemaker:eu-west-1:222222222222:model-package/mlops-demo-lead-scoring/2"}]


def test_a_model_served_both_ways_in_every_stage_synthesizes_clean(tmp_path: Path) -> None:
    """churn served in real time and in batch, dev included (a shorter log retention, stateful resources that go):
    every pack and Guard clean, the endpoint and the batch stacks side by side in its release stage."""
    from mlops_constructs.config import PlatformConfig
    from tests.conftest import default_config_data, synthesize

    data = default_config_data()
    data["models"] = data["models"][:1]
    data["models"][0]["serving"] = ["realtime", "batch"]
    data["models"][0]["batch"] = {"stages": ["dev", "staging", "prod"], "schedule": "rate(1 day)", "accept": "application/jsonlines",
                                  "split_type": "None", "max_concurrent_transforms": 2}
    platform = synthesize(PlatformConfig.from_mapping(data, source="both.yaml"), tmp_path)  # fails on any open finding
    for stage in ("dev", "staging", "prod"):
        assert f"{stage.capitalize()}/Release-churn/Endpoint" in platform.templates
        template = platform.templates[f"{stage.capitalize()}/Release-churn/Batch"]
        table = only(template, "AWS::Glue::Table")["TableInput"]
        assert table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
        expected = ("Delete", "Delete") if stage == "dev" else ("Retain", "Retain")
        for type_ in ("AWS::KMS::Key", "AWS::Glue::Database", "AWS::Glue::Table"):
            for resource in resources(template, type_).values():
                assert (resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy")) == expected, (stage, type_)
        assert resources(template, "AWS::Events::Rule") == {}  # no on_new_data: the schedule only
    assert only(platform.templates["Dev/Release-churn/Batch"], "AWS::Logs::LogGroup")["RetentionInDays"] == 30


def test_a_retried_transform_gets_a_name_of_its_own_within_63_characters() -> None:
    """A Transform retry must not reuse the name SageMaker may already hold (a create whose answer was lost); with
    the longest name, the 14-digit stamp, 8 characters of the execution's name and the retry count it fits 63."""
    app, stack, _ = build(name="b" * 63)
    states = definition(synth(app, stack))["States"]
    literal = states["Prepare"]["Output"]["run"]["job"].split("'")[1]  # "{% '<prefix>-batch-' & <stamp> & '-' & <8> %}"
    assert literal.endswith("-batch-")
    retries = sum(r["MaxAttempts"] for r in states["Transform"]["Retry"])  # RetryCount counts every retrier's
    assert states["Transform"]["Parameters"]["TransformJobName.$"] == "States.Format('{}-{}', $.run.job, $$.State.RetryCount)"
    assert len(literal) + 14 + 1 + 8 + len(f"-{retries}") <= 63
