"""Evaluate: score the trained model on the test split, in SageMaker's model-quality format.

Writes ``<root>/evaluation/evaluation.json`` with ``regression_metrics.<metric>.value`` for mae, mse,
rmse and r2 (https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-model-quality-metrics.html),
so the platform's gate can read e.g. ``regression_metrics.mse.value``.
"""

import json
import math
import tarfile
import tempfile
from pathlib import Path

import joblib
import numpy as np
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from common import PROCESSING_ROOT, read_split


def main() -> None:
    with tempfile.TemporaryDirectory() as unpacked:
        with tarfile.open(PROCESSING_ROOT / "model" / "model.tar.gz") as archive:
            # only plain files that stay inside the folder (the image's Python may predate extraction filters)
            members = [m for m in archive.getmembers() if m.isfile() and not m.name.startswith("/") and ".." not in Path(m.name).parts]
            archive.extractall(unpacked, members=members)
        model = joblib.load(Path(unpacked) / "model.joblib")
    x, y = read_split(PROCESSING_ROOT / "test")
    predicted = model.predict(x)
    errors = (y - predicted) ** 2
    mse = float(np.mean(errors))
    # standard deviation of the mean over the test rows, as a rough spread
    spread = float(np.std(errors) / math.sqrt(len(errors)))
    report = {"regression_metrics": {
        "mae": {"value": float(mean_absolute_error(y, predicted)), "standard_deviation": "NaN"},
        "mse": {"value": mse, "standard_deviation": spread},
        "rmse": {"value": math.sqrt(mean_squared_error(y, predicted)), "standard_deviation": "NaN"},
        "r2": {"value": float(r2_score(y, predicted)), "standard_deviation": "NaN"},
    }}
    out = PROCESSING_ROOT / "evaluation"
    out.mkdir(parents=True, exist_ok=True)
    (out / "evaluation.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
