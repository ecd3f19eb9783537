"""Key-policy statements and alarms that several constructs need for their KMS-encrypted resources."""

from __future__ import annotations

import contextlib
import weakref

from aws_cdk import Aws
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from mlops_constructs import _durations as durations
from mlops_constructs._iam import service_principal
from mlops_constructs.compliance import acknowledge_each, guard


# Pseudo parameters are constant tokens: read once (each read is a round trip to jsii's Node process).
_ACCOUNT_ID, _PARTITION, _REGION = Aws.ACCOUNT_ID, Aws.PARTITION, Aws.REGION


class Key(kms.Key):
    """A ``kms.Key`` (the platform's own keys) to which :func:`add_key_statement` adds a statement in one round trip to
    jsii's Node process instead of three: ``add_to_resource_policy`` returns a struct, which jsii reads field by field
    (``statementAdded``, ``policyDependable``), while this adds to the key's policy document directly, as that method
    itself does. Otherwise a ``kms.Key`` like any other."""

    _document: iam.PolicyDocument | None = None

    def add_statement(self, statement: iam.PolicyStatement) -> None:
        if self._document is None:
            self._document = self._policy  # read once; kms.Key makes an empty document when given none
            if self._document is None:
                self.add_to_resource_policy(statement)
                return
        self._document.add_statements(statement)


def add_key_statement(key: kms.Key, statement: iam.PolicyStatement) -> None:
    """Add ``statement`` to ``key``'s policy (any ``kms.Key``; the platform's own, :class:`Key`, in one round trip)."""
    if isinstance(key, Key):
        key.add_statement(statement)
    else:
        key.add_to_resource_policy(statement)


def allow_cloudwatch_logs(key: kms.Key, sid: str = "CloudWatchLogsOfThisAccount") -> None:
    """Let CloudWatch Logs use ``key`` for log groups of this account and region only.

    The group's own ARN cannot be named: a log group encrypted with the key depends on the key.
    """
    add_key_statement(
        key,
        iam.PolicyStatement(
            sid=sid,
            principals=[service_principal(f"logs.{_REGION}.amazonaws.com")],
            actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            resources=["*"],  # in a key policy, "*" means this key
            conditions={
                "ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:{_PARTITION}:logs:{_REGION}:{_ACCOUNT_ID}:log-group:*"}
            },
        )
    )


def allow_log_delivery(key: kms.Key) -> None:
    """Let the log delivery service (``delivery.logs.amazonaws.com``) use ``key`` for this account's log deliveries,
    into log groups encrypted with it.

    AWS's documentation does not say whether a CloudWatch Logs destination encrypted with a customer managed key needs
    this, and AWS's own code differs: aws-cdk-lib grants nothing for log group destinations, while AWS's Modern Data
    Architecture Accelerator grants ``kms:GenerateDataKey`` and ``kms:Decrypt`` to this principal and reports that
    without them "delivery fails at deploy with AccessDenied". Granted, limited to this account
    (``aws:SourceAccount``, ``aws:SourceArn``): a delivery that fails would leave the logs nowhere."""
    add_key_statement(
        key,
        iam.PolicyStatement(
            sid="LogDeliveryOfThisAccount",
            principals=[service_principal("delivery.logs.amazonaws.com")],
            actions=["kms:GenerateDataKey*", "kms:Decrypt"],
            resources=["*"],  # in a key policy, "*" means this key
            conditions={
                "StringEquals": {"aws:SourceAccount": _ACCOUNT_ID},
                # what aws-cdk-lib puts in a log delivery resource policy: any CloudWatch Logs resource of this account
                "ArnLike": {"aws:SourceArn": f"arn:{_PARTITION}:logs:{_REGION}:{_ACCOUNT_ID}:*"},
            },
        )
    )


