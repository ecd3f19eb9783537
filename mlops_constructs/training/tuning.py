"""Hyperparameter tuning of a TrainingPipeline's training step: the settings and their rules.

The rules are those of SageMaker's CreateHyperParameterTuningJob API
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateHyperParameterTuningJob.html,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_HyperParameterTuningJobConfig.html) and of its
guide (https://docs.aws.amazon.com/sagemaker/latest/dg/automatic-model-tuning-how-it-works.html,
https://docs.aws.amazon.com/sagemaker/latest/dg/automatic-model-tuning-define-ranges.html). They are kept
here, as pure functions, so that the construct and the stage configuration report the same problems.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Union

Scaling = Literal["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"]
SCALINGS: tuple[str, ...] = ("Auto", "Linear", "Logarithmic", "ReverseLogarithmic")
STRATEGIES: tuple[str, ...] = ("Bayesian", "Random", "Hyperband", "Grid")
OBJECTIVE_TYPES: tuple[str, ...] = ("Maximize", "Minimize")
EARLY_STOPPING: tuple[str, ...] = ("Off", "Auto")
MAX_RANGES = 30
"""At most 30 ranges of each kind (botocore's ``IntegerParameterRanges`` and friends); the guide allows 30 in all."""
MAX_CATEGORICAL_VALUES = 30
MAX_VALUE_LENGTH = 256
MAX_REGEX_LENGTH = 500
MAX_METRIC_NAME_LENGTH = 255
MAX_TUNING_RUNTIME_SECONDS = 15_768_000
"""``ResourceLimits.MaxRuntimeInSeconds`` may be at most 15768000 seconds (182.5 days)."""
TUNING_JOB_KEY = "TuningJob"
"""Key of the model package's ``CustomerMetadataProperties`` whose value is the ARN of the tuning job that
trained the version, when the pipeline tunes."""
_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,256}")


@dataclass(frozen=True, kw_only=True)
class ContinuousRange:
    """A real-valued hyperparameter searched between ``min`` and ``max``."""

    min: float
    max: float
    """Above ``min``."""
    scaling: Scaling = "Auto"
    """How values are sampled: ``Logarithmic`` needs ``min`` above 0, ``ReverseLogarithmic`` a range within
    [0, 1). Default: ``Auto``, SageMaker chooses."""


@dataclass(frozen=True, kw_only=True)
class IntegerRange:
    """An integer hyperparameter searched between ``min`` and ``max``."""

    min: int
    max: int
    """Above ``min``."""
    scaling: Scaling = "Auto"
    """``Auto``, ``Linear`` or ``Logarithmic`` (``min`` above 0); ``ReverseLogarithmic`` is for continuous
    ranges only. Default: ``Auto``."""


@dataclass(frozen=True, kw_only=True)
class CategoricalRange:
    """A hyperparameter that takes one of ``values``."""

    values: tuple[str, ...]
    """1 to 30 distinct strings."""


Range = Union[ContinuousRange, IntegerRange, CategoricalRange]


@dataclass(frozen=True, kw_only=True)
class TuningObjective:
    """The metric the tuning job optimizes, as the training jobs report it."""

    metric: str
    """The metric's name, e.g. ``validation:auc`` for SageMaker's XGBoost algorithm."""
    type: Literal["Maximize", "Minimize"]
    regex: str | None = None
    """How to read the metric from the training job's logs (its first group is the value), for an image
    that is not a SageMaker built-in algorithm; a built-in algorithm defines its own metrics. Default: none."""


