"""Start times spread over a window, derived from a name.

A hundred models retrained ``daily``, or a hundred endpoints checked for drift every hour, must not all
start in the same minute: their jobs would queue behind one another for SageMaker capacity and API
quotas. Each name gets a time of its own, the same at every synthesis:

    ``slot(name, n) = int.from_bytes(sha256(name.encode("utf-8")).digest()[:8], "big") % n``

and the time is the window's first minute plus ``slot`` (the weekday of :func:`weekly_cron` uses the
next digits of the same number, ``(hash // n) % 7``). Changing this formula moves every schedule of
every platform built with it: it is a public contract, pinned by tests.

Pure functions: no CDK, no I/O. Cron expressions are EventBridge's six fields (``minutes hours
day-of-month month day-of-week year``), read in UTC by EventBridge Scheduler when no time zone is set
(https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html).
"""

from __future__ import annotations

import hashlib
import re

WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")

TRAINING_WINDOW = ("00:00", "05:59")
"""Where ``daily`` and ``weekly`` training runs start, UTC: the night in Europe, before the working day."""
DRIFT_HOURLY_MINUTES = (5, 55)
"""The minutes past the hour an hourly drift check may start at. Not before 5: data capture writes requests to
S3 in batches, so the last files of an hour's prefix can land a few minutes after the hour ends (AWS gives no
bound; the check used to run at 10 past to leave that margin). Not after 55: the check runs well inside the
hour after the one it checks."""
DRIFT_DAILY_WINDOW = ("00:15", "05:59")
"""Where a daily drift check may start, UTC: at least a quarter of an hour after the day it checks, for
the same capture delay (the check used to run at 00:30), and early enough for a report before the working day."""

SHORTHANDS = ("daily", "weekly")
"""Training schedule shorthands :func:`resolve_training_schedule` turns into a spread cron expression."""

_TIME = re.compile(r"(\d{2}):(\d{2})")


def slot(name: str, slots: int) -> int:
    """A whole number in ``[0, slots)``, the same for the same ``name``: the first eight bytes of the
    SHA-256 of its UTF-8 encoding, big-endian, modulo ``slots``."""
    if slots < 1:
        raise ValueError(f"slot: slots must be at least 1 (got {slots})")
    return _hash(name) % slots


def minute_of_hour(name: str, first: int = DRIFT_HOURLY_MINUTES[0], last: int = DRIFT_HOURLY_MINUTES[1]) -> int:
    """A minute past the hour in ``[first, last]`` for ``name``."""
    if not 0 <= first <= last <= 59:
        raise ValueError(f"minute_of_hour: need 0 <= first <= last <= 59 (got {first}, {last})")
    return first + slot(name, last - first + 1)


def time_of_day(name: str, earliest: str = TRAINING_WINDOW[0], latest: str = TRAINING_WINDOW[1]) -> tuple[int, int]:
    """An ``(hour, minute)`` between ``earliest`` and ``latest`` (``HH:MM``, both included) for ``name``."""
    start, end = _minutes(earliest), _minutes(latest)
    if start > end:
        raise ValueError(f"time_of_day: earliest must not be after latest (got {earliest}, {latest})")
    return divmod(start + slot(name, end - start + 1), 60)


def hourly_cron(name: str, first: int = DRIFT_HOURLY_MINUTES[0], last: int = DRIFT_HOURLY_MINUTES[1]) -> str:
    """Every hour, at :func:`minute_of_hour` past: ``cron(<m> * * * ? *)``."""
    return f"cron({minute_of_hour(name, first, last)} * * * ? *)"


def daily_cron(name: str, earliest: str = TRAINING_WINDOW[0], latest: str = TRAINING_WINDOW[1]) -> str:
    """Every day, at :func:`time_of_day`: ``cron(<m> <h> * * ? *)``."""
    hour, minute = time_of_day(name, earliest, latest)
    return f"cron({minute} {hour} * * ? *)"


def weekly_cron(name: str, earliest: str = TRAINING_WINDOW[0], latest: str = TRAINING_WINDOW[1]) -> str:
    """Once a week, on a weekday and at a time of day both derived from ``name``: ``cron(<m> <h> ? * <DAY> *)``."""
    hour, minute = time_of_day(name, earliest, latest)
    day = WEEKDAYS[(_hash(name) // (_minutes(latest) - _minutes(earliest) + 1)) % len(WEEKDAYS)]
    return f"cron({minute} {hour} ? * {day} *)"


def resolve_training_schedule(expression: str, model_name: str) -> str:
    """A training schedule as the configuration writes it, as EventBridge Scheduler reads it: ``daily``
    and ``weekly`` become :func:`daily_cron` and :func:`weekly_cron` of the model's name (00:00-05:59 UTC);
    ``cron(...)`` and ``rate(...)`` expressions are kept exactly as written."""
    if expression == "daily":
        return daily_cron(model_name)
    if expression == "weekly":
        return weekly_cron(model_name)
    return expression


def drift_cron(endpoint_name: str, period: str) -> str:
    """When the drift checks of ``endpoint_name`` start: ``hourly`` at a minute in 5-55 past the hour,
    ``daily`` at a time in 00:15-05:59 UTC, both derived from the endpoint's name."""
    if period == "hourly":
        return hourly_cron(endpoint_name)
    if period == "daily":
        return daily_cron(endpoint_name, *DRIFT_DAILY_WINDOW)
    raise ValueError(f"drift_cron: period must be hourly or daily (got {period!r})")


def _hash(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big")


def _minutes(time: str) -> int:
    match = _TIME.fullmatch(time)
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"a time of day must be HH:MM, 00:00 to 23:59 (got {time!r})")
    return int(match[1]) * 60 + int(match[2])
