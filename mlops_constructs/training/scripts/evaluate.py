"""Default evaluation job: score the trained model on the test split and write ``evaluation.json`` in
SageMaker's model-quality format.

Runs in the training image (SageMaker's XGBoost image by default), which provides ``xgboost``; it
keeps to Python 3.8 so that older framework images run it. Reads ``model.tar.gz`` from
``/opt/ml/processing/model`` and the test CSV (label first) from ``/opt/ml/processing/test``, and
writes ``/opt/ml/processing/evaluation/evaluation.json`` with one section for the ``PROBLEM_TYPE``::

    {"binary_classification_metrics": {"auc": {"value": 0.91, "standard_deviation": "NaN"}, ...}}
    {"multiclass_classification_metrics": {"weighted_f1": {"value": 0.83, "standard_deviation": 0.01}, ...}}
    {"regression_metrics": {"mse": {"value": 4.2, "standard_deviation": 0.3}, ...}}

The sections and metric names are those of SageMaker Model Monitor's model-quality statistics
(https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-model-quality-metrics.html), so the
model registry shows the report it is given as the package's ModelQuality statistics. As there, the
standard deviation is that of the metric over five random 80 % samples of the test rows, and ``"NaN"``
below 200 rows (or when a sample cannot be scored). Classification sections also hold
``confusion_matrix`` (actual label -> predicted label -> count).

The state machine's gate reads ``<section>.<metric>.value`` paths of this report.
"""

from __future__ import annotations

import csv
import json
import math
import os
import random
import statistics
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, List, Sequence, Tuple, Union

Prediction = Union[float, List[float]]
"""A score (binary: probability of the positive class; multiclass: a class index; regression: the
value), or, for ``multi:softprob`` models, one probability per class."""


def _same_length(labels: Sequence[Any], scores: Sequence[Any]) -> None:
    if len(labels) != len(scores) or not labels:
        raise ValueError(f"got {len(labels)} labels and {len(scores)} predictions")


# -- binary classification -------------------------------------------------------------------------


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


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def _binary_counts(labels: Sequence[float], scores: Sequence[float]) -> Tuple[int, int, int, int]:
    """True positives, false positives, true negatives, false negatives; a score of 0.5 or more is positive."""
    _same_length(labels, scores)
    tp = sum(1 for s, y in zip(scores, labels) if s >= 0.5 and y >= 0.5)
    fp = sum(1 for s, y in zip(scores, labels) if s >= 0.5 > y)
    tn = sum(1 for s, y in zip(scores, labels) if s < 0.5 and y < 0.5)
    return tp, fp, tn, len(labels) - tp - fp - tn


def precision(labels: Sequence[float], scores: Sequence[float]) -> float:
    tp, fp, _, _ = _binary_counts(labels, scores)
    return _ratio(tp, tp + fp)


def recall(labels: Sequence[float], scores: Sequence[float]) -> float:
    """Also the true positive rate."""
    tp, _, _, fn = _binary_counts(labels, scores)
    return _ratio(tp, tp + fn)


def f1(labels: Sequence[float], scores: Sequence[float]) -> float:
    tp, fp, _, fn = _binary_counts(labels, scores)
    return _ratio(2 * tp, 2 * tp + fp + fn)


def true_negative_rate(labels: Sequence[float], scores: Sequence[float]) -> float:
    _, fp, tn, _ = _binary_counts(labels, scores)
    return _ratio(tn, tn + fp)


def false_positive_rate(labels: Sequence[float], scores: Sequence[float]) -> float:
    _, fp, tn, _ = _binary_counts(labels, scores)
    return _ratio(fp, fp + tn)


def false_negative_rate(labels: Sequence[float], scores: Sequence[float]) -> float:
    tp, _, _, fn = _binary_counts(labels, scores)
    return _ratio(fn, fn + tp)


# -- multiclass classification ------------------------------------------------------------------------


def predicted_class(prediction: Prediction) -> int:
    """The class of one prediction: the index of the highest probability, or a class index itself."""
    if isinstance(prediction, (list, tuple)):
        if not prediction:
            raise ValueError("a multiclass prediction has no class probabilities")
        return max(range(len(prediction)), key=lambda k: prediction[k])
    return int(round(prediction))


def _classes(labels: Sequence[float], predictions: Sequence[Prediction]) -> Tuple[List[int], List[int]]:
    _same_length(labels, predictions)
    return [int(round(y)) for y in labels], [predicted_class(p) for p in predictions]


