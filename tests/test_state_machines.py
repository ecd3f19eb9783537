"""Every Step Functions state machine the platform synthesizes, checked against AWS's rules rather than
this project's model of them: the States Language (npm's asl-validator) and, for each Task state, the
input shape of the API it calls (botocore's service models). See tests/validators/state_machines.py.

The second half shows each check failing on a deliberately broken definition."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from mlops_constructs._state_machines import SNS_RETRY_ERRORS
from tests.conftest import SynthesizedPlatform, resources
from tests.validators.state_machines import (
    STATE_MACHINE,
    Renderer,
    StackInfo,
    UnknownIntrinsic,
    UnsupportedResource,
    asl_validate,
    check_tasks,
    integration,
    state_machines,
)


def _count(value: Any, predicate: Any) -> int:
    """How many objects anywhere in ``value`` satisfy ``predicate`` (a walk independent of the validator's)."""
    if isinstance(value, dict):
        return int(predicate(value)) + sum(_count(v, predicate) for v in value.values())
    if isinstance(value, list):
        return sum(_count(v, predicate) for v in value)
    return 0


@pytest.fixture(scope="module", params=["platform", "three_model_platform"])
def synthesized(request: pytest.FixtureRequest) -> SynthesizedPlatform:
    return request.getfixturevalue(request.param)


def test_every_state_machine_is_found_and_rendered(synthesized: SynthesizedPlatform) -> None:
    machines = state_machines(synthesized)
    in_templates = sum(len(resources(t, STATE_MACHINE)) for t in synthesized.templates.values())
    assert len(machines) == in_templates
    assert len(machines) >= len(synthesized.config.models)  # one training pipeline per model, at least
    for machine in machines:
        assert machine.definition["StartAt"] in machine.definition["States"]


def test_every_state_machine_logs_to_a_vended_logs_group_kept_when_replaced(synthesized: SynthesizedPlatform) -> None:
    # CloudWatch Logs adds each machine's log group to the account's log delivery resource policy (5,120 characters
    # per region, ~35 groups named elsewhere); groups under /aws/vendedlogs/ are granted once by that prefix
    # (https://docs.aws.amazon.com/step-functions/latest/dg/bp-cwl.html). Existing groups renamed by the upgrade are
    # replaced: their logs are kept, not deleted.
    checked = 0
    for template in synthesized.templates.values():
        groups = resources(template, "AWS::Logs::LogGroup")
        for machine in resources(template, STATE_MACHINE).values():
            (destination,) = machine["Properties"]["LoggingConfiguration"]["Destinations"]
            logical_id = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
            group = groups[logical_id]
            assert group["Properties"]["LogGroupName"].startswith("/aws/vendedlogs/states/"), logical_id
            assert group["UpdateReplacePolicy"] == "Retain", logical_id
            checked += 1
    assert checked >= len(synthesized.config.models)
    names = [g["Properties"].get("LogGroupName") for t in synthesized.templates.values() for g in resources(t, "AWS::Logs::LogGroup").values()]
    vended = [n for n in names if isinstance(n, str) and n.startswith("/aws/vendedlogs/states/")]
    assert len(vended) == len(set(vended)) == checked  # one group per machine, each its own name


def test_every_state_machine_passes_asl_validator(synthesized: SynthesizedPlatform) -> None:
    machines = state_machines(synthesized)
    errors = asl_validate({m.name: m.definition for m in machines})
    assert set(errors) == {m.name for m in machines}
    assert [f"{name}: {error}" for name, found in errors.items() for error in found] == []


def _states(definition: dict[str, Any]) -> list[dict[str, Any]]:
    """Every state of ``definition``, in Parallel branches and Map item processors too."""
    found = []
    for state in definition.get("States", {}).values():
        found.append(state)
        for branch in state.get("Branches", []):
            found += _states(branch)
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                found += _states(state[key])
    return found


def test_every_notification_retries_what_sns_may_answer_for_a_moment(synthesized: SynthesizedPlatform) -> None:
    # A failure notice is how a person learns of a failed run: every SNS publish retries an unreachable or throttled
    # SNS and a throttled KMS behind the encrypted topic, with the same retrier everywhere.
    publishes = [(m.name, state) for m in state_machines(synthesized) for state in _states(m.definition)
                 if state.get("Type") == "Task" and str(state.get("Resource", "")).endswith("states:::sns:publish")]
    assert len(publishes) >= 2 * len(synthesized.config.models)  # the training pipelines' notices at least
    for name, state in publishes:
        retriers = [r for r in state.get("Retry", []) if set(SNS_RETRY_ERRORS) <= set(r["ErrorEquals"])]
        assert retriers, (name, state.get("Retry"))


def test_every_task_state_passes_the_botocore_check(synthesized: SynthesizedPlatform) -> None:
    machines = state_machines(synthesized)
    findings, checked = [], 0
    for machine in machines:
        found, count = check_tasks(machine.name, machine.definition)
        findings += [str(f) for f in found]
        checked += count
    tasks = sum(_count(m.definition, lambda o: o.get("Type") == "Task" and "Resource" in o) for m in machines)
    assert tasks >= len(machines)  # a pipeline without a single task would be a rendering slip
    assert checked == tasks
    assert findings == []


# --------------------------------------------------------------------------------------------------
# The validators fail on broken input

ROLE = "arn:aws:iam::222222222222:role/jobs"


def training_task(**overrides: Any) -> dict[str, Any]:
    parameters: dict[str, Any] = {
        "TrainingJobName.$": "States.Format('churn-t-{}', $$.Execution.Name)",
        "RoleArn": ROLE,
        "AlgorithmSpecification": {"TrainingImage": "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1", "TrainingInputMode": "File"},
        "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri.$": "$.train_uri"}}}],
        "OutputDataConfig": {"S3OutputPath": "s3://artifacts/churn/model"},
        "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 50},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "HyperParameters": {"num_round": "200"},
    }
    parameters.update(overrides)
    return {
        "StartAt": "Train",
        "States": {
            "Train": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
                "Parameters": {k: v for k, v in parameters.items() if v is not None},
                "Next": "Notify",
            },
            "Notify": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sns:publish",
                "Parameters": {"TopicArn": "arn:aws:sns:eu-west-1:222222222222:t", "Message": {"result": "trained", "job.$": "$.TrainingJobName"}},
                "End": True,
            },
        },
    }


