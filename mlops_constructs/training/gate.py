"""The registration gate: conditions on values of the evaluation report, and what the bundled
evaluation script writes there.

The bundled script (``scripts/evaluate.py``) writes SageMaker's model-quality statistics format, one
section per problem type, each metric as ``{"value": ..., "standard_deviation": ...}``
(https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-model-quality-metrics.html). A gate
condition names a value of the report by its dot-separated path, e.g. ``regression_metrics.mse.value``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

ProblemType = Literal["binary_classification", "multiclass_classification", "regression"]
PROBLEM_TYPES: tuple[str, ...] = ("binary_classification", "multiclass_classification", "regression")
"""What the bundled evaluation script can score; it chooses the report's section."""

GateOp = Literal["<=", ">="]
GATE_OPS: tuple[str, ...] = ("<=", ">=")
DIRECTION_OPS: dict[str, str] = {"maximize": ">=", "minimize": "<="}
"""``maximize``: the value must be at least the threshold; ``minimize``: at most."""

BUNDLED_REPORT: dict[str, tuple[str, tuple[str, ...]]] = {
    "binary_classification": ("binary_classification_metrics", (
        "auc", "accuracy", "precision", "recall", "f1", "true_positive_rate", "true_negative_rate",
        "false_positive_rate", "false_negative_rate",
    )),
    "multiclass_classification": ("multiclass_classification_metrics", ("accuracy", "weighted_precision", "weighted_recall", "weighted_f1")),
    "regression": ("regression_metrics", ("mae", "mse", "rmse", "r2")),
}
"""Per problem type, the section the bundled evaluation script writes and the metrics in it (each a
``{"value", "standard_deviation"}`` object; the standard deviation may be the string ``"NaN"``)."""

MAX_GATE_CONDITIONS = 10
_KEY = r"[A-Za-z_][A-Za-z0-9_]{0,63}"
GATE_PATH = re.compile(rf"{_KEY}(\.{_KEY}){{0,9}}")
"""A report path: 1 to 10 keys joined by dots, each a letter or underscore then letters, digits and
underscores (keys Step Functions' JSONPath can name without quoting)."""
PATH_RULE = "must be dot-separated keys of evaluation.json, each of letters, digits and underscores not starting with a digit, e.g. regression_metrics.mse.value"
LEGACY_SECTION = "metrics"
"""The section of the report format before the model-quality one: ``metrics.<metric>.value``. A legacy
gate (``metric``) with an evaluation image of your own still reads it."""


def bundled_paths(problem_type: str) -> tuple[str, ...]:
    """The gate paths the bundled evaluation script writes for ``problem_type``."""
    section, metrics = BUNDLED_REPORT[problem_type]
    return tuple(f"{section}.{metric}.value" for metric in metrics)


def legacy_path(metric: str, problem_type: str, custom_report: bool) -> str:
    """Where a legacy gate's ``metric`` is read: ``<section of problem_type>.<metric>.value`` in the bundled
    report, or ``metrics.<metric>.value`` in the report of an evaluation image of your own."""
    section = LEGACY_SECTION if custom_report else BUNDLED_REPORT[problem_type][0]
    return f"{section}.{metric}.value"


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True, kw_only=True)
class GateCondition:
    """One condition a model's evaluation report must meet before the model is registered.

    Example::

        GateCondition(path="regression_metrics.mse.value", op="<=", threshold=6.0)
        GateCondition.maximize("binary_classification_metrics.auc.value", 0.8)
    """

    path: str
    """Dot-separated keys of ``evaluation.json`` leading to a number, e.g. ``regression_metrics.mse.value``."""
    op: GateOp
    """``>=``: the value must be at least the threshold; ``<=``: at most."""
    threshold: float
    """A finite number."""

    @classmethod
    def maximize(cls, path: str, threshold: float) -> GateCondition:
        """The value at ``path`` must be at least ``threshold``."""
        return cls(path=path, op=">=", threshold=threshold)

    @classmethod
    def minimize(cls, path: str, threshold: float) -> GateCondition:
        """The value at ``path`` must be at most ``threshold``."""
        return cls(path=path, op="<=", threshold=threshold)

    def __str__(self) -> str:
        return f"{self.path} {self.op} {self.threshold:g}"
