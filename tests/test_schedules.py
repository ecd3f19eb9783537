"""The start times spread from names (mlops_constructs.schedules): stable, in their windows, and spread."""

from __future__ import annotations

import collections
import json
import os
import re
import subprocess
import sys

import pytest

from mlops_constructs import schedules
from mlops_constructs.schedules import (
    daily_cron, drift_cron, hourly_cron, minute_of_hour, resolve_training_schedule, slot, time_of_day, weekly_cron,
)

MODELS = [f"model-{i:03d}" for i in range(100)]
ENDPOINTS = [f"acme-{stage}-model-{i:03d}" for stage in ("dev", "staging", "prod") for i in range(100)]
CRON = re.compile(r"cron\((?P<minute>\d+) (?P<hour>\d+|\*) (?P<day>\*|\?) \* (?P<weekday>\?|\*|[A-Z]{3}) \*\)")


def parts(expression: str) -> dict[str, str]:
    match = CRON.fullmatch(expression)
    assert match, expression
    return match.groupdict()


def minute_of_day(expression: str) -> int:
    p = parts(expression)
    return int(p["hour"]) * 60 + int(p["minute"])


# -- stable --------------------------------------------------------------------------------------------


def test_the_formula_is_pinned() -> None:
    """Changing the formula moves every deployed schedule: these values are its contract."""
    assert slot("churn", 360) == 203
    assert daily_cron("churn") == "cron(23 3 * * ? *)"
    assert weekly_cron("churn") == "cron(23 3 ? * FRI *)"
    assert drift_cron("mlops-demo-dev-churn", "hourly") == "cron(34 * * * ? *)"
    assert drift_cron("mlops-demo-dev-churn", "daily") == "cron(35 0 * * ? *)"
    assert drift_cron("mlops-demo-prod-churn", "hourly") == "cron(52 * * * ? *)"


def test_the_same_name_gets_the_same_time_and_another_name_another() -> None:
    # The same in another interpreter whose str hashes differ (PYTHONHASHSEED), as a later synthesis would be.
    script = (  # the module alone (it needs only the standard library), without the package's CDK imports
        "import importlib.util, json, sys; "
        f"spec = importlib.util.spec_from_file_location('schedules', {schedules.__file__!r}); "
        "s = importlib.util.module_from_spec(spec); sys.modules['schedules'] = s; spec.loader.exec_module(s); "
        f"names = {MODELS!r}; "
        "print(json.dumps([[s.daily_cron(n), s.weekly_cron(n), s.drift_cron(n, 'hourly'), s.drift_cron(n, 'daily')] for n in names]))"
    )
    here = [[daily_cron(n), weekly_cron(n), drift_cron(n, "hourly"), drift_cron(n, "daily")] for n in MODELS]
    for seed in ("1", "2"):
        run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONHASHSEED": seed})
        assert json.loads(run.stdout) == here, seed
    assert daily_cron("churn") != daily_cron("churn2")


# -- in range ------------------------------------------------------------------------------------------


def test_hourly_drift_checks_start_between_5_and_55_past() -> None:
    minutes = {int(parts(drift_cron(n, "hourly"))["minute"]) for n in ENDPOINTS}
    assert min(minutes) >= 5 and max(minutes) <= 55
    assert all(parts(drift_cron(n, "hourly"))["hour"] == "*" for n in ENDPOINTS)


def test_daily_drift_checks_start_between_0015_and_0559_utc() -> None:
    times = [minute_of_day(drift_cron(n, "daily")) for n in ENDPOINTS]
    assert min(times) >= 15 and max(times) <= 5 * 60 + 59


def test_daily_and_weekly_training_starts_between_0000_and_0559_utc() -> None:
    for name in MODELS:
        assert 0 <= minute_of_day(daily_cron(name)) <= 5 * 60 + 59
        weekly = parts(weekly_cron(name))
        assert weekly["weekday"] in schedules.WEEKDAYS and weekly["day"] == "?"
        assert minute_of_day(weekly_cron(name)) == minute_of_day(daily_cron(name))


def test_every_slot_of_a_window_is_reachable() -> None:
    names = [f"n{i}" for i in range(2000)]
    assert {minute_of_hour(n) for n in names} == set(range(5, 56))
    assert {time_of_day(n, "00:00", "00:09") for n in names} == {(0, m) for m in range(10)}
    assert {parts(weekly_cron(n))["weekday"] for n in names} == set(schedules.WEEKDAYS)


# -- spread --------------------------------------------------------------------------------------------


def test_a_hundred_models_do_not_start_at_the_same_minute() -> None:
    daily = collections.Counter(daily_cron(n) for n in MODELS)
    assert len(daily) >= 85 and max(daily.values()) <= 3  # 360 minutes for 100 names
    weekly = collections.Counter(weekly_cron(n) for n in MODELS)
    assert len(weekly) >= 95  # 7 x 360 slots


def test_three_hundred_endpoints_share_each_hourly_minute_evenly() -> None:
    hourly = collections.Counter(drift_cron(n, "hourly") for n in ENDPOINTS)
    assert len(hourly) == 51  # every minute from 5 to 55 is used
    assert max(hourly.values()) <= 3 * len(ENDPOINTS) // 51  # none gets more than three times its share
    daily = collections.Counter(drift_cron(n, "daily") for n in ENDPOINTS)
    assert len(daily) >= 180 and max(daily.values()) <= 5  # 345 minutes for 300 names


# -- shorthands ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("expression", ["cron(0 3 ? * MON *)", "rate(7 days)", "rate(1 day)", "cron(15 2 1 * ? *)"])
def test_cron_and_rate_expressions_are_kept_exactly_as_written(expression: str) -> None:
    assert resolve_training_schedule(expression, "churn") == expression


def test_shorthands_resolve_from_the_model_name() -> None:
    assert resolve_training_schedule("daily", "churn") == daily_cron("churn")
    assert resolve_training_schedule("weekly", "fraud") == weekly_cron("fraud")
    assert hourly_cron("x", 7, 7) == "cron(7 * * * ? *)"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: slot("x", 0), "slot: slots must be at least 1 (got 0)"),
        (lambda: minute_of_hour("x", 30, 20), "minute_of_hour: need 0 <= first <= last <= 59 (got 30, 20)"),
        (lambda: time_of_day("x", "05:00", "01:00"), "time_of_day: earliest must not be after latest (got 05:00, 01:00)"),
        (lambda: time_of_day("x", "24:00", "24:30"), "a time of day must be HH:MM, 00:00 to 23:59 (got '24:00')"),
        (lambda: drift_cron("x", "weekly"), "drift_cron: period must be hourly or daily (got 'weekly')"),
    ],
)
def test_bad_arguments_are_refused(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        call()  # type: ignore[operator]