def deny_grants_except_for_aws_resources(key: kms.Key) -> None:
    """Deny ``kms:CreateGrant`` on ``key`` unless an AWS service asks for it, for one of its resources
    (Control Tower's CT.KMS.PR.3). SageMaker, Lambda, CloudWatch Logs and the other integrated services
    still create the grants they need; no principal of an account can hand the key to another directly."""
    add_key_statement(
        key,
        iam.PolicyStatement(
            sid="GrantsOnlyForAwsResources",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["kms:CreateGrant"],
            resources=["*"],  # in a key policy, "*" means this key
            conditions={"BoolIfExists": {"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}},
        )
    )


def allow_dead_letters_and_alarms(key: kms.Key) -> None:
    """Let EventBridge write undeliverable events to queues encrypted with ``key``, and CloudWatch alarms
    publish to topics encrypted with it; both only on behalf of this account."""
    allow_event_dead_letters(key)
    _allow_for_this_account(key, "CloudWatchAlarms", "cloudwatch.amazonaws.com")


def allow_event_dead_letters(key: kms.Key) -> None:
    """Let EventBridge write undeliverable events to queues encrypted with ``key``, on behalf of this account.

    ``aws:SourceAccount`` is checked only when the request carries it (``IfExists``): AWS documents the key
    statement for this without a condition (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html,
    service principals writing to an encrypted queue), nowhere that EventBridge's KMS request through SQS carries
    the key, and IAM's reference has it only on requests a service principal makes directly. Were it absent, a plain
    ``StringEquals`` would refuse the write, and the event would be dropped, the queue's alarm never firing. The
    queue's own policy is what admits only this account's rules (``aws:SourceArn``)."""
    _allow_for_this_account(key, "EventBridgeDeadLetters", "events.amazonaws.com", if_exists=True)


def allow_scheduler_dead_letters(key: kms.IKey) -> None:
    """Let EventBridge Scheduler write the invocations it could not make to queues encrypted with ``key``.

    AWS's pages differ: the dead-letter queue page asks only for the schedule role's ``sqs:SendMessage``
    (https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html; the role also may use the
    key through SQS), the troubleshooting page for this key statement as well
    (https://docs.aws.amazon.com/scheduler/latest/UserGuide/troubleshooting.html). Both are given; ``IfExists`` as for
    EventBridge (:func:`allow_event_dead_letters`). A key imported from elsewhere is not changed."""
    if isinstance(key, kms.Key):
        _allow_for_this_account(key, "SchedulerDeadLetters", "scheduler.amazonaws.com", if_exists=True)


def _allow_for_this_account(key: kms.Key, sid: str, service: str, *, if_exists: bool = False) -> None:
    add_key_statement(
        key,
        iam.PolicyStatement(
            sid=sid,
            principals=[service_principal(service)],
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            resources=["*"],  # in a key policy, "*" means this key
            conditions={"StringEqualsIfExists" if if_exists else "StringEquals": {"aws:SourceAccount": _ACCOUNT_ID}},
        )
    )


_alarms_publish_to: weakref.WeakSet[sns.ITopic] = weakref.WeakSet()
"""The topics :func:`allow_alarms_to_publish` has given its statement."""

_alarm_actions: weakref.WeakKeyDictionary[sns.ITopic, cloudwatch_actions.SnsAction] = weakref.WeakKeyDictionary()
"""The action of each topic :func:`alarm_action` has made: one serves every alarm (it only names the topic)."""


def alarm_action(topic: sns.ITopic) -> cloudwatch_actions.SnsAction:
    """The action that sends an alarm's state changes to ``topic``, once the topic's policy lets CloudWatch alarms of
    this account publish to it (see :func:`allow_alarms_to_publish`). One per topic: the action keeps no state of an
    alarm (its ``bind`` returns the topic's ARN), and each one made is a round trip to jsii's Node process."""
    allow_alarms_to_publish(topic)
    try:
        return _alarm_actions[topic]
    except KeyError:
        action = cloudwatch_actions.SnsAction(topic)
        _alarm_actions[topic] = action
        return action
    except TypeError:  # a topic of the user's own that cannot be hashed or weakly referenced
        return cloudwatch_actions.SnsAction(topic)


def allow_alarms_to_publish(topic: sns.ITopic) -> None:
    """Let CloudWatch alarms of this account and region publish to ``topic``.

    Every topic of the platform has a policy (``enforce_ssl``: publishing over TLS only), and a topic policy replaces
    the default one SNS gives a new topic, whose statement was what let this account's alarms publish. Without this
    statement an alarm changes state but its notification is refused ("... is not authorized to perform: SNS:Publish
    ... because no resource-based policy allows the SNS:Publish action", in the alarm's history), silently for whoever
    watches the topic (https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger: allow the
    principal cloudwatch.amazonaws.com sns:Publish, optionally for the alarms' aws:SourceArn). The key side is
    :func:`allow_dead_letters_and_alarms`. A topic imported from elsewhere is not changed (its owner grants this). Added
    once per topic: CDK would keep one copy of a statement added twice, but building it again for every alarm costs
    round trips to jsii's Node process."""
    with contextlib.suppress(TypeError):  # a topic of the user's own that cannot be hashed or weakly referenced: every time
        if topic in _alarms_publish_to:
            return
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid="CloudWatchAlarmsOfThisAccount",
            principals=[service_principal("cloudwatch.amazonaws.com")],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions={
                "StringEquals": {"aws:SourceAccount": _ACCOUNT_ID},
                "ArnLike": {"aws:SourceArn": f"arn:{_PARTITION}:cloudwatch:{_REGION}:{_ACCOUNT_ID}:alarm:*"},
            },
        )
    )
    with contextlib.suppress(TypeError):  # remembered once the statement is there, not before
        _alarms_publish_to.add(topic)