@dataclass(frozen=True, kw_only=True)
class Tuning:
    """Train with a SageMaker hyperparameter tuning job instead of one training job; the best training
    job's model goes on to evaluation and registration.

    Example::

        Tuning(
            objective=TuningObjective(metric="validation:auc", type="Maximize"),
            ranges={"eta": ContinuousRange(min=0.05, max=0.5), "max_depth": IntegerRange(min=3, max=10)},
            max_jobs=20, max_parallel_jobs=4,
        )
    """

    objective: TuningObjective
    ranges: Mapping[str, Range]
    """The searched hyperparameters by name (none of them also a static hyperparameter); at least one."""
    strategy: Literal["Bayesian", "Random", "Hyperband", "Grid"] = "Bayesian"
    """``Grid`` takes categorical ranges only and runs every combination of their values. Default: ``Bayesian``."""
    max_jobs: int | None = None
    """Training jobs in all, at least 1. Default: 10; with ``Grid``, the number of combinations (which a
    given value must equal)."""
    max_parallel_jobs: int = 1
    """Training jobs at a time: 1 to ``max_jobs``. Default: 1."""
    early_stopping: Literal["Off", "Auto"] = "Off"
    """``Auto`` stops training jobs unlikely to beat the best so far; ``Hyperband`` needs ``Off`` (it stops
    jobs itself). Default: ``Off``."""

    def jobs(self) -> int:
        """The number of training jobs the tuning job may run."""
        if self.max_jobs is not None:
            return self.max_jobs
        if self.strategy == "Grid":
            return combinations(self.ranges)
        return 10

    def job_config(self, max_runtime_seconds: int) -> dict[str, Any]:
        """The request's ``HyperParameterTuningJobConfig``."""
        integer, continuous, categorical = [], [], []
        for name, range_ in self.ranges.items():
            if isinstance(range_, CategoricalRange):
                categorical.append({"Name": name, "Values": [str(v) for v in range_.values]})
            else:
                entry = {"Name": name, "MinValue": _number(range_.min), "MaxValue": _number(range_.max), "ScalingType": range_.scaling}
                (integer if isinstance(range_, IntegerRange) else continuous).append(entry)
        ranges = {key: value for key, value in (("IntegerParameterRanges", integer), ("ContinuousParameterRanges", continuous),
                                                  ("CategoricalParameterRanges", categorical)) if value}
        limits: dict[str, Any] = {"MaxParallelTrainingJobs": self.max_parallel_jobs, "MaxRuntimeInSeconds": max_runtime_seconds}
        if not (self.strategy == "Grid" and self.max_jobs is None):  # Grid counts its combinations itself
            limits["MaxNumberOfTrainingJobs"] = self.jobs()
        return {
            "Strategy": self.strategy,
            "HyperParameterTuningJobObjective": {"Type": self.objective.type, "MetricName": self.objective.metric},
            "ResourceLimits": limits,
            "ParameterRanges": ranges,
            "TrainingJobEarlyStoppingType": self.early_stopping,
        }


def combinations(ranges: Mapping[str, Range]) -> int:
    """How many distinct value combinations the categorical ranges have."""
    return math.prod(len(set(r.values)) for r in ranges.values() if isinstance(r, CategoricalRange))


def _number(value: float) -> str:
    return str(int(value)) if isinstance(value, int) else repr(float(value))


def _is_number(value: Any, integer: bool) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return isinstance(value, int) if integer else math.isfinite(value)


Problem = tuple[tuple[str, ...], Any, str]
"""A problem: the keys of the field under the tuning settings (``("ranges", "eta", "max")``), the value, what is allowed."""


def path(keys: tuple[str, ...]) -> str:
    """A problem's keys as the construct's prop path, e.g. ``ranges.eta.max``."""
    return ".".join(map(str, keys))


def problems(tuning: Tuning, static_hyperparameters: Mapping[str, Any] = {}) -> Iterator[Problem]:  # noqa: B006 - read only
    """Every problem of ``tuning``, with ``static_hyperparameters`` the training job's fixed ones."""
    objective = tuning.objective
    if not isinstance(objective, TuningObjective):
        yield ("objective",), objective, "must be a TuningObjective(metric=..., type=...)"
    else:
        if not isinstance(objective.metric, str) or not 1 <= len(objective.metric) <= MAX_METRIC_NAME_LENGTH:
            yield ("objective", "metric"), objective.metric, f"must be the objective metric's name, 1 to {MAX_METRIC_NAME_LENGTH} characters"
        if objective.type not in OBJECTIVE_TYPES:
            yield ("objective", "type"), objective.type, "must be Maximize or Minimize"
        if objective.regex is not None:
            yield from _regex_problems(objective.regex)
    if tuning.strategy not in STRATEGIES:
        yield ("strategy",), tuning.strategy, f"must be one of {', '.join(STRATEGIES)}"
    if tuning.early_stopping not in EARLY_STOPPING:
        yield ("early_stopping",), tuning.early_stopping, "must be Off or Auto"
    elif tuning.strategy == "Hyperband" and tuning.early_stopping != "Off":
        yield ("early_stopping",), tuning.early_stopping, "must be Off with strategy Hyperband, which stops training jobs early itself"
    ranges = tuning.ranges
    if not isinstance(ranges, Mapping) or not ranges:
        yield ("ranges",), ranges, "must name at least one hyperparameter to search, each with its range"
        return
    for name, range_ in ranges.items():
        yield from _range_problems(name, range_, tuning.strategy)
    yield from static_conflicts(tuning, static_hyperparameters)
    for kind in (ContinuousRange, IntegerRange, CategoricalRange):
        count = sum(isinstance(r, kind) for r in ranges.values())
        if count > MAX_RANGES:
            yield ("ranges",), count, f"must hold at most {MAX_RANGES} {kind.__name__}s"
    yield from _limit_problems(tuning)


