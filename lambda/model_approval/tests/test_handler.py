"""Every behaviour of the approval function, against moto: SageMaker's registry, SSM, CodePipeline in
the tooling account reached through STS, and SNS."""

from __future__ import annotations

import copy
import io
import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import GROUP, PARAMETER, TOOLING_ACCOUNT, World, state_change_event


def invoke(handler_module: Any, event: Any, context: Any) -> dict[str, Any]:
    return handler_module.handler(event, context)


def test_approval_releases_the_package(world: World, handler_module, lambda_context) -> None:
    arn = world.register()
    world.set_status(arn, "Approved")
    result = invoke(handler_module, state_change_event(arn, "Approved"), lambda_context)
    assert result["action"] == "released"
    assert result["model_package_arn"] == arn
    assert result["previous_arn"] is None
    assert world.released() == arn
    assert world.released_parameter_type() == "String"  # a plain ARN, as the release pipeline reads it
    assert world.pipeline_starts() == [arn]


def test_every_delivery_of_one_event_starts_the_release_with_the_same_request_token(world: World, handler_module, lambda_context) -> None:
    # Lambda retries an event whose invocation failed (after the start, say, the parameter's write): CodePipeline
    # answers a repeated clientRequestToken with the execution it started, instead of starting another
    import boto3

    tokens: list[str | None] = []
    record = lambda params, **_: tokens.append(params.get("clientRequestToken"))  # noqa: E731
    events = boto3._get_default_session().events
    events.register("before-parameter-build.codepipeline.StartPipelineExecution", record)
    try:
        previous, arn = world.register("Approved"), world.register("Approved")
        event = state_change_event(arn, "Approved")
        other = state_change_event(arn, "Approved") | {"id": "5c7a0e1f-0000-4000-8000-000000000001"}
        for delivery in (event, copy.deepcopy(event), other):
            world.release(previous)  # as if the last invocation's write of the parameter had failed
            assert invoke(handler_module, delivery, lambda_context)["action"] == "released"
    finally:
        events.unregister("before-parameter-build.codepipeline.StartPipelineExecution", record)
    version = arn.rsplit("/", 1)[1]
    assert tokens == [f"{event['id']}-{version}", f"{event['id']}-{version}", f"{other['id']}-{version}"]


def test_pipeline_is_started_in_the_tooling_account_through_the_release_role(world: World, handler_module, lambda_context) -> None:
    arn = world.register("Approved")
    invoke(handler_module, state_change_event(arn, "Approved"), lambda_context)
    execution = world.codepipeline.list_pipeline_executions(pipelineName="acme-release")["pipelineExecutionSummaries"]
    assert len(execution) == 1
    # the pipeline exists only in the tooling account: starting it there is what succeeded
    import boto3

    with pytest.raises(ClientError, match="PipelineNotFound"):
        boto3.client("codepipeline").list_pipeline_executions(pipelineName="acme-release")
    assert TOOLING_ACCOUNT in world.codepipeline.get_pipeline(name="acme-release")["metadata"]["pipelineArn"]


def test_without_a_release_role_the_pipeline_is_started_directly(world: World, handler_module, lambda_context, monkeypatch) -> None:
    monkeypatch.delenv("RELEASE_ROLE_ARN")
    arn = world.register("Approved")
    with pytest.raises(ClientError, match="PipelineNotFound"):  # no pipeline of that name in this account
        invoke(handler_module, state_change_event(arn, "Approved"), lambda_context)
    assert world.released() is None  # nothing half-done: the parameter is not written


def test_the_same_approval_again_does_not_start_a_second_release(world: World, handler_module, lambda_context) -> None:
    arn = world.register("Approved")
    event = state_change_event(arn, "Approved")
    assert invoke(handler_module, event, lambda_context)["action"] == "released"
    again = invoke(handler_module, copy.deepcopy(event), lambda_context)
    assert again["action"] == "already-released"
    assert world.pipeline_starts() == [arn]


