"""Drift job: compare an endpoint's captured requests with a sample of the training data (Evidently).

Runs as a SageMaker processing job in the image built from this folder's Dockerfile, whose
ENTRYPOINT is ``python /opt/drift/drift.py``; the job passes only the arguments::

    python drift.py --baseline DIR --captured DIR --output DIR [--min-rows N] [--endpoint NAME]
                    [--captured-format capture|csv] [--drop-columns K]

Inputs
------
``--baseline DIR``
    ``baseline.csv``: a sample of the training split with a header row naming the features (no
    label). Optionally ``baseline.json`` with the feature types::

        {"features": [{"name": "age", "type": "numerical"}, {"name": "plan", "type": "categorical"}]}

    Features it does not list, or all of them without it, are typed from the baseline: a column whose
    values all parse as numbers is numerical, any other categorical.

``--captured DIR``
    SageMaker data-capture files, ``*.jsonl`` anywhere below DIR (SageMaker writes
    ``<prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/<name>.jsonl``). Format: "Capture data from
    real-time endpoint", https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture-endpoint.html
    (and "Data capture", .../model-monitor-data-capture.html). One JSON object a line::

        {"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                                           "data": "1.5,0.2,red", "encoding": "CSV"},
                         "endpointOutput": {...}},
         "eventMetadata": {"eventId": "...", "inferenceTime": "..."}, "eventVersion": "0"}

    Only ``captureData.endpointInput`` with ``mode`` INPUT is read. ``encoding`` is CSV or JSON (the
    payload as text) or BASE64 (any other content type SageMaker was not told is CSV or JSON); a
    BASE64 payload is decoded and read as JSON when ``observedContentType`` names JSON, as CSV when it
    names CSV, and skipped otherwise.

    CSV payloads: the baseline's features in its order, no header, one or more rows separated by
    newlines. JSON payloads, rows given either as a list of values in the baseline's order or as an
    object keyed by feature name (keys that are not features are ignored, a missing feature makes
    the line malformed):

    * ``{"instances": [row, ...]}``
    * ``[row, ...]`` (a list of lists or of objects)
    * ``row``: a single object, or a single flat list of values
    * a row may also be ``{"features": [values...]}``, the form SageMaker's built-in algorithms take.

    A line that is not JSON, lacks these fields, is not mode INPUT, does not decode, or has a row
    whose column count (or feature names) does not match the baseline, or a non-number in a
    numerical feature, is skipped as a whole and counted in ``skipped_lines``. Empty values are
    missing values.

``--captured DIR --captured-format csv [--drop-columns K]``
    A batch transform's input instead of a capture: every file anywhere below DIR read as CSV without a
    header, one row a line, the baseline's features in its order after the first ``K`` columns (default 0),
    which are dropped: the rows the model saw through the batch ``input_filter`` ``$`` (K = 0) or ``$[K:]``.
    A row whose column count, after the drop, is not the baseline's, or with a non-number in a numerical
    feature, is skipped and counted in ``skipped_lines`` (each row is a "line"). A file that is not UTF-8
    text is read with its bad bytes replaced, so its rows are skipped.

Outputs (``--output DIR``, created if absent)
---------------------------------------------
``drift.json``::

    {"status": "ok" | "insufficient-data", "drifted_share": 0.4,
     "features": {"age": {"drifted": true, "score": 1.3e-50, "test": "K-S p_value",
                          "threshold": 0.05, "type": "numerical"}, ...},
     "rows": 500, "baseline_rows": 1000, "skipped_lines": 3, "min_rows": 100, "endpoint": "..."}

    Evidently's data drift preset chooses each feature's test by type and sample size (its
    defaults); ``score`` is that test's statistic or p-value as Evidently reports it, ``test`` its
    name, ``drifted`` Evidently's verdict against the test's default threshold. ``drifted_share`` is
    drifted features / features. With fewer than ``--min-rows`` captured rows the status is
    ``insufficient-data``, ``drifted_share`` 0.0 and ``features`` empty.

``drift.html``
    Evidently's own HTML report (not written with insufficient data).

``metric_data.json``
    A list in the shape of CloudWatch ``PutMetricData``'s ``MetricData``, to pass on unchanged:
    ``CapturedRows`` (Unit Count), ``DriftedShare`` (Unit None) and a ``FeatureDriftScore`` per
    feature (Unit None, dimension ``Feature``), drifted features first, at most 500 of them and as many
    as fit 200,000 bytes escaped (the state machine reads the file into its state); the job warns on
    stderr when it leaves features out (``drift.json`` has them all). With ``--endpoint`` every entry
    also carries the dimension ``EndpointName``. With insufficient data only ``CapturedRows`` is
    written. Entries have no Timestamp (CloudWatch stamps them on receipt).

Exit status: 0 when the outputs are written (drift found or not, enough data or not); 2 with one
line on stderr when the input is unusable (no or empty ``baseline.csv``, a bad ``baseline.json``,
an unreadable directory, captured rows none of which fits the baseline: none has its column
count, or no JSON object names all its features) or the arguments are wrong; 1 if Evidently itself
fails. An empty or absent capture is not an error: it is insufficient data.

Evidently's defaults to know when sizing the baseline: up to 1000 baseline rows it uses K-S
(numerical) and chi-square (categorical) p-values, above 1000 Wasserstein and Jensen-Shannon
distances. Its chi-square takes the baseline's frequencies as exact, so a small baseline against
many captured rows flags categorical features that have not moved (seen with 1000 baseline rows and
10,000 captured rows); a baseline sample of a few thousand rows avoids it.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import csv
import io
import json
import math
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

# Evidently (imported where the drift is computed) sends usage telemetry unless DO_NOT_TRACK is set.
os.environ.setdefault("DO_NOT_TRACK", "1")

NUMERICAL, CATEGORICAL = "numerical", "categorical"


class InputError(Exception):
    """The job's input cannot be used; the message is the one line printed."""