def static_conflicts(tuning: Tuning, static_hyperparameters: Mapping[str, Any]) -> Iterator[Problem]:
    """Tuned hyperparameters that are also static ones."""
    for name in tuning.ranges if isinstance(tuning.ranges, Mapping) else ():
        if name in static_hyperparameters:
            yield ("ranges", name), name, ("is also a static hyperparameter (training.hyperparameters): a tuned "
                                           "hyperparameter takes the values of its range; remove it from one of the two")


def _regex_problems(regex: Any) -> Iterator[Problem]:
    if not isinstance(regex, str) or not 1 <= len(regex) <= MAX_REGEX_LENGTH:
        yield ("objective", "regex"), regex, f"must be a regular expression of 1 to {MAX_REGEX_LENGTH} characters"
        return
    try:
        compiled = re.compile(regex)
    except re.error as err:
        yield ("objective", "regex"), regex, f"must be a valid regular expression ({err})"
        return
    if compiled.groups < 1:
        yield ("objective", "regex"), regex, "must capture the metric's value in a group, e.g. 'validation-auc=([0-9.]+)'"


def _range_problems(name: Any, range_: Any, strategy: str) -> Iterator[Problem]:
    where = ("ranges", name)
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        yield where, name, "must be a hyperparameter name: 1 to 256 letters, digits and _ . : -"
        return
    if isinstance(range_, CategoricalRange):
        values = range_.values
        if isinstance(values, (str, bytes)) or not isinstance(values, (tuple, list)) or not 1 <= len(values) <= MAX_CATEGORICAL_VALUES:
            yield (*where, "values"), values, f"must list 1 to {MAX_CATEGORICAL_VALUES} values"
            return
        if any(not isinstance(v, str) or len(v) > MAX_VALUE_LENGTH for v in values):
            yield (*where, "values"), list(values), f"must be strings of at most {MAX_VALUE_LENGTH} characters"
        elif len(set(values)) != len(values):
            yield (*where, "values"), list(values), "must not repeat a value"
        return
    if not isinstance(range_, (ContinuousRange, IntegerRange)):
        yield where, range_, "must be a ContinuousRange, IntegerRange or CategoricalRange"
        return
    if strategy == "Grid":
        yield where, range_.__class__.__name__, "must be categorical with strategy Grid, which searches combinations of categorical values only"
    integer = isinstance(range_, IntegerRange)
    kind = "an integer" if integer else "a finite number"
    if not _is_number(range_.min, integer):
        yield (*where, "min"), range_.min, f"must be {kind}"
        return
    if not _is_number(range_.max, integer):
        yield (*where, "max"), range_.max, f"must be {kind}"
        return
    if range_.min >= range_.max:
        yield (*where, "max"), range_.max, f"must be above min ({_number(range_.min)})"
    if range_.scaling not in SCALINGS:
        yield (*where, "scaling"), range_.scaling, f"must be one of {', '.join(SCALINGS)}"
    elif range_.scaling == "Logarithmic" and range_.min <= 0:
        yield (*where, "min"), range_.min, "must be above 0 with Logarithmic scaling"
    elif range_.scaling == "ReverseLogarithmic":
        if integer:
            yield (*where, "scaling"), range_.scaling, "is for continuous ranges only: use Auto, Linear or Logarithmic"
        elif not (0 <= range_.min and range_.max < 1):
            yield where, {"min": range_.min, "max": range_.max}, "must lie within 0 <= value < 1 with ReverseLogarithmic scaling"


def _limit_problems(tuning: Tuning) -> Iterator[Problem]:
    max_jobs, parallel = tuning.max_jobs, tuning.max_parallel_jobs
    if max_jobs is not None and (isinstance(max_jobs, bool) or not isinstance(max_jobs, int) or max_jobs < 1):
        yield ("max_jobs",), max_jobs, "must be a whole number of training jobs, at least 1"
        return
    if tuning.strategy == "Grid" and max_jobs is not None and all(isinstance(r, CategoricalRange) for r in tuning.ranges.values()):
        total = combinations(tuning.ranges)
        if max_jobs != total:
            yield ("max_jobs",), max_jobs, (f"must equal the number of combinations of the categorical values ({total}) with "
                                         "strategy Grid, or be left out")
            return
    if isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 1:
        yield ("max_parallel_jobs",), parallel, "must be a whole number of training jobs, at least 1"
    elif parallel > tuning.jobs():
        yield ("max_parallel_jobs",), parallel, f"must be at most max_jobs ({tuning.jobs()})"