def test_a_stale_approval_changes_nothing(world: World, handler_module, lambda_context) -> None:
    arn = world.register("Approved")
    world.set_status(arn, "Rejected")  # the registry moved on before the event arrived
    result = invoke(handler_module, state_change_event(arn, "Approved"), lambda_context)
    assert result["action"] == "ignored"
    assert "Rejected" in result["reason"]
    assert world.released() is None
    assert world.pipeline_starts() == []


def test_a_newer_approval_replaces_the_released_package(world: World, handler_module, lambda_context) -> None:
    first, second = world.register("Approved"), world.register("Approved")
    world.release(first)
    result = invoke(handler_module, state_change_event(second, "Approved"), lambda_context)
    assert (result["action"], result["previous_arn"], result["released_arn"]) == ("released", first, second)
    assert world.released() == second


def test_an_edit_of_an_older_approved_package_does_not_release_it_again(world: World, handler_module, lambda_context) -> None:
    # SageMaker sends the state change event for any field of a package, with its current status: a metadata or
    # lifecycle edit of an approved version arrives as "Approved", naming the fields it updated.
    older, newer = world.register("Approved"), world.register("Approved")
    world.release(newer)
    for fields in (["ModelLifeCycle"], ["CustomerMetadataProperties", "ApprovalDescription"]):
        result = invoke(handler_module, state_change_event(older, "Approved", updated=fields), lambda_context)
        assert result["action"] == "ignored" and "not of the approval" in result["reason"]
    assert world.released() == newer
    assert world.pipeline_starts() == []


@pytest.mark.parametrize("updated", [None, []], ids=["fields-left-out", "no-fields"])
def test_an_event_naming_no_field_long_after_an_older_packages_creation_does_not_replace_the_released_one(
        world: World, handler_module, lambda_context, updated: list[str] | None) -> None:
    # AWS does not say when UpdatedModelPackageFields is left out: should an edit of an older approved package arrive
    # without it, it is not that package's registration, and the released newer package stays
    older, newer = world.register("Approved"), world.register("Approved")
    world.release(newer)
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    result = invoke(handler_module, state_change_event(older, "Approved", updated=updated, time=later), lambda_context)
    assert result["action"] == "ignored" and "not its registration" in result["reason"], result
    assert world.released() == newer and world.pipeline_starts() == []
    (alert,) = world.alerts()  # told, so that a person can approve it again
    assert older in alert and "set its status to Approved again" in alert
    # a package registered approved just now is released over the other, as its registration
    newest = world.register("Approved")
    assert invoke(handler_module, state_change_event(newest, "Approved", updated=updated), lambda_context)["action"] == "released"
    assert world.released() == newest


@pytest.mark.parametrize("updated", [None, []], ids=["fields-left-out", "no-fields"])
def test_a_package_registered_approved_is_released(world: World, handler_module, lambda_context, updated: list[str] | None) -> None:
    # a package created with its approval names no updated fields (AWS does not say whether it leaves them out)
    arn = world.register("Approved")
    assert invoke(handler_module, state_change_event(arn, "Approved", updated=updated), lambda_context)["action"] == "released"
    assert world.released() == arn


def test_two_approvals_delivered_out_of_order_leave_the_later_released(world: World, handler_module, lambda_context) -> None:
    # EventBridge does not keep events in order: the earlier approval's event may arrive last.
    first, second = world.register("Approved"), world.register("Approved")
    now = datetime.now(timezone.utc)
    assert invoke(handler_module, state_change_event(second, "Approved", time=now - timedelta(minutes=1)), lambda_context)["action"] == "released"
    late = invoke(handler_module, state_change_event(first, "Approved", time=now - timedelta(minutes=2)), lambda_context)
    assert late["action"] == "ignored" and "before the event of the last decision" in late["reason"]
    assert world.released() == second
    assert world.pipeline_starts() == [second]
    # an approval after the decision's event is a new decision: an older version approved again is released
    assert invoke(handler_module, state_change_event(first, "Approved", time=now), lambda_context)["action"] == "released"
    assert world.released() == first