def botocore_findings(definition: dict[str, Any]) -> list[str]:
    findings, checked = check_tasks("test", definition)
    assert checked == _count(definition, lambda o: o.get("Type") == "Task")
    return [f"{f.state}: {f.path}: {f.message}" for f in findings]


def test_a_valid_minimal_definition_passes_both_checks() -> None:
    definition = training_task()
    assert asl_validate({"valid": definition}) == {"valid": []}
    assert botocore_findings(definition) == []


def test_asl_validator_reports_a_next_to_a_missing_state_and_keeps_the_valid_one_apart() -> None:
    broken = training_task()
    broken["States"]["Train"]["Next"] = "Evaluate"
    errors = asl_validate({"broken": broken, "valid": training_task()})
    assert errors["valid"] == []
    assert len(errors["broken"]) >= 1
    assert any("Evaluate" in e for e in errors["broken"]), errors


def test_an_unknown_parameter_is_reported_with_its_path() -> None:
    definition = training_task(TrainingJobNam="churn-t-1")
    findings = botocore_findings(definition)
    assert len(findings) == 1 and findings[0].startswith("Train: TrainingJobNam: sagemaker.CreateTrainingJob: unknown parameter"), findings


def test_unknown_parameters_are_found_at_every_nesting_level_and_for_dynamic_keys() -> None:
    definition = training_task(
        ResourceConfig={"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 50, "VolumeKmsKey": "k"},
        InputDataConfig=[{"ChannelName": "train", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Url.$": "$.train_uri"}}}],
    )
    findings = botocore_findings(definition)
    assert [f.split(": ")[1] for f in findings] == [
        "InputDataConfig[0].DataSource.S3DataSource.S3Url",
        "InputDataConfig[0].DataSource.S3DataSource.S3Uri",  # and the real one is then missing
        "ResourceConfig.VolumeKmsKey",
    ], findings


def test_a_missing_required_parameter_is_reported() -> None:
    findings = botocore_findings(training_task(RoleArn=None))
    assert findings == ["Train: RoleArn: sagemaker.CreateTrainingJob: missing required parameter of CreateTrainingJobRequest"]


def test_a_dynamic_key_counts_as_the_parameter_being_present() -> None:
    definition = training_task(RoleArn=None)
    definition["States"]["Train"]["Parameters"]["RoleArn.$"] = "$.role"
    assert botocore_findings(definition) == []


def test_an_enum_violation_is_reported() -> None:
    definition = training_task(AlgorithmSpecification={"TrainingImage": "image", "TrainingInputMode": "Streaming"})
    (finding,) = botocore_findings(definition)
    assert finding.startswith("Train: AlgorithmSpecification.TrainingInputMode: sagemaker.CreateTrainingJob: 'Streaming' is not one of")
    assert "File" in finding


def test_a_too_long_literal_name_is_reported() -> None:
    definition = training_task()
    del definition["States"]["Train"]["Parameters"]["TrainingJobName.$"]
    definition["States"]["Train"]["Parameters"]["TrainingJobName"] = "churn-" + "t" * 58  # 64 characters
    findings = botocore_findings(definition)
    assert findings == ["Train: TrainingJobName: sagemaker.CreateTrainingJob: 64 characters, more than the maximum 63"]
    definition["States"]["Train"]["Parameters"]["TrainingJobName"] = "churn-" + "t" * 57
    assert botocore_findings(definition) == []


def test_a_wrong_literal_type_is_reported() -> None:
    definition = training_task(ResourceConfig={"InstanceCount": "2", "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 50})
    assert botocore_findings(definition) == ["Train: ResourceConfig.InstanceCount: sagemaker.CreateTrainingJob: expected an integer, got str '2'"]
    definition = training_task(EnableNetworkIsolation="true", HyperParameters={"num_round": 200})
    assert sorted(botocore_findings(definition)) == [
        "Train: EnableNetworkIsolation: sagemaker.CreateTrainingJob: expected a boolean, got str 'true'",
        "Train: HyperParameters.num_round: sagemaker.CreateTrainingJob: expected a string, got int 200",
    ]


def test_value_ranges_and_patterns_are_checked() -> None:
    definition = training_task(
        ResourceConfig={"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 50},
        StoppingCondition={"MaxRuntimeInSeconds": 0},
        RoleArn="arn:aws:iam::role/jobs-in-no-account",  # long enough, but no account id
    )
    assert [f.split(": ")[1] for f in botocore_findings(definition)] == ["RoleArn", "StoppingCondition.MaxRuntimeInSeconds"]


def test_a_message_given_as_an_object_is_accepted_only_where_step_functions_serializes_it() -> None:
    definition = training_task()
    definition["States"]["Notify"]["Parameters"]["Subject"] = {"not": "a string"}
    assert botocore_findings(definition) == ["Notify: Subject: sns.Publish: expected a string, got dict {'not': 'a string'}"]


def test_jsonata_arguments_are_checked_and_expressions_skipped() -> None:
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Send",
        "States": {
            "Send": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:sfn:startExecution",
                "Arguments": {"StateMachineArn": "{% $states.input.arn %}", "Input": "{% $string($states.input) %}", "Nam": "x"},
                "End": True,
            }
        },
    }
    assert asl_validate({"jsonata": definition}) == {"jsonata": []}
    assert botocore_findings(definition) == ["Send: Nam: stepfunctions.StartExecution: unknown parameter for StartExecutionInput; allowed: Input, Name, StateMachineArn, TraceHeader"]


def test_tasks_inside_parallel_branches_and_maps_are_checked() -> None:
    inner = training_task(TrainingJobNam="x")
    definition = {
        "StartAt": "Fan",
        "States": {
            "Fan": {"Type": "Parallel", "Branches": [inner], "Next": "Each"},
            "Each": {"Type": "Map", "ItemsPath": "$.jobs", "ItemProcessor": copy.deepcopy(inner), "End": True},
        },
    }
    assert [f.split(": ")[0] for f in botocore_findings(definition)] == ["Fan/Branch0/Train", "Each/ItemProcessor/Train"]


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        ("arn:aws:states:::sagemaker:createModel.sync", "does not support .sync"),
        ("arn:aws:states:::sagemaker:createTrainingJob.waitForTaskToken", "does not support .waitForTaskToken"),
        ("arn:aws:states:::aws-sdk:sagemaker:createTrainingJob.sync", "AWS SDK integrations do not support .sync"),
        ("arn:aws:states:::glue:startJobRun.sync", "no rule for the optimized integration glue:startJobRun"),
        ("arn:aws:states:::aws-sdk:nosuchservice:doThing", "no botocore model"),
        ("arn:aws:states:::aws-sdk:s3:getObjekt", "s3 has no operation GetObjekt"),
    ],
)
def test_resources_without_a_rule_are_findings_not_passes(resource: str, message: str) -> None:
    definition = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "Parameters": {}, "End": True}}}
    (finding,) = botocore_findings(definition)
    assert finding.startswith(f"T: Resource: {resource}: ") and message in finding, finding