def multiclass_accuracy(labels: Sequence[float], predictions: Sequence[Prediction]) -> float:
    actual, predicted = _classes(labels, predictions)
    return sum(a == p for a, p in zip(actual, predicted)) / len(actual)


def _weighted(labels: Sequence[float], predictions: Sequence[Prediction], score: Callable[[int, int, int], float]) -> float:
    """A per-class score from (true positives, false positives, false negatives), averaged over the
    classes that occur in the labels, weighted by how often each occurs."""
    actual, predicted = _classes(labels, predictions)
    total = 0.0
    for cls in sorted(set(actual)):
        tp = sum(1 for a, p in zip(actual, predicted) if a == cls and p == cls)
        fp = sum(1 for a, p in zip(actual, predicted) if a != cls and p == cls)
        fn = sum(1 for a, p in zip(actual, predicted) if a == cls and p != cls)
        total += (tp + fn) * score(tp, fp, fn)
    return total / len(actual)


def weighted_precision(labels: Sequence[float], predictions: Sequence[Prediction]) -> float:
    return _weighted(labels, predictions, lambda tp, fp, fn: _ratio(tp, tp + fp))


def weighted_recall(labels: Sequence[float], predictions: Sequence[Prediction]) -> float:
    return _weighted(labels, predictions, lambda tp, fp, fn: _ratio(tp, tp + fn))


def weighted_f1(labels: Sequence[float], predictions: Sequence[Prediction]) -> float:
    return _weighted(labels, predictions, lambda tp, fp, fn: _ratio(2 * tp, 2 * tp + fp + fn))


# -- regression -------------------------------------------------------------------------------------


def mae(labels: Sequence[float], predictions: Sequence[float]) -> float:
    _same_length(labels, predictions)
    return sum(abs(p - y) for p, y in zip(predictions, labels)) / len(labels)


def mse(labels: Sequence[float], predictions: Sequence[float]) -> float:
    _same_length(labels, predictions)
    return sum((p - y) ** 2 for p, y in zip(predictions, labels)) / len(labels)


def rmse(labels: Sequence[float], predictions: Sequence[float]) -> float:
    return math.sqrt(mse(labels, predictions))


def r2(labels: Sequence[float], predictions: Sequence[float]) -> float:
    """Coefficient of determination; with constant labels, 1 for a perfect fit and 0 otherwise."""
    _same_length(labels, predictions)
    mean = sum(labels) / len(labels)
    residual = sum((y - p) ** 2 for p, y in zip(predictions, labels))
    spread = sum((y - mean) ** 2 for y in labels)
    if spread == 0:
        return 1.0 if residual == 0 else 0.0
    return 1 - residual / spread


Metric = Callable[[Sequence[float], Sequence[Any]], float]

PROBLEM_TYPES: Dict[str, Tuple[str, Dict[str, Metric]]] = {
    "binary_classification": ("binary_classification_metrics", {
        "auc": auc, "accuracy": accuracy, "precision": precision, "recall": recall, "f1": f1,
        "true_positive_rate": recall, "true_negative_rate": true_negative_rate,
        "false_positive_rate": false_positive_rate, "false_negative_rate": false_negative_rate,
    }),
    "multiclass_classification": ("multiclass_classification_metrics", {
        "accuracy": multiclass_accuracy, "weighted_precision": weighted_precision,
        "weighted_recall": weighted_recall, "weighted_f1": weighted_f1,
    }),
    "regression": ("regression_metrics", {"mae": mae, "mse": mse, "rmse": rmse, "r2": r2}),
}
"""Per problem type: the report's section and the metrics written in it."""

STANDARD_DEVIATION_MIN_ROWS = 200
STANDARD_DEVIATION_SAMPLES = 5


def _standard_deviation(metric: Metric, labels: Sequence[float], predictions: Sequence[Any]) -> Union[float, str]:
    """The metric's standard deviation over five seeded random samples of 80 % of the rows, as Model
    Monitor computes it; ``"NaN"`` below 200 rows or when a sample cannot be scored."""
    if len(labels) < STANDARD_DEVIATION_MIN_ROWS:
        return "NaN"
    generator = random.Random(0)
    size = int(len(labels) * 0.8)
    values = []
    for _ in range(STANDARD_DEVIATION_SAMPLES):
        rows = generator.sample(range(len(labels)), size)
        try:
            values.append(metric([labels[i] for i in rows], [predictions[i] for i in rows]))
        except ValueError:
            return "NaN"
    return statistics.pstdev(values)