class Malformed(Exception):
    """A capture line that is skipped; ``shape`` describes a row that does not fit the baseline."""

    def __init__(self, shape: str | None = None) -> None:
        super().__init__(shape)
        self.shape = shape


# -- baseline ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Baseline:
    frame: pd.DataFrame
    types: dict[str, str]

    @property
    def features(self) -> list[str]:
        return list(self.frame.columns)


def _is_numeric(column: pd.Series) -> bool:
    values = column.dropna()
    return not values.empty and pd.to_numeric(values, errors="coerce").notna().all()


def read_baseline(directory: Path) -> Baseline:
    if not directory.is_dir():
        raise InputError(f"--baseline {directory}: not a readable directory")
    path = directory / "baseline.csv"
    if not path.is_file():
        raise InputError(f"--baseline {directory}: no baseline.csv in it")
    try:
        frame = pd.read_csv(path, dtype=str, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: empty, expected a header row naming the features and at least one row") from None
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as err:
        raise InputError(f"{path}: cannot be read as CSV ({str(err).strip().splitlines()[-1]})") from None
    if frame.empty:
        raise InputError(f"{path}: has a header but no rows")
    if any(str(name).startswith("Unnamed: ") for name in frame.columns):
        raise InputError(f"{path}: the header row must name every column, got {list(frame.columns)}")
    frame.columns = [str(name).strip() for name in frame.columns]
    types = _declared_types(directory / "baseline.json", frame.columns)
    for name in frame.columns:
        types.setdefault(name, NUMERICAL if _is_numeric(frame[name]) else CATEGORICAL)
        if types[name] == NUMERICAL:
            numbers = pd.to_numeric(frame[name], errors="coerce")
            bad = frame[name][numbers.isna() & frame[name].notna()]
            if not bad.empty:
                raise InputError(f"{path}: feature {name!r} is numerical but has the value {bad.iloc[0]!r}")
            frame[name] = numbers
        else:
            frame[name] = frame[name].str.strip()
    return Baseline(frame=frame[list(frame.columns)], types={name: types[name] for name in frame.columns})


def _declared_types(path: Path, columns: Sequence[str]) -> dict[str, str]:
    if not path.is_file():
        return {}
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"{path}: not valid JSON ({err})") from None
    features = document.get("features") if isinstance(document, dict) else None
    if not isinstance(features, list):
        raise InputError(f'{path}: expected {{"features": [{{"name": ..., "type": "numerical"|"categorical"}}, ...]}}')
    types: dict[str, str] = {}
    for i, entry in enumerate(features):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or entry.get("type") not in (NUMERICAL, CATEGORICAL):
            raise InputError(f'{path}: features[{i}] must be {{"name": "<feature>", "type": "numerical"|"categorical"}}, got {json.dumps(entry)}')
        if entry["name"] not in columns:
            raise InputError(f"{path}: features[{i}] names {entry['name']!r}, which is not a column of baseline.csv {list(columns)}")
        types[entry["name"]] = entry["type"]
    return types


