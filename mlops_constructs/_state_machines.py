"""What every state machine of the platform needs beside its own tasks: a role policy for log delivery,
X-Ray and its customer managed key, and that key's configuration on the machine.

Step Functions encrypts execution data (inputs, outputs, history) and the execution logs it delivers with
the machine's key when one is configured (https://docs.aws.amazon.com/step-functions/latest/dg/encryption-at-rest.html).
CDK's ``encryption_configuration`` would grant the same, but into the role's default policy (the platform's
roles take a managed policy and ``without_policy_updates``) and with a key statement that lets CloudWatch Logs'
delivery service decrypt with no condition; these helpers write each statement with its condition.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import CfnDeletionPolicy, Duration, Names, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from mlops_constructs._arns import arn
from mlops_constructs._iam import Statement, allow, policy_document, service_principal
from mlops_constructs._keys import add_key_statement, allow_scheduler_dead_letters
from mlops_constructs.compliance import ignore_cfn_lint


def any_state_machine_arn(stack: Stack) -> str:
    """Every state machine of the stack's account and region: a role's policy must exist before its machine,
    whose name is generated, so the encryption context cannot name the machine itself."""
    return arn(stack, "states", "stateMachine", "*", sep=":")


def execution_role_statements(stack: Stack, key_arn: str) -> list[Statement]:
    """The machine role's statements for log delivery, X-Ray, and its execution data and logs encrypted with
    ``key_arn``."""
    return [
        # Log delivery and X-Ray APIs have no resource-level permissions.
        allow(
            "DeliverLogs",
            ["logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
             "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups"],
            ["*"],
        ),
        allow("Traces", ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"], ["*"]),
        allow("EncryptExecutionData", ["kms:Decrypt", "kms:GenerateDataKey"], [key_arn],
              {"ArnLike": {"kms:EncryptionContext:aws:states:stateMachineArn": any_state_machine_arn(stack)}}),
        allow("EncryptExecutionLogs", ["kms:GenerateDataKey"], [key_arn],
              {"ArnLike": {"kms:EncryptionContext:SourceArn": arn(stack, "logs", "*", "", sep="")}}),
    ]


def follow_sagemaker_jobs(sid: str, stack: Stack, *kinds: str) -> Statement:
    """What the ``.sync`` SageMaker integration needs to follow jobs of ``kinds`` (``Training``, ``Processing``,
    ``Tuning``): the EventBridge rules Step Functions manages for them
    (https://docs.aws.amazon.com/step-functions/latest/dg/sagemaker-iam.html)."""
    return allow(sid, ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                 [arn(stack, "events", "rule", f"StepFunctionsGetEventsForSageMaker{kind}JobsRule") for kind in kinds])


def pass_job_role(role_arn: str) -> Statement:
    """Passing the jobs' execution role to SageMaker, and to nothing else."""
    return allow("PassJobRole", ["iam:PassRole"], [role_arn], {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}})


def start_execution_statements(stack: Stack, machine_arn: str, key_arn: str) -> list[Statement]:
    """What a role that starts the machine needs: ``states:StartExecution``, and encrypting the execution's
    input with the machine's key."""
    return [
        allow(None, ["states:StartExecution"], [machine_arn]),
        allow("EncryptExecutionInput", ["kms:GenerateDataKey"], [key_arn],
              {"ArnLike": {"kms:EncryptionContext:aws:states:stateMachineArn": any_state_machine_arn(stack)}}),
    ]