def _confusion_matrix(actual: Sequence[int], predicted: Sequence[int]) -> Dict[str, Dict[str, int]]:
    classes = sorted(set(actual) | set(predicted))
    return {str(a): {str(p): sum(1 for x, y in zip(actual, predicted) if x == a and y == p) for p in classes} for a in classes}


def report_for(problem_type: str, labels: Sequence[float], predictions: Sequence[Prediction]) -> Dict[str, Any]:
    """The model-quality report of ``predictions`` against ``labels``."""
    if problem_type not in PROBLEM_TYPES:
        raise ValueError(f"PROBLEM_TYPE must be one of {', '.join(PROBLEM_TYPES)}, got {problem_type!r}")
    section, metrics = PROBLEM_TYPES[problem_type]
    if problem_type != "multiclass_classification" and any(isinstance(p, (list, tuple)) for p in predictions):
        raise ValueError(f"the model predicts one probability per class; set the problem type to multiclass_classification, not {problem_type}")
    if problem_type != "regression" and any(y < 0 or y != int(y) for y in labels):
        raise ValueError(f"{problem_type} needs class labels 0, 1, ... in the first column; found {sorted(set(labels))[:5]}")
    body: Dict[str, Any] = {
        name: {"value": metric(labels, predictions), "standard_deviation": _standard_deviation(metric, labels, predictions)}
        for name, metric in metrics.items()
    }
    if problem_type == "binary_classification":
        body["confusion_matrix"] = _confusion_matrix([int(y >= 0.5) for y in labels], [int(float(s) >= 0.5) for s in predictions])  # type: ignore[arg-type]
    elif problem_type == "multiclass_classification":
        body["confusion_matrix"] = _confusion_matrix(*_classes(labels, predictions))
    return {section: body}


# -- input --------------------------------------------------------------------------------------------


def read_test(directory: Path) -> Tuple[List[float], List[List[float]]]:
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


def refuse_pickles(path: Path) -> None:
    """A Python pickle (SageMaker's XGBoost containers before 1.3-1 save the booster so) is code, not
    data: the bundled evaluator never unpickles a model."""
    with path.open("rb") as handle:
        if handle.read(1) == b"\x80":  # the PROTO opcode every pickle since protocol 2 starts with
            raise ValueError(
                f"{path.name} is a Python pickle (SageMaker XGBoost before 1.3-1 saves models so); the bundled "
                "evaluation loads only XGBoost's JSON or binary model files: train with XGBoost 1.3-1 or later"
            )


def xgboost_predictor(model_dir: Path) -> Callable[[List[List[float]]], List[Prediction]]:
    import xgboost  # provided by the training image

    with tempfile.TemporaryDirectory() as extracted:
        with tarfile.open(model_dir / "model.tar.gz") as archive:
            # None that would land outside the extraction folder (the archive is refused), and only plain files.
            escaping = [m.name for m in archive.getmembers() if Path(m.name).is_absolute() or ".." in Path(m.name).parts]
            if escaping:
                raise ValueError(f"model.tar.gz holds paths outside its folder, {escaping}: refusing to extract it")
            members = [m for m in archive.getmembers() if m.isfile()]
            archive.extractall(extracted, members=members)  # noqa: S202 - members checked above
        path = model_file(Path(extracted))
        refuse_pickles(path)
        booster = xgboost.Booster()
        booster.load_model(str(path))
    # one float per row, or one list of class probabilities per row (multi:softprob)
    return lambda rows: booster.predict(xgboost.DMatrix(rows)).tolist()


def main(
    problem_type: str,
    model_dir: Path,
    test_dir: Path,
    output_dir: Path,
    predictor: Callable[[Path], Callable[[List[List[float]]], List[Prediction]]] = xgboost_predictor,
) -> Dict[str, Any]:
    if problem_type not in PROBLEM_TYPES:
        raise ValueError(f"PROBLEM_TYPE must be one of {', '.join(PROBLEM_TYPES)}, got {problem_type!r}")
    labels, features = read_test(test_dir)
    predictions = predictor(model_dir)(features)
    report = report_for(problem_type, labels, predictions)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "evaluation.json").write_text(json.dumps(report), encoding="utf-8")
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    try:
        main(
            os.environ.get("PROBLEM_TYPE", "binary_classification"),
            Path(os.environ.get("MODEL_DIR", "/opt/ml/processing/model")),
            Path(os.environ.get("TEST_DIR", "/opt/ml/processing/test")),
            Path(os.environ.get("OUTPUT_DIR", "/opt/ml/processing/evaluation")),
        )
    except ValueError as err:
        print(f"evaluation failed: {err}", file=sys.stderr)
        sys.exit(1)