def test_an_approval_made_while_the_last_one_was_being_released_is_released(world: World, handler_module, lambda_context) -> None:
    # Delivery, a cold start, AssumeRole and the pipeline start take seconds, and the function runs one event at a
    # time: an approval made meanwhile is later than the decision's event, though earlier than its write.
    first, second = world.register("Approved"), world.register("Approved")
    now = datetime.now(timezone.utc)
    assert invoke(handler_module, state_change_event(first, "Approved", time=now - timedelta(seconds=10)), lambda_context)["action"] == "released"
    result = invoke(handler_module, state_change_event(second, "Approved", time=now - timedelta(seconds=5)), lambda_context)
    assert result["action"] == "released"
    assert world.released() == second


def test_a_fix_approved_just_after_rejecting_the_released_version_is_released(world: World, handler_module, lambda_context) -> None:
    good, bad, fix = world.register("Approved"), world.register("Approved"), world.register()
    now = datetime.now(timezone.utc)
    assert invoke(handler_module, state_change_event(bad, "Approved", time=now - timedelta(minutes=5)), lambda_context)["action"] == "released"
    world.set_status(bad, "Rejected")
    assert invoke(handler_module, state_change_event(bad, "Rejected", time=now - timedelta(seconds=10)), lambda_context)["action"] == "rolled-back"
    assert world.released() == good
    world.set_status(fix, "Approved")
    assert invoke(handler_module, state_change_event(fix, "Approved", time=now - timedelta(seconds=8)), lambda_context)["action"] == "released"
    assert world.released() == fix
    assert world.pipeline_starts() == [bad, good, fix]


def test_a_parameter_written_by_someone_else_does_not_hold_back_an_approval(world: World, handler_module, lambda_context) -> None:
    # written by hand, without the function's description: no decision time to compare with
    first, second = world.register("Approved"), world.register("Approved")
    world.release(first)
    old = datetime.now(timezone.utc) - timedelta(days=1)
    assert invoke(handler_module, state_change_event(second, "Approved", time=old), lambda_context)["action"] == "released"


def test_rejecting_the_released_package_rolls_back_to_the_newest_other_approved(world: World, handler_module, lambda_context) -> None:
    older, newer, released = world.register("Approved"), world.register("Approved"), world.register("Approved")
    pending = world.register()  # not approved: never a rollback target
    world.release(released)
    world.set_status(released, "Rejected")
    result = invoke(handler_module, state_change_event(released, "Rejected"), lambda_context)
    assert result["action"] == "rolled-back"
    assert result["released_arn"] == newer
    assert world.released() == newer
    assert world.pipeline_starts() == [newer]
    assert older != newer and pending not in world.pipeline_starts()


def test_after_a_withdrawal_a_late_older_approval_stays_ignored_and_a_new_one_releases(
        world: World, handler_module, lambda_context) -> None:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    first, second = world.register("Approved"), world.register("Approved")
    assert invoke(handler_module, state_change_event(second, "Approved", time=now - timedelta(minutes=3)), lambda_context)["action"] == "released"
    world.set_status(second, "Rejected")
    world.set_status(first, "Rejected")
    assert invoke(handler_module, state_change_event(second, "Rejected", time=now - timedelta(minutes=1)), lambda_context)["action"] == "withdrawn"
    # first's approval happened before the withdrawal and arrives after it, with the registry approving it again meanwhile
    world.set_status(first, "Approved")
    late = invoke(handler_module, state_change_event(first, "Approved", time=now - timedelta(minutes=2)), lambda_context)
    assert (late["action"], late["released_arn"]) == ("ignored", None)
    assert world.pipeline_starts() == [second]
    # an approval after the withdrawal releases, the parameter being overwritten, not created again
    assert invoke(handler_module, state_change_event(first, "Approved", time=now), lambda_context)["action"] == "released"
    assert world.released() == first and world.pipeline_starts() == [second, first]


