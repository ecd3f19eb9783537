"""Evaluate: score the trained model on the test split, in SageMaker's model-quality format.

Writes ``<root>/evaluation/evaluation.json`` with ``regression_metrics.<metric>.value`` and ``.standard_deviation``
for mae, mse, rmse and r2 (https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-model-quality-metrics.html),
so the platform's gate can read e.g. ``regression_metrics.mse.value``.
"""

from __future__ import annotations

import json
import math
import tarfile
import tempfile
from pathlib import Path
from typing import Callable

import joblib
import numpy as np
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from common import PROCESSING_ROOT, read_split


def spread(metric: Callable[[np.ndarray, np.ndarray], float], actual: np.ndarray, predicted: np.ndarray) -> float | str:
    """The metric's standard deviation over five random samples of 80 % of the rows, as SageMaker's model-quality
    reports define it; "NaN" below 200 rows, where SageMaker reports none either."""
    if len(actual) < 200:
        return "NaN"
    generator = np.random.default_rng(0)
    size = int(len(actual) * 0.8)
    values = []
    for _ in range(5):
        rows = generator.choice(len(actual), size=size, replace=False)
        values.append(float(metric(actual[rows], predicted[rows])))
    return float(np.std(values))


def main() -> None:
    with tempfile.TemporaryDirectory() as unpacked:
        with tarfile.open(PROCESSING_ROOT / "model" / "model.tar.gz") as archive:
            # only plain files that stay inside the folder (the image's Python may predate extraction filters)
            members = [m for m in archive.getmembers() if m.isfile() and not m.name.startswith("/") and ".." not in Path(m.name).parts]
            archive.extractall(unpacked, members=members)
        model = joblib.load(Path(unpacked) / "model.joblib")
    x, y = read_split(PROCESSING_ROOT / "test")
    predicted = model.predict(x)
    metrics = {
        "mae": mean_absolute_error,
        "mse": mean_squared_error,
        "rmse": lambda actual, guess: math.sqrt(mean_squared_error(actual, guess)),
        "r2": r2_score,
    }
    report = {"regression_metrics": {
        name: {"value": float(metric(y, predicted)), "standard_deviation": spread(metric, y, predicted)} for name, metric in metrics.items()
    }}
    out = PROCESSING_ROOT / "evaluation"
    out.mkdir(parents=True, exist_ok=True)
    (out / "evaluation.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