def start_on_schedule(
    scope: Construct,
    id: str,
    *,
    machine: sfn.IStateMachine,
    machine_key_arn: str,
    expression: scheduler.ScheduleExpression,
    input: Mapping[str, Any],
    dead_letter_queue: sqs.IQueue,
    dead_letter_key_arn: str,
    retry_attempts: int,
    max_event_age: Duration,
    account: str,
    description: str,
    role_description: str,
    policy_description: str,
    role: iam.IRole | None = None,
    role_policy: iam.ManagedPolicy | None = None,
    schedule_name: str | None = None,
) -> scheduler.Schedule:
    """An EventBridge Scheduler schedule (``id``) that starts ``machine`` with ``input``, and its role
    (``ScheduleRole``, policy ``SchedulePolicy``), both children of ``scope``, unless ``role`` and its
    ``role_policy`` are given (they must hold :func:`schedule_role_statements`).

    A Scheduler schedule is not a rule on an event bus, whose 300 rules per bus a platform of many models
    would exhaust; schedules have quotas of their own, in the millions per Region
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html,
    https://docs.aws.amazon.com/scheduler/latest/UserGuide/scheduler-quotas.html). ``expression`` is read in
    UTC unless it names a time zone, like a rule's, and the flexible time window is off: the target is
    invoked at the expression's times. An invocation that still fails after ``retry_attempts`` retries within
    ``max_event_age`` goes to ``dead_letter_queue``, which Scheduler writes with the schedule's role
    (https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html), so the role may
    send to that queue and use its key through SQS, besides starting this one machine.
    """
    stack = Stack.of(scope)
    if isinstance(dead_letter_queue, sqs.Queue) and dead_letter_queue.encryption_master_key is not None:
        allow_scheduler_dead_letters(dead_letter_queue.encryption_master_key)
    if role is None or role_policy is None:
        role = iam.Role(scope, "ScheduleRole", assumed_by=service_principal("scheduler.amazonaws.com", account), description=role_description)
        role_policy = iam.ManagedPolicy(scope, "SchedulePolicy", description=policy_description, roles=[role],  # type: ignore[list-item]
                                        document=policy_document(schedule_role_statements(stack, machine.state_machine_arn, machine_key_arn,
                                                                                          dead_letter_queue, dead_letter_key_arn)))
    policy = role_policy
    schedule = scheduler.Schedule(
        scope, id, description=description, schedule=expression, schedule_name=schedule_name,
        # The policy above is complete: the target's own grants would need a mutable role.
        target=scheduler_targets.StepFunctionsStartExecution(
            machine, role=role.without_policy_updates(), input=scheduler.ScheduleTargetInput.from_object(dict(input)),
            dead_letter_queue=dead_letter_queue, retry_attempts=retry_attempts, max_event_age=max_event_age,
        ),
    )
    schedule.node.add_dependency(policy)  # the first invocation finds the role able to start the machine
    return schedule


def schedule_role_statements(stack: Stack, machine_arn: str, machine_key_arn: str, dead_letter_queue: sqs.IQueue,
                             dead_letter_key_arn: str) -> list[Statement]:
    """What a schedule's role needs: start the machine, and write the schedule's dead-letter queue (Scheduler
    writes it with the schedule's role)."""
    return [
        *start_execution_statements(stack, machine_arn, machine_key_arn),
        allow("SendDeadLetters", ["sqs:SendMessage"], [dead_letter_queue.queue_arn]),
        allow("EncryptDeadLetters", ["kms:GenerateDataKey", "kms:Decrypt"], [dead_letter_key_arn],
              {"StringEquals": {"kms:ViaService": f"sqs.{stack.region}.amazonaws.com"}}),
    ]


def execution_log_group(scope: Construct, id: str, *, key: kms.IKey, retention: logs.RetentionDays, removal_policy: RemovalPolicy) -> logs.LogGroup:
    """A state machine's execution log group, encrypted with ``key``, named ``/aws/vendedlogs/states/<unique name>``.

    When a state machine logs to a group, CloudWatch Logs adds the group to the account's log delivery resource
    policy, which holds 5,120 characters per region: ~35 machines with groups named elsewhere fill it, and the next
    machine fails to create ("The CloudWatch Logs Resource Policy size was exceeded"). For groups under
    ``/aws/vendedlogs/`` it grants the prefix once instead (https://docs.aws.amazon.com/step-functions/latest/dg/bp-cwl.html).

    A group created before it had this name is replaced when the name comes; the old group is kept (its logs expire
    by its own retention) rather than deleted with its logs, whatever ``removal_policy`` says for deleting the stack."""
    group = logs.LogGroup(
        scope, id, log_group_name=f"/aws/vendedlogs/states/{Names.unique_resource_name(scope, max_length=200, separator='-')}-{id}",
        encryption_key=key, retention=retention, removal_policy=removal_policy,
    )
    resource = group.node.default_child
    assert isinstance(resource, logs.CfnLogGroup)
    resource.cfn_options.update_replace_policy = CfnDeletionPolicy.RETAIN
    return group