# -- captured data -------------------------------------------------------------------------------


@dataclass
class Captured:
    rows: list[list[Any]] = field(default_factory=list)
    lines: int = 0
    skipped_lines: int = 0
    mismatches: Counter = field(default_factory=Counter)
    """The shapes of the payload rows that did not fit the baseline ("4 columns", "objects without 'age'")."""


def _files(directory: Path, pattern: str) -> list[Path]:
    """The files below ``directory`` whose names match ``pattern``, in a stable order."""
    if not directory.is_dir():
        raise InputError(f"--captured {directory}: not a readable directory")
    try:
        return sorted(p for p in directory.rglob(pattern) if p.is_file())
    except OSError as err:
        raise InputError(f"--captured {directory}: cannot be listed ({err.strerror or err})") from None


def capture_files(directory: Path) -> list[Path]:
    """Every SageMaker data-capture file (``*.jsonl``) below ``directory``."""
    return _files(directory, "*.jsonl")


def _payload(line: str) -> tuple[str, str]:
    """The endpoint input of one capture line: (format "csv"|"json", text)."""
    try:
        record = json.loads(line)
        endpoint_input = record["captureData"]["endpointInput"]
        mode, data, encoding = endpoint_input["mode"], endpoint_input["data"], endpoint_input["encoding"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise Malformed from None
    if mode != "INPUT" or not isinstance(data, str) or not isinstance(encoding, str):
        raise Malformed
    encoding = encoding.upper()
    if encoding in ("CSV", "JSON"):
        return encoding.lower(), data
    if encoding != "BASE64":
        raise Malformed
    content_type = str(endpoint_input.get("observedContentType", "")).lower()
    kind = "json" if "json" in content_type else "csv" if "csv" in content_type else None
    if kind is None:
        raise Malformed
    try:
        return kind, base64.b64decode(data, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise Malformed from None


def _csv_rows(text: str) -> list[list[Any]]:
    rows = [row for row in csv.reader(io.StringIO(text)) if row]
    if not rows:
        raise Malformed
    return rows


def _json_rows(text: str, features: Sequence[str]) -> list[list[Any]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        raise Malformed from None
    if isinstance(document, dict) and "instances" in document:
        document = document["instances"]
        if not isinstance(document, list):
            raise Malformed
    if isinstance(document, dict) or (isinstance(document, list) and document and not isinstance(document[0], (list, dict))):
        document = [document]  # a single row
    if not isinstance(document, list) or not document:
        raise Malformed
    return [_json_row(row, features) for row in document]


def _json_row(row: Any, features: Sequence[str]) -> list[Any]:
    if isinstance(row, dict) and set(row) == {"features"} and isinstance(row["features"], list):
        row = row["features"]
    if isinstance(row, list):
        if any(isinstance(value, (list, dict)) for value in row):
            raise Malformed
        return row
    if isinstance(row, dict):
        missing = [name for name in features if name not in row]
        if missing:
            raise Malformed(f"objects without {missing[0]!r}")
        return [row[name] for name in features]
    raise Malformed


def _cell(value: Any, kind: str) -> Any:
    """One value as the baseline holds it: a float (or None) for numerical features, a string for
    categorical ones (integral numbers without a decimal point, so that JSON's 1 and 1.0 match CSV's 1)."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    if kind == NUMERICAL:
        if isinstance(value, bool):
            raise Malformed
        try:
            return float(value)
        except (TypeError, ValueError):
            raise Malformed from None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bool):
        return str(value).lower()
    return str(value).strip() if isinstance(value, str) else str(value)


def _read_rows(files: list[Path], rows_of: Callable[[str], list[list[Any]]], baseline: Baseline, directory: Path,
               *, what: str, had: str, unit: str) -> Captured:
    """Every line of ``files`` as baseline rows: ``rows_of`` gives a line's rows, each with the baseline's column count,
    or raises :class:`Malformed`; each cell is converted to its feature's type. A skipped line is counted, with its
    shape; when no row fits at all, one line says which shapes the ``what`` rows had instead."""
    features, types = baseline.features, baseline.types
    captured = Captured()
    for path in files:
        for line in _lines(path):
            captured.lines += 1
            try:
                converted = [[_cell(value, types[name]) for value, name in zip(row, features)] for row in rows_of(line)]
            except Malformed as malformed:
                captured.skipped_lines += 1
                if malformed.shape:
                    captured.mismatches[malformed.shape] += 1
                continue
            captured.rows.extend(converted)
    if not captured.rows and captured.mismatches:
        shapes = ", ".join(f"{shape} ({n} {unit})" for shape, n in captured.mismatches.most_common(3))
        raise InputError(
            f"--captured {directory}: no {what} row fits the baseline's {len(features)} columns "
            f"({', '.join(features)}); {had} {shapes}"
        )
    return captured


def read_captured(directory: Path, baseline: Baseline) -> Captured:
    """The endpoint inputs of SageMaker's capture files (CSV or JSON payloads)."""
    features = baseline.features

    def rows_of(line: str) -> list[list[Any]]:
        kind, text = _payload(line)
        rows = _csv_rows(text) if kind == "csv" else _json_rows(text, features)
        for row in rows:
            if len(row) != len(features):
                raise Malformed(f"{len(row)} columns")
        return rows

    return _read_rows(capture_files(directory), rows_of, baseline, directory,
                      what="captured", had="the requests had rows of", unit="lines")


def input_files(directory: Path) -> list[Path]:
    """Every file below ``directory`` (a batch input prefix as a processing job downloads it)."""
    return _files(directory, "*")


def read_csv_input(directory: Path, baseline: Baseline, drop_columns: int = 0) -> Captured:
    """Rows of headerless CSV files (a batch transform's input), less their first ``drop_columns`` columns."""
    features = baseline.features

    def rows_of(line: str) -> list[list[Any]]:
        rows = [row for row in csv.reader(io.StringIO(line)) if row]
        if len(rows) != 1:
            raise Malformed
        row = rows[0][drop_columns:]
        if len(row) != len(features):
            raise Malformed(f"{len(row)} columns after dropping {drop_columns}")
        return [row]

    return _read_rows(input_files(directory), rows_of, baseline, directory, what="input", had="the rows had", unit="rows")


def _lines(path: Path) -> Iterator[str]:
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.strip():
                    yield line
    except OSError as err:
        raise InputError(f"{path}: cannot be read ({err.strerror or err})") from None


# -- drift ---------------------------------------------------------------------------------------


def compute_drift(baseline: Baseline, current: pd.DataFrame, html: Path) -> dict[str, dict[str, Any]]:
    """Per feature: Evidently's drift verdict, score, test and threshold (and the feature's type).
    Writes Evidently's HTML report to ``html``."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(
        numerical_columns=[n for n in baseline.features if baseline.types[n] == NUMERICAL],
        categorical_columns=[n for n in baseline.features if baseline.types[n] == CATEGORICAL],
    )
    snapshot = Report([DataDriftPreset()], include_tests=True).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(baseline.frame, data_definition=definition),
    )
    result = snapshot.dict()
    verdicts = {
        test["bound_test"]["metric_fingerprint"]: test["status"]
        for test in result["tests"]
        if test.get("bound_test", {}).get("type", "").endswith(":ValueDriftBoundTest")
    }
    features: dict[str, dict[str, Any]] = {}
    for metric in result["metrics"]:
        config = metric["config"]
        if not config.get("type", "").endswith(":ValueDrift"):
            continue
        name, score = config["column"], float(metric["value"])
        features[name] = {
            "drifted": verdicts[metric["id"]] == "FAIL",
            "score": score if math.isfinite(score) else None,
            "test": config["method"],
            "threshold": config["threshold"],
            "type": baseline.types[name],
        }
    missing = set(baseline.features) - set(features)
    if missing:
        raise RuntimeError(f"Evidently reported no drift for {sorted(missing)}")
    snapshot.save_html(str(html))
    return {name: features[name] for name in baseline.features}


MAX_FEATURE_METRICS = 500
"""Per-feature scores published per run at most (drifted features first): with CapturedRows and DriftedShare
they stay within PutMetricData's 1,000 entries."""
MAX_METRIC_DATA_BYTES = 200_000
"""The most ``metric_data.json`` may take once escaped as a JSON string (bytes): the state machine's ``getObject``
returns it so, as ``Body``, in a result that must fit Step Functions' 256 KiB, or the run fails with
``States.DataLimitExceeded``, which no Catch handles
(https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html). Long feature names (one-hot
columns, up to 1,024 characters each, quotes and backslashes doubled by the escaping) reach it before 500 features do."""
SMALLEST_VALUE = 1e-100
"""CloudWatch rejects values too close to zero (documented as 8.515920e-109); a p-value of strong drift can
be smaller, so scores below this magnitude are published as 0."""


def _ascii(text: str) -> str:
    """A dimension value CloudWatch accepts: ASCII only (non-ASCII escaped), at most 1,024 characters
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_Dimension.html)."""
    return text.encode("ascii", "backslashreplace").decode("ascii")[:1024] or "-"


def _escaped_size(value: Any) -> int:
    """The bytes of ``value`` as compact JSON, itself written as a JSON string (as ``getObject``'s ``Body``)."""
    return len(json.dumps(json.dumps(value, separators=(",", ":"))))


def _value(number: float) -> float:
    return 0.0 if abs(number) < SMALLEST_VALUE else float(number)


def metric_data(rows: int, features: dict[str, dict[str, Any]] | None, drifted_share: float, endpoint: str | None) -> list[dict[str, Any]]:
    """The run's metrics, shaped as CloudWatch PutMetricData's ``MetricData``: ``CapturedRows``, and with a
    verdict ``DriftedShare`` and up to :data:`MAX_FEATURE_METRICS` ``FeatureDriftScore`` (drifted first), as many
    as fit :data:`MAX_METRIC_DATA_BYTES`."""
    base = [{"Name": "EndpointName", "Value": _ascii(endpoint)}] if endpoint else []

    def entry(name: str, value: float, unit: str, extra: list[dict[str, str]] | None = None) -> dict[str, Any]:
        dimensions = base + (extra or [])
        item: dict[str, Any] = {"MetricName": name}
        if dimensions:
            item["Dimensions"] = dimensions
        item.update(Value=value, Unit=unit)
        return item

    data = [entry("CapturedRows", rows, "Count")]
    if features is not None:
        data.append(entry("DriftedShare", drifted_share, "None"))
        scored = [(name, result) for name, result in features.items() if result["score"] is not None]
        scored.sort(key=lambda item: not item[1]["drifted"])  # stable: drifted features first, then in order
        size = _escaped_size(data)
        for name, result in scored[:MAX_FEATURE_METRICS]:
            item = entry("FeatureDriftScore", _value(result["score"]), "None", [{"Name": "Feature", "Value": _ascii(name)}])
            size += _escaped_size(item) - 2 + 1  # its characters escaped (not the string's own quotes), and its comma
            if size > MAX_METRIC_DATA_BYTES:
                break
            data.append(item)
    return data


# -- main ----------------------------------------------------------------------------------------


def _whole_number(unit: str, minimum: int, bound: str) -> Callable[[str], int]:
    """An argparse type: a whole number of ``unit`` of at least ``minimum`` (``bound`` words it in the error)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number of {unit}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {bound}, got {value}")
        return value

    return parse


_min_rows = _whole_number("rows", 1, "at least 1")
_drop_columns = _whole_number("columns", 0, "0 or more")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="drift.py", description="Data drift of captured endpoint requests against a training baseline (Evidently).")
    parser.add_argument("--baseline", required=True, type=Path, metavar="DIR", help="holds baseline.csv (header row, no label) and optionally baseline.json (feature types)")
    parser.add_argument("--captured", required=True, type=Path, metavar="DIR", help="SageMaker data-capture .jsonl files, searched recursively")
    parser.add_argument("--output", required=True, type=Path, metavar="DIR", help="where drift.json, drift.html and metric_data.json are written")
    parser.add_argument("--min-rows", type=_min_rows, default=100, metavar="N", help="fewer captured rows than this give status insufficient-data (default: 100)")
    parser.add_argument("--endpoint", metavar="NAME", help="endpoint name, added to every metric as the EndpointName dimension (default: no such dimension)")
    parser.add_argument("--captured-format", choices=("capture", "csv"), default="capture",
                        help="capture: SageMaker data-capture .jsonl; csv: headerless CSV files, a batch transform's input (default: capture)")
    parser.add_argument("--drop-columns", type=_drop_columns, default=0, metavar="K",
                        help="with --captured-format csv: leading columns of each row the model does not see, as a batch input_filter $[K:] (default: 0)")
    args = parser.parse_args(argv)
    if args.drop_columns and args.captured_format != "csv":
        parser.error("--drop-columns applies only with --captured-format csv")
    return args


def run(args: argparse.Namespace) -> dict[str, Any]:
    baseline = read_baseline(args.baseline)
    if getattr(args, "captured_format", "capture") == "csv":
        captured = read_csv_input(args.captured, baseline, getattr(args, "drop_columns", 0))
    else:
        captured = read_captured(args.captured, baseline)
    try:
        args.output.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"--output {args.output}: cannot be created ({err.strerror or err})") from None
    rows = len(captured.rows)
    report: dict[str, Any] = {"status": "insufficient-data", "drifted_share": 0.0, "features": {}}
    features = None
    if rows >= args.min_rows:
        current = pd.DataFrame(captured.rows, columns=baseline.features)
        for name in baseline.features:
            if baseline.types[name] == NUMERICAL:
                current[name] = pd.to_numeric(current[name])
        features = compute_drift(baseline, current, args.output / "drift.html")
        drifted = sum(result["drifted"] for result in features.values())
        report = {"status": "ok", "drifted_share": drifted / len(features), "features": features}
    report.update(
        rows=rows,
        baseline_rows=len(baseline.frame),
        skipped_lines=captured.skipped_lines,
        capture_lines=captured.lines,
        min_rows=args.min_rows,
        endpoint=args.endpoint,
    )
    metrics = metric_data(rows, features, report["drifted_share"], args.endpoint)
    published = sum(1 for m in metrics if m["MetricName"] == "FeatureDriftScore")
    if features is not None and published < sum(1 for r in features.values() if r["score"] is not None):
        print(f"drift.py: {len(features)} features: the {published} first (drifted first) are published as metrics, within "
              f"{MAX_FEATURE_METRICS} and {MAX_METRIC_DATA_BYTES} bytes; drift.json has them all", file=sys.stderr)
    try:
        (args.output / "drift.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        # Compact: the state machine reads it whole into its state (256 KiB at most).
        (args.output / "metric_data.json").write_text(json.dumps(metrics, separators=(",", ":")) + "\n", encoding="utf-8")
    except OSError as err:
        raise InputError(f"--output {args.output}: cannot be written ({err.strerror or err})") from None
    return report


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        report = run(args)
    except InputError as err:
        print(f"drift.py: error: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # Evidently failing on data it accepted: still one line, not a traceback
        print(f"drift.py: drift computation failed: {type(err).__name__}: {err}".splitlines()[0], file=sys.stderr)
        return 1
    drifted = [name for name, result in report["features"].items() if result["drifted"]]
    print(
        f"drift.py: {report['status']}: {report['rows']} captured rows ({report['skipped_lines']} lines skipped), "
        f"{report['baseline_rows']} baseline rows, drifted share {report['drifted_share']:.2f}"
        + (f" ({', '.join(drifted)})" if drifted else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
