"""The shared property validators: one error shape (construct, field, value, allowed), tokens let through."""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Iterator

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kms as kms
import jsii
import pytest

from mlops_constructs._validate import check_choice, check_interface, check_range, check_type, is_token, renamed
from mlops_constructs.errors import PropsError


def test_a_wrong_type_is_a_props_error_not_a_type_error() -> None:
    with pytest.raises(PropsError, match=re.escape("CanaryEndpoint: instance_count: must be an integer (got '2')")):
        check_range("CanaryEndpoint", "instance_count", "2", 1, 10)
    with pytest.raises(PropsError, match=re.escape("X: flag: must be an integer (got True)")):
        check_type("X", "flag", True, int)  # a bool is not taken for an int
    check_type("X", "share", 1, float)  # an int is taken for a number
    check_type("X", "name", None, str, optional=True)
    with pytest.raises(PropsError, match=re.escape("X: name: must be a string (or None) (got 3)")):
        check_type("X", "name", 3, str, optional=True)


def test_a_range_names_its_bounds_and_lets_a_token_through() -> None:
    with pytest.raises(PropsError, match=re.escape("X: percent: must be from 0 to 100 (got 101)")):
        check_range("X", "percent", 101, 0, 100)
    with pytest.raises(PropsError, match=re.escape("X: size: must be at least 1 GB (got 0)")):
        check_range("X", "size", 0, 1, unit="GB")
    check_range("X", "count", cdk.Token.as_number(cdk.Fn.ref("Count")), 1, 10)


@contextlib.contextmanager
def round_trips() -> Iterator[list[str]]:
    """The requests sent to jsii's Node process meanwhile, by kind (wraps jsii's private ``send``, as bench/profile.py)."""
    from jsii._kernel.providers import process

    sent: list[str] = []
    original = process._NodeProcess.send

    def send(node, request, response_type):  # type: ignore[no-untyped-def]
        sent.append(type(request).__name__)
        return original(node, request, response_type)

    process._NodeProcess.send = send  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        process._NodeProcess.send = original  # type: ignore[method-assign]


@jsii.implements(cdk.IStableStringProducer)
class _Produce:
    def produce(self) -> str:
        return "x"


def test_is_token_answers_as_aws_cdk_lib_does() -> None:
    """``is_token`` recognizes tokens in Python (no round trip to jsii); it must agree with aws-cdk-lib's own
    ``Token.is_unresolved`` on every kind of token and on near misses."""
    stack = cdk.Stack(cdk.App(), "S")
    number = cdk.Token.as_number(cdk.Fn.ref("Count"))
    string = cdk.Fn.ref("Name")
    tokens = [
        string, cdk.Aws.ACCOUNT_ID, stack.account, cdk.Token.as_string(cdk.Fn.get_att("R", "Arn")), f"arn:{cdk.Aws.PARTITION}:s3:::b",
        number, cdk.Token.as_number(cdk.Fn.get_att("R", "Size")), cdk.Token.as_string(number), f"{string}-{number}",
        cdk.Lazy.string(_Produce(), display_hint="a_b-c:d"), "Token[ -1.8881545897087626e+289",
        cdk.Duration.seconds(cdk.Token.as_number(cdk.Fn.ref("M"))).to_seconds(),
    ]
    near_misses = [
        f"prefix-{number}", str(number),  # a stringified number alone is no token to aws-cdk-lib either
        "", "Token[", "${Token[]}", "${Token[a b]}", "${Token[x]", "#{Token[TOKEN.1]}", "Token[TOKEN.1]",
        "-1.88815458970876e+289", "-1.888154589e+289", "-1.8881545897087626e+288", "-1.٨881545897087626e+289",
        "Token[ -1.٨881545897087626e+289", "Token[ 1.8881545897087626e+289",
        "arn:aws:s3:::bucket", "123456789012", 0, 1, -1, 2**53, 2**1100, -(2**1100), 1.5, -1.8881545897087626e+288, -0.0,
    ]
    near_misses += [f"Token[{t}" for t in tokens if isinstance(t, str)]
    with round_trips() as sent:
        assert all(is_token(t) for t in tokens)
    assert sent == []
    for value in tokens + near_misses:
        assert is_token(value) == cdk.Token.is_unresolved(value), value
    # Not asked of aws-cdk-lib: JSON cannot carry NaN or infinities to it, and is_token takes no container.
    assert not any(is_token(v) for v in (float("nan"), float("inf"), float("-inf"), True, False, None, [string], {"a": string}, stack))


def test_an_interface_is_recognised_by_its_member_and_a_choice_lists_the_options() -> None:
    with pytest.raises(PropsError, match=re.escape("X: alarm: must be a cloudwatch.IAlarm (got 'my-alarm')")):
        check_interface("X", "alarm", "my-alarm", "alarm_name", "must be a cloudwatch.IAlarm")
    stack = cdk.Stack(cdk.App(), "S")
    with pytest.raises(PropsError, match=re.escape("X: alarm: must be a cloudwatch.IAlarm (got <aws_cdk.Stack")):
        check_interface("X", "alarm", stack, "alarm_name", "must be a cloudwatch.IAlarm")
    check_interface("X", "alarm", cloudwatch.Alarm.from_alarm_name(stack, "A", "a"), "alarm_name", "must be a cloudwatch.IAlarm")
    imported_key = kms.Key.from_key_arn(stack, "K", "arn:aws:kms:eu-west-1:111111111111:key/k")  # jsii: a proxy of delegates
    own_key = kms.Key(stack, "Own")
    with round_trips() as sent:  # recognized by the classes, without reading the member from Node
        check_interface("X", "key", imported_key, "key_arn", "must be a kms.IKey")
        check_interface("X", "key", own_key, "key_arn", "must be a kms.IKey")
    assert sent == []
    with pytest.raises(PropsError, match=re.escape("X: alarm: must be a cloudwatch.IAlarm")):
        check_interface("X", "alarm", imported_key, "alarm_name", "must be a cloudwatch.IAlarm")

    class OwnAlarm:  # an implementation in Python, whose member is an attribute of the object only
        def __init__(self) -> None:
            self.alarm_name = "a"

    check_interface("X", "alarm", OwnAlarm(), "alarm_name", "must be a cloudwatch.IAlarm")
    with pytest.raises(PropsError, match=re.escape("X: deployment: must be one of CANARY, LINEAR (got 'BLUE')")):
        check_choice("X", "deployment", "BLUE", ("CANARY", "LINEAR"))


def test_a_renamed_property_warns_once_and_refuses_both_names() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert renamed("X", "notification_topic", None, "alarm_topic", "topic") == "topic"
    assert [str(w.message) for w in caught] == ["X: alarm_topic is deprecated, use notification_topic (removed in the next minor version)"]
    assert all(w.category is DeprecationWarning for w in caught)
    assert renamed("X", "notification_topic", "new", "alarm_topic", None) == "new"
    with pytest.raises(PropsError, match="deprecated name of notification_topic, which is also given"):
        renamed("X", "notification_topic", "new", "alarm_topic", "old")