def test_resource_names_map_to_botocore_operations() -> None:
    assert (integration("arn:aws:states:::aws-sdk:sfn:startExecution").service, integration("arn:aws:states:::aws-sdk:sfn:startExecution").operation) == (
        "stepfunctions",
        "StartExecution",
    )
    assert integration("arn:aws-us-gov:states:::sagemaker:createHyperParameterTuningJob.sync").operation == "CreateHyperParameterTuningJob"
    assert integration("arn:aws:states:::states:startExecution.sync:2").json_payloads == frozenset({("Input",)})
    with pytest.raises(UnsupportedResource):
        integration("arn:aws:states:::lambda:invoke.sync")


STACK = StackInfo(
    name="demo-dev-training",
    account="222222222222",
    region="eu-west-1",
    template={
        "Resources": {
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "notify"}},
            "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
            "Thing": {"Type": "AWS::Custom::Thing", "Properties": {}},
        }
    },
)
STORAGE = StackInfo(
    name="demo-dev-storage",
    account="222222222222",
    region="eu-west-1",
    template={"Resources": {"Key": {"Type": "AWS::KMS::Key"}}, "Outputs": {"KeyArn": {"Value": {"Fn::GetAtt": ["Key", "Arn"]}}}},
)


def test_the_renderer_gives_stand_ins_per_resource_type_and_reads_other_stacks() -> None:
    renderer = Renderer({s.name: s for s in (STACK, STORAGE)})
    value = {
        "Fn::Join": [
            "|",
            [
                {"Ref": "Topic"},
                {"Fn::GetAtt": ["Role", "Arn"]},
                {"Ref": "AWS::Region"},
                {"Fn::GetStackOutput": {"StackName": "demo-dev-storage", "Region": "eu-west-1", "OutputName": "KeyArn"}},
            ],
        ]
    }
    topic, role, region, key = renderer.render(value, STACK).split("|")
    assert topic == "arn:aws:sns:eu-west-1:222222222222:notify"
    assert role == "arn:aws:iam::222222222222:role/Role"
    assert region == "eu-west-1"
    assert key.startswith("arn:aws:kms:eu-west-1:222222222222:key/") and len(key.rsplit("/", 1)[1]) == 36
    assert Renderer({}, overrides={("AWS::SNS::Topic", "Ref"): "arn:moto"}).render({"Ref": "Topic"}, STACK) == "arn:moto"