def allow_execution_log_delivery(key: kms.Key, account: str) -> None:
    """Let CloudWatch Logs' delivery service decrypt with ``key``, for ``account`` only, to write a machine's
    encrypted execution logs."""
    add_key_statement(key, iam.PolicyStatement(
        sid="DeliverExecutionLogs", actions=["kms:Decrypt"], resources=["*"],
        principals=[service_principal("delivery.logs.amazonaws.com")], conditions={"StringEquals": {"aws:SourceAccount": account}},
    ))


def finish(machine: sfn.StateMachine, policy: iam.ManagedPolicy, key: kms.IKey) -> None:
    """Encrypt ``machine``'s execution data with ``key`` (see :func:`allow_execution_log_delivery`), and create
    the machine after its role's ``policy``."""
    resource = machine.node.default_child
    assert isinstance(resource, sfn.CfnStateMachine)
    resource.add_resource_dependency(policy.node.default_child, "The machine's role needs its policy before the first run")  # type: ignore[arg-type]
    ignore_cfn_lint(resource, "W3005", "CDK's StateMachine adds a DependsOn on its role beside the GetAtt of the role's ARN; harmless.")
    resource.encryption_configuration = sfn.CfnStateMachine.EncryptionConfigurationProperty(
        type="CUSTOMER_MANAGED_KMS_KEY", kms_key_id=key.key_arn, kms_data_key_reuse_period_seconds=300,
    )


SNS_RETRY_ERRORS: tuple[str, ...] = ("SNS.SdkClientException", "SNS.ThrottledException", "SNS.InternalErrorException", "SNS.KMSThrottlingException")
"""What a notification state retries (5 s, 3 attempts, backoff 2): an unreachable or throttled SNS, or a throttled
KMS behind the encrypted topic (Publish's errors: https://docs.aws.amazon.com/sns/latest/api/API_Publish.html#API_Publish_Errors).
A notice is how a person learns of a failed run, so a passing hiccup must not lose it."""


def notify_then_fail(topic_arn: Any, subject: str, message: Mapping[str, Any], error: str) -> dict[str, dict[str, Any]]:
    """The ``NotifyFailure`` and ``Failed`` states that end a hand-written (ASL) machine's failed run: the caught
    failure is published to ``topic_arn`` with ``subject`` (SNS allows 100 characters) and ``message``, then the run
    fails with ``error``."""
    return {
        "NotifyFailure": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sns:publish",
            "Parameters": {"TopicArn": topic_arn, "Subject": subject[:100], "Message": dict(message)},
            "ResultPath": None,
            "Retry": [{"ErrorEquals": list(SNS_RETRY_ERRORS), "IntervalSeconds": 5, "MaxAttempts": 3, "BackoffRate": 2}],
            "Next": "Failed",
        },
        "Failed": {"Type": "Fail", "Error": error, "Cause": "See the execution's failure notification"},
    }


def notify_statements(topic_arn: str, topic_key_arn: str | None, region: str) -> list[Statement]:
    """What a state machine needs to publish its failure notifications: the topic, and its key through SNS only."""
    return [
        allow("NotifyFailures", ["sns:Publish"], [topic_arn]),
        *([allow("EncryptNotifications", ["kms:GenerateDataKey", "kms:Decrypt"], [topic_key_arn],
                 {"StringEquals": {"kms:ViaService": f"sns.{region}.amazonaws.com"}})] if topic_key_arn is not None else []),
    ]
