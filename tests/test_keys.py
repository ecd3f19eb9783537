"""The shared key-policy and alarm helpers (mlops_constructs._keys)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template
import pytest

from mlops_constructs._keys import alarm_action, allow_alarms_to_publish


def _publish_statements(stack: cdk.Stack) -> dict[str, int]:
    """Per topic (logical id), how many statements let CloudWatch alarms publish to it."""
    found: dict[str, int] = {}
    for policy in Template.from_stack(stack).find_resources("AWS::SNS::TopicPolicy").values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        for topic in policy["Properties"]["Topics"]:
            found[topic["Ref"]] = sum(s.get("Sid") == "CloudWatchAlarmsOfThisAccount" for s in statements)
    return found


def test_every_topic_an_alarm_notifies_lets_alarms_publish_once() -> None:
    """The statement is added once per topic (not once per alarm), and to every topic, in every app of a process."""
    for _ in range(2):  # a second app: a topic of the first is no reason to skip one of the second
        stack = cdk.Stack(cdk.App(), "S")
        first, second = sns.Topic(stack, "First"), sns.Topic(stack, "Second")
        for topic in (first, first, second):
            alarm_action(topic)
        allow_alarms_to_publish(second)
        ids = {stack.get_logical_id(t.node.default_child): name for name, t in (("first", first), ("second", second))}
        assert {ids[k]: n for k, n in _publish_statements(stack).items()} == {"first": 1, "second": 1}


def test_a_topic_whose_statement_failed_gets_it_on_the_next_call() -> None:
    """A topic is remembered once its statement is in its policy: an error on the way (here its ARN, read once)
    leaves it to the next call."""
    stack = cdk.Stack(cdk.App(), "S")
    topic = sns.Topic(stack, "T")

    class Flaky:  # the topic, whose ARN fails to read the first time
        def __init__(self) -> None:
            self.reads = 0

        def __getattr__(self, name: str) -> object:
            return getattr(topic, name)

        @property
        def topic_arn(self) -> str:
            self.reads += 1
            if self.reads == 1:
                raise RuntimeError("not yet")
            return topic.topic_arn

    flaky = Flaky()
    with pytest.raises(RuntimeError, match="not yet"):
        allow_alarms_to_publish(flaky)  # type: ignore[arg-type]
    allow_alarms_to_publish(flaky)  # type: ignore[arg-type]
    assert list(_publish_statements(stack).values()) == [1]