def at_least_one_alarm(scope: Construct, id: str, *, metric: cloudwatch.IMetric, description: str,
                       alarm_name: str | None = None) -> cloudwatch.Alarm:
    """An alarm while ``metric`` is 1 or more in one period (a failed run, a dead letter, a lost event); no data is no
    alarm. ``alarm_name``: Default: generated by CloudFormation."""
    return cloudwatch.Alarm(
        scope,
        id,
        alarm_name=alarm_name,
        alarm_description=description,
        metric=metric,
        threshold=1,
        evaluation_periods=1,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )


def dead_letter_alarm(scope: Construct, id: str, queue: sqs.IQueue, topic: sns.ITopic, description: str,
                      alarm_name: str | None = None) -> cloudwatch.Alarm:
    """An alarm, to ``topic``, that fires while any message waits in the dead-letter ``queue``. ``alarm_name``:
    Default: generated by CloudFormation."""
    alarm = at_least_one_alarm(
        scope, id, description=description, alarm_name=alarm_name,
        metric=queue.metric_approximate_number_of_messages_visible(period=durations.minutes(5), statistic="Maximum"),
    )
    alarm.add_alarm_action(alarm_action(topic))
    return alarm


def lost_events_alarm(scope: Construct, id: str, rule: events.IRule, topic: sns.ITopic, description: str,
                      alarm_name: str | None = None) -> cloudwatch.Alarm:
    """An alarm, to ``topic``, on any event of ``rule`` (on the default bus) that EventBridge could neither deliver nor
    put in its target's dead-letter queue (a key policy or queue policy that refuses it, a deleted queue, an event too
    large): ``InvocationsFailedToBeSentToDlq``, which the dead-letter queue's own alarm cannot see. EventBridge sends
    the metric only when it is not zero, with the ``RuleName`` dimension alone for the default bus
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html), so no data is no alarm."""
    alarm = at_least_one_alarm(
        scope, id, description=description, alarm_name=alarm_name,
        metric=cloudwatch.Metric(namespace="AWS/Events", metric_name="InvocationsFailedToBeSentToDlq",
                                 dimensions_map={"RuleName": rule.rule_name}, statistic="Sum", period=durations.minutes(5)),
    )
    alarm.add_alarm_action(alarm_action(topic))
    return alarm


def dead_letter_queue(scope: Construct, id: str, key: kms.IKey, topic: sns.ITopic, *, alarm_id: str, alarm_description: str,
                      reason: str, alarm_name: str | None = None) -> sqs.Queue:
    """A queue for what a rule or schedule could not deliver: encrypted with ``key``, TLS only, kept 14 days,
    with an alarm (``alarm_id``) to ``topic`` while it holds anything. cdk-nag's and Guard's "this queue
    has no dead-letter queue" findings are acknowledged with ``reason``: it is itself one."""
    queue = sqs.Queue(scope, id, encryption=sqs.QueueEncryption.KMS, encryption_master_key=key,
                      enforce_ssl=True, retention_period=durations.days(14))
    acknowledge_each(queue, {"AwsSolutions::AwsSolutions-SQS3": reason, guard("sqs_dlq_check"): reason})
    dead_letter_alarm(scope, alarm_id, queue, topic, alarm_description, alarm_name)
    return queue