@pytest.mark.parametrize(
    "value",
    [
        {"Fn::Sub": ["${X}", {"X": "y"}]},  # the variables form is not rendered
        {"Ref": "Thing"},
        {"Fn::GetAtt": ["Topic", "Nonexistent"]},
        {"Ref": "Missing"},
        {"Fn::GetStackOutput": {"StackName": "elsewhere", "Region": "eu-west-1", "OutputName": "X"}},
        {"Ref": "Topic", "Extra": 1},
    ],
)
def test_the_renderer_fails_loudly_on_what_it_cannot_stand_in_for(value: dict[str, Any]) -> None:
    with pytest.raises(UnknownIntrinsic):
        Renderer({s.name: s for s in (STACK, STORAGE)}).render(value, STACK)


def test_a_slip_in_the_platforms_own_definition_is_caught(platform: SynthesizedPlatform) -> None:
    """The checks bite on the real pipeline, not only on the small definitions above."""
    machine = next(m for m in state_machines(platform) if m.template == "Dev/Models-1/Training-churn")
    definition = copy.deepcopy(machine.definition)
    train = definition["States"]["Train"]
    train["Parameters"]["ResourceConfig"]["InstanceCount"] = str(train["Parameters"]["ResourceConfig"]["InstanceCount"])
    definition["States"]["Register"]["Next"] = "Registred"
    (finding,) = check_tasks(machine.name, definition)[0]
    assert (finding.state, finding.path) == ("Train", "ResourceConfig.InstanceCount")
    errors = asl_validate({"slipped": definition})["slipped"]
    assert any("Registred" in e for e in errors), errors


