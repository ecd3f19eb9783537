"""Default evaluation job: score the trained model on the test split and write ``evaluation.json``.

Runs in the training image (SageMaker's XGBoost image by default), which provides ``xgboost``; it
keeps to Python 3.8 so that older framework images run it. Reads
``model.tar.gz`` from ``/opt/ml/processing/model`` and the test CSV (label first) from
``/opt/ml/processing/test``, and writes ``/opt/ml/processing/evaluation/evaluation.json``::

    {"metrics": {"auc": {"value": 0.91}}, "metric": "auc", "test_rows": 1200}

The state machine's gate reads ``metrics.<METRIC_NAME>.value``; the model registry stores the file
as the model package's model-quality statistics.
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
import tarfile
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path


def _same_length(labels: Sequence[float], scores: Sequence[float]) -> None:
    if len(labels) != len(scores) or not labels:
        raise ValueError(f"got {len(labels)} labels and {len(scores)} predictions")


def auc(labels: Sequence[float], scores: Sequence[float]) -> float:
    """Area under the ROC curve (the Mann-Whitney statistic), with ties counted as half."""
    _same_length(labels, scores)
    positives = [s for s, y in zip(scores, labels) if y >= 0.5]
    negatives = [s for s, y in zip(scores, labels) if y < 0.5]
    if not positives or not negatives:
        raise ValueError("AUC needs at least one positive and one negative label")
    ranked = sorted((score, index) for index, score in enumerate(scores))
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(ranked):  # average ranks over ties
        j = i
        while j + 1 < len(ranked) and ranked[j + 1][0] == ranked[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[ranked[k][1]] = (i + j) / 2 + 1
        i = j + 1
    positive_rank_sum = sum(r for r, y in zip(ranks, labels) if y >= 0.5)
    n_pos, n_neg = len(positives), len(negatives)
    return (positive_rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def accuracy(labels: Sequence[float], scores: Sequence[float]) -> float:
    _same_length(labels, scores)
    return sum((s >= 0.5) == (y >= 0.5) for s, y in zip(scores, labels)) / len(labels)


def rmse(labels: Sequence[float], predictions: Sequence[float]) -> float:
    _same_length(labels, predictions)
    return math.sqrt(sum((p - y) ** 2 for p, y in zip(predictions, labels)) / len(labels))


METRICS: dict[str, Callable[[Sequence[float], Sequence[float]], float]] = {"auc": auc, "accuracy": accuracy, "rmse": rmse}


def read_test(directory: Path) -> tuple[list[float], list[list[float]]]:
    labels, features = [], []
    for path in sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() == ".csv"):
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.reader(handle):
                if row:
                    labels.append(float(row[0]))
                    features.append([float(v) for v in row[1:]])
    if not labels:
        raise ValueError(f"no test rows under {directory}")
    return labels, features


def model_file(extracted: Path) -> Path:
    """The model in an extracted ``model.tar.gz``: SageMaker's XGBoost container names it
    ``xgboost-model``; otherwise it must be the archive's only file."""
    files = [p for p in extracted.rglob("*") if p.is_file()]
    named = [p for p in files if p.name == "xgboost-model"]
    if named:
        return named[0]
    if len(files) != 1:
        raise ValueError(f"model.tar.gz must hold 'xgboost-model' or exactly one file, found {sorted(p.name for p in files)}")
    return files[0]


def xgboost_predictor(model_dir: Path) -> Callable[[list[list[float]]], list[float]]:
    import xgboost  # provided by the training image

    with tempfile.TemporaryDirectory() as extracted:
        with tarfile.open(model_dir / "model.tar.gz") as archive:
            # Only plain files, and none that would land outside the extraction folder.
            members = [m for m in archive.getmembers() if m.isfile() and not Path(m.name).is_absolute() and ".." not in Path(m.name).parts]
            archive.extractall(extracted, members=members)  # noqa: S202 - members checked above
        booster = xgboost.Booster()
        booster.load_model(str(model_file(Path(extracted))))
    return lambda rows: [float(v) for v in booster.predict(xgboost.DMatrix(rows))]


def main(
    metric: str,
    model_dir: Path,
    test_dir: Path,
    output_dir: Path,
    predictor: Callable[[Path], Callable[[list[list[float]]], list[float]]] = xgboost_predictor,
) -> dict:
    if metric not in METRICS:
        raise ValueError(f"METRIC_NAME must be one of {', '.join(sorted(METRICS))}, got {metric!r}")
    labels, features = read_test(test_dir)
    scores = predictor(model_dir)(features)
    report = {"metrics": {metric: {"value": METRICS[metric](labels, scores)}}, "metric": metric, "test_rows": len(labels)}
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "evaluation.json").write_text(json.dumps(report), encoding="utf-8")
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    try:
        main(
            os.environ.get("METRIC_NAME", "auc"),
            Path(os.environ.get("MODEL_DIR", "/opt/ml/processing/model")),
            Path(os.environ.get("TEST_DIR", "/opt/ml/processing/test")),
            Path(os.environ.get("OUTPUT_DIR", "/opt/ml/processing/evaluation")),
        )
    except ValueError as err:
        print(f"evaluation failed: {err}", file=sys.stderr)
        sys.exit(1)
