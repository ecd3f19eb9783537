"""The shared property validators: one error shape (construct, field, value, allowed), tokens let through."""

from __future__ import annotations

import re
import warnings

import aws_cdk as cdk
import pytest

from mlops_constructs._validate import check_choice, check_interface, check_range, check_type, renamed
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


def test_an_interface_is_recognised_by_its_member_and_a_choice_lists_the_options() -> None:
    with pytest.raises(PropsError, match=re.escape("X: alarm: must be a cloudwatch.IAlarm (got 'my-alarm')")):
        check_interface("X", "alarm", "my-alarm", "alarm_name", "must be a cloudwatch.IAlarm")
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