def test_parameter_names_follow_step_functions_naming_not_the_apis() -> None:
    """PascalCase for camelCase APIs (stepfunctions), and EqualsValue for a member named Equals."""

    def selector(field_selector: dict[str, Any]) -> dict[str, Any]:
        return {
            "StartAt": "Select",
            "States": {
                "Select": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::aws-sdk:cloudtrail:putEventSelectors",
                    "Parameters": {"TrailName": "trail", "AdvancedEventSelectors": [{"FieldSelectors": [field_selector]}]},
                    "End": True,
                }
            },
        }

    assert botocore_findings(selector({"Field": "eventCategory", "EqualsValue": ["Data"]})) == []
    (finding,) = botocore_findings(selector({"Field": "eventCategory", "Equals": ["Data"]}))
    assert finding.startswith("Select: AdvancedEventSelectors[0].FieldSelectors[0].Equals: cloudtrail.PutEventSelectors: unknown parameter")
    camel, required = botocore_findings(
        {"StartAt": "S", "States": {"S": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution", "Parameters": {"stateMachineArn": "arn:aws:states:eu-west-1:222222222222:stateMachine:m"}, "End": True}}}
    )
    assert camel.startswith("S: stateMachineArn: stepfunctions.StartExecution: unknown parameter")
    assert required.startswith("S: StateMachineArn: stepfunctions.StartExecution: missing required parameter")


def test_the_renderer_substitutes_pseudo_parameters_and_attributes_in_fn_sub() -> None:
    template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "alerts"}}}}
    stack = StackInfo(name="s", account="123456789012", region="eu-west-1", template=template)
    rendered = Renderer(stacks={"s": stack}).render({"Fn::Sub": "${AWS::AccountId}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}/r:${!tag} ${Topic}"}, stack)
    assert rendered == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/r:${tag} arn:aws:sns:eu-west-1:123456789012:alerts"