def test_the_current_decision_is_the_highest_parameter_version_whatever_the_history_order(
        world: World, handler_module, lambda_context, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = world.register("Approved"), world.register("Approved")
    world.release(first)
    world.release(second)
    releaser = handler_module.Releaser(handler_module.Settings.from_environment())
    history = [p for page in releaser.ssm.get_paginator("get_parameter_history").paginate(Name=PARAMETER) for p in page["Parameters"]]
    assert [p["Value"] for p in history] == [first, second]

    class Reversed:  # AWS documents no order of the entries
        def paginate(self, **_: Any) -> list[dict[str, Any]]:
            return [{"Parameters": [history[1]]}, {"Parameters": [history[0]]}]

    monkeypatch.setattr(releaser.ssm, "get_paginator", lambda name: Reversed())
    assert releaser._released()[0] == second


def test_rejecting_the_only_approved_package_withdraws_it_and_alerts(world: World, handler_module, lambda_context) -> None:
    arn = world.register("Approved")
    world.release(arn)
    world.set_status(arn, "Rejected")
    result = invoke(handler_module, state_change_event(arn, "Rejected"), lambda_context)
    assert result["action"] == "withdrawn"
    assert result["released_arn"] is None
    # kept, set to none: deleting it would make an approval within 30 s recreate its name (SSM asks to wait)
    assert world.released() == "none"
    assert world.pipeline_starts() == []
    (alert,) = world.notifications()
    assert alert["Subject"] == f"Model withdrawn: {GROUP}"
    assert alert["Message"] == (
        f"Model package {arn} (version 1) of group {GROUP} was rejected while released, and no other package of the "
        f"group is approved. The approved-model parameter {PARAMETER} was set to none; the deployed endpoints keep serving "
        "it until a new package is approved."
    )


@pytest.mark.parametrize(
    "scenario",
    ["rejected-other-package", "pending", "other-group", "stale-rejection"],
)
def test_events_that_need_no_action_have_no_side_effects(world: World, handler_module, lambda_context, scenario: str) -> None:
    released, other = world.register("Approved"), world.register("Approved")
    world.release(released)
    if scenario == "rejected-other-package":
        world.set_status(other, "Rejected")
        event = state_change_event(other, "Rejected")
    elif scenario == "pending":
        event = state_change_event(world.register(), "PendingManualApproval")
    elif scenario == "other-group":
        fraud = world.sagemaker.create_model_package(ModelPackageGroupName="acme-fraud", ModelApprovalStatus="Approved")["ModelPackageArn"]
        event = state_change_event(fraud, "Approved", group="acme-fraud")
    else:  # a Rejected event for the released package, but the registry says Approved again
        event = state_change_event(released, "Rejected")
    result = invoke(handler_module, event, lambda_context)
    assert result["action"] == "ignored"
    assert world.released() == released
    assert world.pipeline_starts() == []
    assert world.alerts() == []


def _without(key: str) -> Any:
    event = state_change_event("arn:aws:sagemaker:eu-west-1:123456789012:model-package/acme-churn/1", "Approved")
    del event["detail"][key]
    return event


def _without_top(key: str) -> Any:
    event = state_change_event("arn:aws:sagemaker:eu-west-1:123456789012:model-package/acme-churn/1", "Approved")
    del event[key]
    return event


def _with(top: dict[str, Any] | None = None, detail: dict[str, Any] | None = None) -> Any:
    event = state_change_event("arn:aws:sagemaker:eu-west-1:123456789012:model-package/acme-churn/1", "Approved")
    event.update(top or {})
    if detail:
        event["detail"].update(detail)
    return event


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ("not an event", "event must be an EventBridge event object, got str"),
        (None, "event must be an EventBridge event object, got NoneType"),
        (_with(top={"source": "aws.s3"}), "event source must be 'aws.sagemaker', got 'aws.s3'"),
        (_with(top={"detail-type": "SageMaker Training Job State Change"}),
         "event detail-type must be 'SageMaker Model Package State Change', got 'SageMaker Training Job State Change'"),
        (_with(detail={"ModelApprovalStatus": ""}), "event detail is missing ModelApprovalStatus"),  # empty is missing
        (_with(detail={"ModelPackageArn": None, "ModelApprovalStatus": ""}), "event detail is missing ModelPackageArn, ModelApprovalStatus"),
        (_without("ModelApprovalStatus"), "event detail is missing ModelApprovalStatus"),
        (_without("ModelPackageArn"), "event detail is missing ModelPackageArn"),
        (_with(top={"detail": "oops"}), "event detail must be an object, got str"),
        (_without_top("detail"), "event detail must be an object, got no detail"),
        (_with(top={"detail": None}), "event detail must be an object, got NoneType"),
        (_without_top("source"), "event source must be 'aws.sagemaker', got None"),
        (_without_top("detail-type"), "event detail-type must be 'SageMaker Model Package State Change', got None"),
        (_without("ModelPackageVersion"), "event detail is missing ModelPackageVersion"),
        (_without("ModelPackageGroupName"), "event detail is missing ModelPackageGroupName"),
        (_with(detail={"ModelPackageArn": ["arn"]}), "detail.ModelPackageArn is not a model package ARN: ['arn']"),
        (_with(detail={"ModelPackageVersion": True}), "detail.ModelPackageVersion must be an integer, got True"),
        (_with(detail={"ModelApprovalStatus": 1}), "detail.ModelApprovalStatus must be a string, got 1"),
        (_with(detail={"ModelPackageGroupName": ["acme-churn"]}), "detail.ModelPackageGroupName must be a string, got ['acme-churn']"),
        (_with(detail={"ModelPackageArn": "arn:aws:sagemaker:eu-west-1:123456789012:model/acme-churn"}), "detail.ModelPackageArn is not a model package ARN"),
        (_with(detail={"ModelPackageVersion": "1"}), "detail.ModelPackageVersion must be an integer, got '1'"),
        (_with(detail={"ModelPackageGroupName": "acme-fraud"}), "does not belong to group 'acme-fraud' version 1"),
        (_with(detail={"UpdatedModelPackageFields": "ModelApprovalStatus"}),
         "detail.UpdatedModelPackageFields must be a list of field names, got 'ModelApprovalStatus'"),
        (_without_top("time"), "event time must be an ISO 8601 time with a zone, got None"),
        (_with(top={"time": "yesterday"}), "event time must be an ISO 8601 time with a zone, got 'yesterday'"),
        (_with(top={"time": "2026-11-28T10:00:00"}), "event time must be an ISO 8601 time with a zone, got '2026-11-28T10:00:00'"),
    ],
)
def test_malformed_events_raise_before_any_side_effect(world: World, handler_module, lambda_context, event: Any, message: str) -> None:
    world.release("arn:aws:sagemaker:eu-west-1:123456789012:model-package/acme-churn/9")
    with pytest.raises(ValueError, match=re.escape(message)):
        invoke(handler_module, event, lambda_context)
    assert world.released().endswith("/9")
    assert world.pipeline_starts() == []


def test_aws_errors_are_raised_so_the_event_is_retried(world: World, handler_module, lambda_context, monkeypatch) -> None:
    arn = world.register("Approved")
    monkeypatch.setenv("RELEASE_PIPELINE_NAME", "no-such-pipeline")
    with pytest.raises(ClientError):
        invoke(handler_module, state_change_event(arn, "Approved"), lambda_context)
    assert world.released() is None
    monkeypatch.setenv("RELEASE_PIPELINE_NAME", "acme-release")  # fixed: the retry succeeds
    assert invoke(handler_module, state_change_event(arn, "Approved"), lambda_context)["action"] == "released"


def test_clients_use_standard_retry_mode(handler_module) -> None:
    assert handler_module.BOTO_CONFIG.retries == {"mode": "standard", "total_max_attempts": 5}


@pytest.mark.parametrize("release_role", [True, False])
def test_every_client_the_function_creates_retries_in_standard_mode(
    world: World, handler_module, lambda_context, monkeypatch: pytest.MonkeyPatch, release_role: bool,
) -> None:
    """Throttling and transient errors are retried by every call (registry, parameter, pipeline, alert),
    not only by some: a rollback then a withdrawal, with and without the release role."""
    import boto3

    created = []
    real_client = boto3.client

    def recording_client(*args: Any, **kwargs: Any) -> Any:
        client = real_client(*args, **kwargs)
        created.append(client)
        return client

    monkeypatch.setattr(boto3, "client", recording_client)
    if not release_role:  # the pipeline is then started with the function's own credentials
        monkeypatch.delenv("RELEASE_ROLE_ARN")
        monkeypatch.setenv("RELEASE_PIPELINE_NAME", "acme-release-local")
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "codepipeline.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
        local = copy.deepcopy(world.codepipeline.get_pipeline(name="acme-release")["pipeline"])
        local["name"] = "acme-release-local"
        local["roleArn"] = real_client("iam").create_role(RoleName="pipeline", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        real_client("codepipeline").create_pipeline(pipeline=local)
    older, released = world.register("Approved"), world.register("Approved")
    world.release(released)
    world.set_status(released, "Rejected")
    assert invoke(handler_module, state_change_event(released, "Rejected"), lambda_context)["action"] == "rolled-back"
    world.set_status(older, "Rejected")
    assert invoke(handler_module, state_change_event(older, "Rejected"), lambda_context)["action"] == "withdrawn"
    services = sorted({client.meta.service_model.service_name for client in created})
    assert services == (["codepipeline", "sagemaker", "sns", "ssm", "sts"] if release_role else ["codepipeline", "sagemaker", "sns", "ssm"])
    assert [client.meta.config.retries for client in created] == [{"mode": "standard", "total_max_attempts": 5}] * len(created)


def test_each_decision_is_one_structured_log_line(world: World, handler_module, lambda_context) -> None:
    arn = world.register("Approved")
    stream = io.StringIO()
    previous = handler_module.logger.registered_handler.setStream(stream)
    try:
        invoke(handler_module, state_change_event(arn, "Approved"), lambda_context)
    finally:
        handler_module.logger.registered_handler.setStream(previous)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    decisions = [line for line in lines if line.get("message") == "model approval decision"]
    assert len(decisions) == 1
    (decision,) = decisions
    assert decision["level"] == "INFO"
    assert {k: decision[k] for k in ("model_package_group", "model_package_arn", "model_package_version", "previous_arn", "action")} == {
        "model_package_group": GROUP, "model_package_arn": arn, "model_package_version": 1, "previous_arn": "none", "action": "released",
    }


def executions(world: World, pipeline: str) -> list[str]:
    """The ModelPackageArn variable of each execution of ``pipeline``, oldest first."""
    summaries = world.codepipeline.list_pipeline_executions(pipelineName=pipeline)["pipelineExecutionSummaries"]
    found = []
    for summary in reversed(summaries):
        execution = world.codepipeline.get_pipeline_execution(pipelineName=pipeline, pipelineExecutionId=summary["pipelineExecutionId"])
        found.append({v["name"]: v["resolvedValue"] for v in execution["pipelineExecution"]["variables"]}["ModelPackageArn"])
    return found


def test_two_models_approved_in_the_same_minute_each_start_their_own_release(
    world: World, handler_module, lambda_context, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each model's approval function starts that model's release pipeline, and only it: two approvals at
    # once are two executions of two pipelines, neither waiting for the other (stacks.release_stack).
    fraud_pipeline = "acme-release-fraud"
    churn_pipeline = world.codepipeline.get_pipeline(name="acme-release")["pipeline"]
    world.codepipeline.create_pipeline(pipeline={**churn_pipeline, "name": fraud_pipeline})
    churn = world.register("Approved")
    fraud = world.sagemaker.create_model_package(
        ModelPackageGroupName="acme-fraud", ModelApprovalStatus="Approved",
        InferenceSpecification={"Containers": [{"Image": "222222222222.dkr.ecr.eu-west-1.amazonaws.com/acme-dev/models:fraud"}],
                                "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
    )["ModelPackageArn"]
    assert invoke(handler_module, state_change_event(churn, "Approved"), lambda_context)["action"] == "released"
    monkeypatch.setenv("MODEL_PACKAGE_GROUP_NAME", "acme-fraud")
    monkeypatch.setenv("APPROVED_MODEL_PARAMETER", "/mlops/acme-fraud/approved-model-package-arn")
    monkeypatch.setenv("RELEASE_PIPELINE_NAME", fraud_pipeline)
    assert invoke(handler_module, state_change_event(fraud, "Approved", group="acme-fraud"), lambda_context)["action"] == "released"
    assert executions(world, "acme-release") == [churn]
    assert executions(world, fraud_pipeline) == [fraud]


def test_two_approvals_of_one_model_in_a_row_start_its_release_twice_the_later_last(world: World, handler_module, lambda_context) -> None:
    # The release pipeline runs in SUPERSEDED mode (tests/test_release_pipelines.py): the later execution
    # overtakes or follows the earlier one stage by stage, so the later package is the one left deployed.
    first, second = world.register("Approved"), world.register("Approved")
    assert invoke(handler_module, state_change_event(first, "Approved"), lambda_context)["action"] == "released"
    assert invoke(handler_module, state_change_event(second, "Approved"), lambda_context)["action"] == "released"
    assert executions(world, "acme-release") == [first, second]
    assert world.released() == second


def invoke_logged(handler_module: Any, event: Any, context: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The handler's result and the JSON log lines it wrote."""
    stream = io.StringIO()
    previous = handler_module.logger.registered_handler.setStream(stream)
    try:
        result = invoke(handler_module, event, context)
    finally:
        handler_module.logger.registered_handler.setStream(previous)
    return result, [json.loads(line) for line in stream.getvalue().splitlines()]


def test_without_an_alert_topic_a_withdrawal_is_logged_as_a_warning(
    world: World, handler_module, lambda_context, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ALERT_TOPIC_ARN")
    arn = world.register("Approved")
    world.release(arn)
    world.set_status(arn, "Rejected")
    result, lines = invoke_logged(handler_module, state_change_event(arn, "Rejected"), lambda_context)
    assert (result["action"], result["previous_arn"], result["released_arn"]) == ("withdrawn", arn, None)
    assert world.released() == "none"  # withdrawn all the same
    assert world.pipeline_starts() == []
    assert world.alerts() == []
    warnings = [line for line in lines if line["level"] == "WARNING"]
    assert [(w["message"], w["model_package_arn"]) for w in warnings] == [("no ALERT_TOPIC_ARN: the withdrawal is only logged", arn)]


@pytest.mark.parametrize(
    ("unset", "blank", "message"),
    [
        (["MODEL_PACKAGE_GROUP_NAME"], [], "missing environment variables: MODEL_PACKAGE_GROUP_NAME"),
        (["APPROVED_MODEL_PARAMETER"], [], "missing environment variables: APPROVED_MODEL_PARAMETER"),
        (["RELEASE_PIPELINE_NAME"], [], "missing environment variables: RELEASE_PIPELINE_NAME"),
        ([], ["APPROVED_MODEL_PARAMETER"], "missing environment variables: APPROVED_MODEL_PARAMETER"),  # empty is missing
        (["MODEL_PACKAGE_GROUP_NAME"], ["RELEASE_PIPELINE_NAME"], "missing environment variables: MODEL_PACKAGE_GROUP_NAME, RELEASE_PIPELINE_NAME"),
    ],
)
def test_a_missing_required_environment_variable_raises_naming_it_before_any_side_effect(
    world: World, handler_module, lambda_context, monkeypatch: pytest.MonkeyPatch, unset: list[str], blank: list[str], message: str,
) -> None:
    arn = world.register("Approved")
    for name in unset:
        monkeypatch.delenv(name)
    for name in blank:
        monkeypatch.setenv(name, "")
    with pytest.raises(RuntimeError) as raised:
        invoke(handler_module, state_change_event(arn, "Approved"), lambda_context)
    assert str(raised.value) == message
    assert world.released() is None
    assert world.pipeline_starts() == []


@pytest.mark.parametrize(
    "scenario",
    ["first-release", "newer-release", "already-released", "rolled-back", "withdrawn", "pending", "other-group",
     "stale-approval", "stale-rejection", "rejected-other-package"],
)
def test_every_decision_returns_and_logs_the_previous_and_released_packages(
    world: World, handler_module, lambda_context, scenario: str,
) -> None:
    older, released = world.register("Approved"), world.register("Approved")
    event_arn, status, group, version = released, "Approved", GROUP, 2
    if scenario == "first-release":
        expected = ("released", None, released, "approved")
    elif scenario == "newer-release":
        world.release(older)
        expected = ("released", older, released, "approved")
    elif scenario == "already-released":
        world.release(released)
        expected = ("already-released", released, released, "the parameter already holds this package")
    elif scenario == "rolled-back":
        world.release(released)
        world.set_status(released, "Rejected")
        status = "Rejected"
        expected = ("rolled-back", released, older, "released package rejected; newest other approved package released")
    elif scenario == "withdrawn":
        world.release(released)
        world.set_status(released, "Rejected")
        world.set_status(older, "Rejected")
        status = "Rejected"
        expected = ("withdrawn", released, None, "released package rejected and no other package is approved")
    elif scenario == "pending":
        world.release(older)
        event_arn, status, version = world.register(), "PendingManualApproval", 3
        expected = ("ignored", older, older, "status PendingManualApproval needs no action")
    elif scenario == "other-group":
        world.release(older)  # not read: the event is not this function's
        event_arn = world.sagemaker.create_model_package(ModelPackageGroupName="acme-fraud", ModelApprovalStatus="Approved")["ModelPackageArn"]
        group, version = "acme-fraud", 1
        expected = ("ignored", None, None, "event is for group 'acme-fraud'")
    elif scenario == "stale-approval":
        world.release(older)
        world.set_status(released, "Rejected")
        expected = ("ignored", older, older, "the registry now says Rejected")
    elif scenario == "stale-rejection":  # a Rejected event for the released package, but the registry says Approved again
        world.release(released)
        status = "Rejected"
        expected = ("ignored", released, released, "the registry now says Approved")
    else:
        world.release(older)
        world.set_status(released, "Rejected")
        status = "Rejected"
        expected = ("ignored", older, older, "the rejected package is not the released one")
    result, lines = invoke_logged(handler_module, state_change_event(event_arn, status, group=group), lambda_context)
    action, previous_arn, released_arn, reason = expected
    assert result == {
        "action": action, "model_package_arn": event_arn, "model_package_group": group, "model_package_version": version,
        "approval_status": status, "previous_arn": previous_arn, "released_arn": released_arn, "reason": reason,
    }
    (decision,) = [line for line in lines if line["message"] == "model approval decision"]
    assert decision["level"] == "INFO"
    # Every decision line carries every field; an absent ARN is logged as "none".
    assert {k: decision[k] for k in result} == {k: "none" if v is None else v for k, v in result.items()}
