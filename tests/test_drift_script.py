"""The drift job's script (monitoring/drift_job/drift.py), its image recipe and requirements.

The data is generated with a fixed seed: 1000 baseline rows and 500 captured rows of five features
(three continuous, one integer, one categorical). The shifted capture moves one numerical feature's
mean by a standard deviation and reweights the categorical one, far beyond what the tests' sample
sizes can miss; the unshifted capture is a fresh draw from the baseline's distributions.

Evidently's tests here are p-values at 0.05, so an unshifted feature is flagged about one draw in
twenty: over seeds 0-14 the shifted capture gave exactly {income, plan} every time, and the
unshifted one flagged some feature in 4 of 15. The seed is fixed, so the results are too.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parent.parent
JOB = REPO / "mlops_constructs" / "monitoring" / "drift_job"
SCRIPT = JOB / "drift.py"

FEATURES = ["income", "age", "balance", "tenure", "plan"]
PLANS = ["basic", "plus", "pro", "team"]


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("drift_job_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


drift = load()  # sets DO_NOT_TRACK before the script's first use imports Evidently (~2.5 s, only where a test needs it)


def population(rng: np.random.Generator, n: int, *, shifted: bool = False) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "income": rng.normal(50_000 + (8_000 if shifted else 0), 8_000, n).round(2),
            "age": rng.normal(40, 10, n).round(1),
            "balance": rng.exponential(1_500, n).round(2),
            "tenure": rng.integers(0, 60, n),
            "plan": rng.choice(PLANS, n, p=[0.1, 0.2, 0.3, 0.4] if shifted else [0.4, 0.3, 0.2, 0.1]),
        }
    )


RNG = np.random.default_rng(20261127)
BASELINE = population(RNG, 1000)
SHIFTED = population(RNG, 500, shifted=True)
UNSHIFTED = population(RNG, 500)
DRIFTING = {"income", "plan"}


# -- writing inputs ------------------------------------------------------------------------------


def write_baseline(directory: Path, frame: pd.DataFrame = BASELINE, types: dict[str, str] | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    frame.to_csv(directory / "baseline.csv", index=False)
    if types is not None:
        document = {"features": [{"name": name, "type": kind} for name, kind in types.items()]}
        (directory / "baseline.json").write_text(json.dumps(document), encoding="utf-8")
    return directory


def csv_text(rows: list[list[Any]]) -> str:
    return "\n".join(",".join(str(v) for v in row) for row in rows)


def records(rows: list[list[Any]]) -> list[dict[str, Any]]:
    return [dict(zip(FEATURES, row)) for row in rows]


# Each payload format: (encoding, observedContentType, rows -> payload text).
PAYLOADS: dict[str, tuple[str, str, Callable[[list[list[Any]]], str]]] = {
    "csv": ("CSV", "text/csv", csv_text),
    "json-instances-lists": ("JSON", "application/json", lambda rows: json.dumps({"instances": rows})),
    "json-instances-objects": ("JSON", "application/json", lambda rows: json.dumps({"instances": records(rows)})),
    "json-list-of-lists": ("JSON", "application/json", json.dumps),
    "json-list-of-objects": ("JSON", "application/json", lambda rows: json.dumps(records(rows))),
    "json-features": ("JSON", "application/json", lambda rows: json.dumps({"instances": [{"features": r} for r in rows]})),
    "base64-csv": ("BASE64", "text/csv", csv_text),
    "base64-json": ("BASE64", "application/json; charset=utf-8", lambda rows: json.dumps({"instances": records(rows)})),
}


def capture_line(rows: list[list[Any]], payload: str = "csv", event: int = 0) -> str:
    encoding, content_type, render = PAYLOADS[payload]
    data = render(rows)
    if encoding == "BASE64":
        data = base64.b64encode(data.encode()).decode()
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {"observedContentType": content_type, "mode": "INPUT", "data": data, "encoding": encoding},
                "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT", "data": "0.5", "encoding": "CSV"},
            },
            "eventMetadata": {"eventId": f"event-{event}", "inferenceTime": "2026-11-27T10:00:00Z"},
            "eventVersion": "0",
        }
    )


def request_line(rows: list[list[Any]], payload: str, event: int, single: bool = False) -> str:
    """One capture line; with ``single`` a JSON payload is the bare row (a flat list, or an object)."""
    line = capture_line(rows, payload, event)
    if not single:
        return line
    record = json.loads(line)
    record["captureData"]["endpointInput"]["data"] = json.dumps(records(rows)[0] if "objects" in payload else rows[0])
    return json.dumps(record)


def write_lines(directory: Path, lines: list[str]) -> Path:
    """Lines spread over two hours' files, where SageMaker puts them."""
    half = len(lines) // 2
    for hour, part in (("09", lines[:half]), ("10", lines[half:])):
        path = directory / "my-endpoint" / "AllTraffic" / "2026" / "11" / "27" / hour / f"capture-{hour}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(part) + "\n", encoding="utf-8")
    return directory


def write_capture(directory: Path, frame: pd.DataFrame, payload: str = "csv", *, extra: list[str] | None = None, single: bool = False) -> Path:
    """``frame``'s rows in ``payload``'s form, three rows a request (one with ``single``)."""
    rows = frame.astype(object).values.tolist()
    step = 1 if single else 3
    lines = [request_line(rows[i : i + step], payload, i, single) for i in range(0, len(rows), step)]
    return write_lines(directory, lines + (extra or []))


def run(tmp_path: Path, captured: Path, *extra: str, baseline: Path | None = None) -> tuple[int, dict[str, Any], list[dict[str, Any]]]:
    output = tmp_path / "output"
    output.mkdir(exist_ok=True)  # SageMaker creates it before the job starts
    code = drift.main(["--baseline", str(baseline or write_baseline(tmp_path / "baseline")), "--captured", str(captured), "--output", str(output), *extra])
    report = json.loads((output / "drift.json").read_text()) if (output / "drift.json").exists() else {}
    metrics = json.loads((output / "metric_data.json").read_text()) if (output / "metric_data.json").exists() else []
    return code, report, metrics


@pytest.fixture(scope="module")
def shifted_csv(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any], list[dict[str, Any]], Path]:
    tmp_path = tmp_path_factory.mktemp("shifted")
    code, report, metrics = run(tmp_path, write_capture(tmp_path / "captured", SHIFTED), "--endpoint", "my-endpoint")
    return code, report, metrics, tmp_path / "output"


# -- drift -----------------------------------------------------------------------------------------


def test_a_shift_in_two_of_five_features_is_found_in_those_two(shifted_csv: Any) -> None:
    code, report, _, output = shifted_csv
    assert code == 0
    assert report["status"] == "ok"
    assert {name for name, result in report["features"].items() if result["drifted"]} == DRIFTING
    assert report["drifted_share"] == 0.4
    assert list(report["features"]) == FEATURES
    assert (report["rows"], report["baseline_rows"], report["skipped_lines"], report["min_rows"]) == (500, 1000, 0, 100)
    # Evidently's defaults for 1000 reference rows: K-S for numbers, chi-square for categories; p-values.
    for name, result in report["features"].items():
        assert result["test"] == ("chi-square p_value" if name == "plan" else "K-S p_value")
        assert 0.0 <= result["score"] <= 1.0
        assert result["drifted"] == (result["score"] < result["threshold"] == 0.05)
    html = (output / "drift.html").read_text(encoding="utf-8")
    assert html.lstrip().startswith("<!DOCTYPE html>") and "Dataset Drift" in html
    assert all(f'"{name}"' in html for name in FEATURES)


def test_without_a_shift_nothing_drifts(tmp_path: Path) -> None:
    code, report, metrics = run(tmp_path, write_capture(tmp_path / "captured", UNSHIFTED))
    assert code == 0
    assert report["status"] == "ok"
    assert report["drifted_share"] == 0.0
    assert set(report["features"]) == set(FEATURES)
    assert not [name for name, result in report["features"].items() if result["drifted"]]
    # Without --endpoint the metrics carry no EndpointName dimension.
    assert all(d["Name"] == "Feature" for m in metrics for d in m.get("Dimensions", []))


def test_metric_data_is_put_metric_data_shaped(shifted_csv: Any) -> None:
    _, report, metrics, _ = shifted_csv
    endpoint = {"Name": "EndpointName", "Value": "my-endpoint"}
    assert len(metrics) == 2 + len(FEATURES) <= 1000
    assert metrics[0] == {"MetricName": "CapturedRows", "Dimensions": [endpoint], "Value": 500, "Unit": "Count"}
    assert metrics[1] == {"MetricName": "DriftedShare", "Dimensions": [endpoint], "Value": 0.4, "Unit": "None"}
    per_feature = metrics[2:]
    # drifted features first, each group in the baseline's order
    order = sorted(FEATURES, key=lambda name: not report["features"][name]["drifted"])
    assert [m["Dimensions"] for m in per_feature] == [[endpoint, {"Name": "Feature", "Value": name}] for name in order]
    # a p-value of strong drift can be below what CloudWatch accepts (this data's is ~1e-135): published as 0
    expected = [report["features"][name]["score"] for name in order]
    assert [m["Value"] for m in per_feature] == [0.0 if abs(v) < drift.SMALLEST_VALUE else v for v in expected]
    assert any(abs(v) < drift.SMALLEST_VALUE for v in expected)
    assert {m["MetricName"] for m in per_feature} == {"FeatureDriftScore"}
    assert {m["Unit"] for m in per_feature} == {"None"}
    allowed = {"MetricName", "Dimensions", "Value", "Unit"}  # a subset of PutMetricData's MetricDatum
    assert all(set(m) <= allowed and isinstance(m["Value"], (int, float)) for m in metrics)


def parsed_rows(tmp_path: Path, payload: str, single: bool = False) -> list[list[Any]]:
    captured = drift.read_captured(write_capture(tmp_path / payload, SHIFTED, payload, single=single), drift.read_baseline(write_baseline(tmp_path / "baseline")))
    assert captured.skipped_lines == 0
    return captured.rows


@pytest.mark.parametrize(
    ("payload", "single"),
    [(p, False) for p in PAYLOADS if p != "csv"] + [("json-list-of-lists", True), ("json-list-of-objects", True)],
    ids=[p for p in PAYLOADS if p != "csv"] + ["json-single-list", "json-single-object"],
)
def test_every_payload_form_reads_the_rows_csv_gives(tmp_path: Path, payload: str, single: bool) -> None:
    rows = parsed_rows(tmp_path, payload, single)
    assert len(rows) == len(SHIFTED)
    assert rows == parsed_rows(tmp_path, "csv")


def test_json_and_base64_payloads_give_the_csv_result(tmp_path: Path, shifted_csv: Any) -> None:
    """Every request in a different form, through Evidently: the same report as all CSV."""
    forms = [(p, False) for p in PAYLOADS] + [("json-list-of-lists", True), ("json-list-of-objects", True)]
    lines, rows = [], SHIFTED.astype(object).values.tolist()
    i = 0
    while i < len(rows):
        payload, single = forms[len(lines) % len(forms)]
        chunk = rows[i : i + (1 if single else 3)]
        lines.append(request_line(chunk, payload, i, single))
        i += len(chunk)
    write_lines(tmp_path / "captured", lines)
    code, report, metrics = run(tmp_path, tmp_path / "captured", "--endpoint", "my-endpoint")
    assert code == 0
    assert {**report, "capture_lines": None} == {**shifted_csv[1], "capture_lines": None}
    assert metrics == shifted_csv[2]


def wrapped(endpoint_input: Any) -> str:
    return json.dumps({"captureData": {"endpointInput": endpoint_input}, "eventVersion": "0"})


MALFORMED = [
    "{not json",
    json.dumps({"eventVersion": "0"}),  # no captureData
    json.dumps({"captureData": {"endpointOutput": {"mode": "OUTPUT", "data": "1", "encoding": "CSV"}}}),
    wrapped({"observedContentType": "text/csv", "mode": "OUTPUT", "data": "1,2,3,4,basic", "encoding": "CSV"}),
    wrapped({"observedContentType": "text/csv", "mode": "INPUT", "encoding": "CSV"}),  # no data
    wrapped({"observedContentType": "text/csv", "mode": "INPUT", "data": "%%%not base64%%%", "encoding": "BASE64"}),
    wrapped({"observedContentType": "application/x-npy", "mode": "INPUT", "data": "AAAA", "encoding": "BASE64"}),
    wrapped({"observedContentType": "text/csv", "mode": "INPUT", "data": "1,2,3,basic", "encoding": "CSV"}),  # 4 columns
    wrapped({"observedContentType": "text/csv", "mode": "INPUT", "data": "1,2,3,4,basic\n1,2,3,basic", "encoding": "CSV"}),
    wrapped({"observedContentType": "text/csv", "mode": "INPUT", "data": "lots,2,3,4,basic", "encoding": "CSV"}),  # not a number
    wrapped({"observedContentType": "application/json", "mode": "INPUT", "data": '{"instances": [{"income": 1}]}', "encoding": "JSON"}),
    wrapped({"observedContentType": "application/json", "mode": "INPUT", "data": '{"instances": 5}', "encoding": "JSON"}),
    json.dumps(["not", "a", "record"]),
]


def test_malformed_lines_are_skipped_and_counted(tmp_path: Path, shifted_csv: Any) -> None:
    code, report, metrics = run(tmp_path, write_capture(tmp_path / "captured", SHIFTED, extra=MALFORMED), "--endpoint", "my-endpoint")
    assert code == 0
    assert report["skipped_lines"] == len(MALFORMED)
    expected = shifted_csv[1]
    assert report["features"] == expected["features"]
    assert (report["rows"], report["drifted_share"]) == (500, 0.4)
    assert metrics == shifted_csv[2]


def test_too_few_rows_is_insufficient_data_not_a_failure(tmp_path: Path) -> None:
    code, report, metrics = run(tmp_path, write_capture(tmp_path / "captured", SHIFTED.head(99), extra=MALFORMED[:2]), "--endpoint", "e1")
    assert code == 0
    assert report == {
        "status": "insufficient-data",
        "drifted_share": 0.0,
        "features": {},
        "rows": 99,
        "baseline_rows": 1000,
        "skipped_lines": 2,
        "capture_lines": 33 + 2,
        "min_rows": 100,
        "endpoint": "e1",
    }
    assert metrics == [{"MetricName": "CapturedRows", "Dimensions": [{"Name": "EndpointName", "Value": "e1"}], "Value": 99, "Unit": "Count"}]
    assert not (tmp_path / "output" / "drift.html").exists()


def test_min_rows_sets_the_threshold(tmp_path: Path) -> None:
    code, report, _ = run(tmp_path, write_capture(tmp_path / "captured", SHIFTED.head(99)), "--min-rows", "99")
    assert (code, report["status"], report["rows"]) == (0, "ok", 99)


def test_no_capture_files_is_insufficient_data(tmp_path: Path) -> None:
    (tmp_path / "captured").mkdir()
    code, report, metrics = run(tmp_path, tmp_path / "captured")
    assert (code, report["status"], report["rows"], report["skipped_lines"]) == (0, "insufficient-data", 0, 0)
    assert metrics == [{"MetricName": "CapturedRows", "Value": 0, "Unit": "Count"}]


# -- feature types ---------------------------------------------------------------------------------


def test_types_are_inferred_and_baseline_json_overrides_them(tmp_path: Path) -> None:
    captured = write_capture(tmp_path / "captured", SHIFTED)
    inferred = drift.read_baseline(write_baseline(tmp_path / "inferred"))
    assert inferred.types == {"income": "numerical", "age": "numerical", "balance": "numerical", "tenure": "numerical", "plan": "categorical"}
    declared = write_baseline(tmp_path / "declared", types={"tenure": "categorical"})
    assert drift.read_baseline(declared).types["tenure"] == "categorical"
    code, report, _ = run(tmp_path, captured, baseline=declared)
    assert code == 0
    assert report["features"]["tenure"]["test"] == "chi-square p_value"
    assert report["features"]["tenure"]["type"] == "categorical"
    assert report["features"]["age"]["test"] == "K-S p_value"


# -- unusable input ------------------------------------------------------------------------------


def unusable(tmp_path: Path, case: str) -> tuple[Path, Path]:
    baseline, captured = tmp_path / "baseline", tmp_path / "captured"
    write_capture(captured, SHIFTED.head(30))
    if case == "no baseline.csv":
        baseline.mkdir()
    elif case == "baseline has no rows":
        write_baseline(baseline, BASELINE.head(0))
    elif case == "empty baseline.csv":
        baseline.mkdir()
        (baseline / "baseline.csv").write_text("")
    elif case == "baseline directory missing":
        pass
    elif case == "captured directory missing":
        write_baseline(baseline)
        captured = tmp_path / "nowhere"
    elif case == "no row has the baseline's columns":
        write_baseline(baseline, BASELINE[FEATURES[:4]])
    elif case == "no object has the baseline's features":
        write_baseline(baseline, BASELINE.assign(salary=1.0))
        captured = write_capture(tmp_path / "objects", SHIFTED.head(30), "json-list-of-objects", single=True)
    elif case == "bad baseline.json":
        write_baseline(baseline, types={"salary": "numerical"})
    elif case == "unknown type in baseline.json":
        write_baseline(baseline, types={"plan": "ordinal"})
    elif case == "text in a numerical feature":
        frame = BASELINE.copy().astype(object)
        frame.loc[3, "age"] = "forty"
        write_baseline(baseline, frame, types={"age": "numerical"})
    return baseline, captured


CASES = {
    "no baseline.csv": "no baseline.csv",
    "empty baseline.csv": "empty",
    "baseline has no rows": "no rows",
    "baseline directory missing": "not a readable directory",
    "captured directory missing": "not a readable directory",
    "no row has the baseline's columns": r"no captured row fits the baseline's 4 columns \(income, age, balance, tenure\); the requests had rows of 5 columns \(10 lines\)$",
    "no object has the baseline's features": r"the requests had rows of objects without 'salary' \(30 lines\)$",
    "bad baseline.json": "'salary', which is not a column of baseline.csv",
    "unknown type in baseline.json": 'must be {"name"',
    "text in a numerical feature": "feature 'age' is numerical but has the value 'forty'",
}


@pytest.mark.parametrize("case", list(CASES))
def test_unusable_input_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str) -> None:
    baseline, captured = unusable(tmp_path, case)
    code = drift.main(["--baseline", str(baseline), "--captured", str(captured), "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.splitlines()) == 1 and err.startswith("drift.py: error: ")
    assert re.search(CASES[case], err)
    assert not (tmp_path / "out" / "drift.json").exists()


def test_an_output_that_cannot_be_written_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "output").write_text("a file, not a directory")
    baseline, captured = write_baseline(tmp_path / "baseline"), write_capture(tmp_path / "captured", SHIFTED.head(30))
    code = drift.main(["--baseline", str(baseline), "--captured", str(captured), "--output", str(tmp_path / "output")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"drift.py: error: --output {tmp_path / 'output'}: cannot be created") and len(err.splitlines()) == 1


def test_an_evidently_failure_is_one_line_and_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_: Any) -> None:
        raise ValueError("bins must be positive\nmore detail")

    monkeypatch.setattr(drift, "compute_drift", fail)
    code, report, _ = run(tmp_path, write_capture(tmp_path / "captured", SHIFTED))
    assert (code, report) == (1, {})
    assert capsys.readouterr().err == "drift.py: drift computation failed: ValueError: bins must be positive\n"


@pytest.mark.parametrize("argv", [["--min-rows", "0"], ["--min-rows", "many"], []])
def test_bad_arguments_exit_2(tmp_path: Path, argv: list[str]) -> None:
    required = ["--baseline", str(tmp_path), "--captured", str(tmp_path), "--output", str(tmp_path / "out")] if argv else []
    with pytest.raises(SystemExit) as exit_info:
        drift.main(required + argv)
    assert exit_info.value.code == 2


# -- standalone ------------------------------------------------------------------------------------


def script_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DO_NOT_TRACK"}
    return env


def test_runs_standalone_as_a_script(tmp_path: Path, shifted_csv: Any) -> None:
    baseline, captured, output = write_baseline(tmp_path / "baseline"), write_capture(tmp_path / "captured", SHIFTED), tmp_path / "output"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--baseline", str(baseline), "--captured", str(captured), "--output", str(output), "--endpoint", "my-endpoint"],
        capture_output=True, text=True, cwd=tmp_path, env=script_env(), timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "drifted share 0.40 (income, plan)" in result.stdout
    assert json.loads((output / "drift.json").read_text()) == shifted_csv[1]
    assert json.loads((output / "metric_data.json").read_text()) == shifted_csv[2]


def test_the_script_turns_evidently_telemetry_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DO_NOT_TRACK", raising=False)
    load()
    assert os.environ["DO_NOT_TRACK"] == "1"
    monkeypatch.setenv("DO_NOT_TRACK", "yes")  # a value already set is kept
    load()
    assert os.environ["DO_NOT_TRACK"] == "yes"


# -- image recipe ----------------------------------------------------------------------------------


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"{path.name}: {line!r} is not pinned with =="
            found[re.sub(r"[-_.]+", "-", name).lower()] = version
    return found


def test_requirements_pin_what_constraints_pin() -> None:
    required = pins(JOB / "requirements.txt")
    constraints = pins(REPO / "constraints.txt")
    assert {"evidently", "pandas"} <= set(required)
    assert {name: constraints.get(name) for name in required} == required


def test_dockerfile() -> None:
    lines = [line.strip() for line in (JOB / "Dockerfile").read_text().splitlines() if line.strip() and not line.startswith("#")]
    base = next(line for line in lines if line.startswith("FROM "))
    assert re.fullmatch(r"FROM public\.ecr\.aws/docker/library/python:3\.11\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base)
    assert "ENV DO_NOT_TRACK=1" in lines
    assert any(re.fullmatch(r"RUN .*pip install --no-cache-dir -r /opt/drift/requirements\.txt.*", line) for line in lines)
    assert "COPY drift.py /opt/drift/drift.py" in lines
    # root, as SageMaker's own processing images: a non-root user may not write the output mount
    assert not [line for line in lines if line.startswith("USER ")]
    assert lines[-1] == 'ENTRYPOINT ["python", "/opt/drift/drift.py"]'


def test_metric_data_is_what_cloudwatch_accepts() -> None:
    """ASCII dimension values, no value CloudWatch rejects as too small, and at most 1,000 entries with drifted
    features first, however many features and whatever their names."""
    features = {f"f{i}": {"drifted": False, "score": 0.5, "test": "K-S p_value"} for i in range(700)}
    features["city=Zürich"] = {"drifted": True, "score": 1e-300, "test": "chi-square p_value"}
    data = drift.metric_data(5000, features, 1 / 701, "acme-prod-churn")
    assert len(data) == 2 + drift.MAX_FEATURE_METRICS <= 1000
    first = data[2]
    assert first["Dimensions"][1] == {"Name": "Feature", "Value": "city=Z\\xfcrich"} and first["Value"] == 0.0
    assert all(d["Value"].isascii() for item in data for d in item.get("Dimensions", []))
    assert all(item["Value"] == 0 or abs(item["Value"]) >= drift.SMALLEST_VALUE for item in data)



def test_metric_data_fits_the_state_machines_read_however_long_the_feature_names() -> None:
    """The drift machine reads metric_data.json whole into a getObject result (256 KiB, escaped as a string): with
    500 one-hot features of 1,000-character names, only as many as fit MAX_METRIC_DATA_BYTES are published, drifted first."""
    features = {f"{'c' * 990}={i:05d}": {"drifted": i % 7 == 0, "score": 0.01, "test": "chi-square p_value"} for i in range(500)}
    data = drift.metric_data(5000, features, 72 / 500, "acme-prod-churn")
    body = json.dumps(json.dumps(data, separators=(",", ":")))  # as getObject's Body, escaped
    assert len(body) <= drift.MAX_METRIC_DATA_BYTES < 256 * 1024 - 4096  # with room for the rest of the result
    scores = data[2:]
    assert 100 < len(scores) < 500  # cut by size, not by count
    published = [d["Dimensions"][1]["Value"] for d in scores]
    drifted = [name for name, r in features.items() if r["drifted"]]
    assert published[: len(drifted)] == drifted  # the drifted ones all made it, first
    # quotes and backslashes take twice their room once escaped: fewer features fit, still within the limit
    quoted = {f"{chr(34) * 495}{chr(92) * 495}={i:05d}": {"drifted": False, "score": 0.5, "test": "K-S p_value"} for i in range(500)}
    data = drift.metric_data(5000, quoted, 0.0, "acme-prod-churn")
    assert len(json.dumps(json.dumps(data, separators=(",", ":")))) <= drift.MAX_METRIC_DATA_BYTES
    assert 10 < len(data) - 2 < len(scores)

# -- batch input (--captured-format csv) -------------------------------------------------------------


def write_batch_input(directory: Path, frame: pd.DataFrame, *, ids: bool = False, extra: list[str] | None = None) -> Path:
    """``frame``'s rows as a batch transform's input: headerless CSV in two files (one in a sub-prefix), with
    ``ids`` a leading id column the model does not see (input_filter ``$[1:]``)."""
    rows = [([f"id-{i}"] if ids else []) + list(row) for i, row in enumerate(frame.astype(object).values.tolist())]
    lines = [",".join(str(v) for v in row) for row in rows] + (extra or [])
    half = len(lines) // 2
    (directory / "2026-11-27").mkdir(parents=True, exist_ok=True)
    (directory / "part-1.csv").write_text("\n".join(lines[:half]) + "\n", encoding="utf-8")
    (directory / "2026-11-27" / "part-2").write_text("\n".join(lines[half:]) + "\n", encoding="utf-8")
    return directory


def test_batch_input_with_a_shift_is_found_in_the_shifted_features(tmp_path: Path) -> None:
    code, report, metrics = run(tmp_path, write_batch_input(tmp_path / "input", SHIFTED), "--captured-format", "csv", "--endpoint", "b1")
    assert code == 0
    assert report["status"] == "ok"
    assert {name for name, result in report["features"].items() if result["drifted"]} == DRIFTING
    assert (report["rows"], report["skipped_lines"]) == (500, 0)
    assert metrics[0] == {"MetricName": "CapturedRows", "Dimensions": [{"Name": "EndpointName", "Value": "b1"}], "Value": 500, "Unit": "Count"}
    assert metrics[1]["MetricName"] == "DriftedShare" and metrics[1]["Value"] == 0.4


def test_batch_input_without_a_shift_does_not_drift(tmp_path: Path) -> None:
    code, report, _ = run(tmp_path, write_batch_input(tmp_path / "input", UNSHIFTED), "--captured-format", "csv")
    assert (code, report["status"], report["drifted_share"]) == (0, "ok", 0.0)


def test_batch_input_drops_the_leading_columns_the_model_does_not_see(tmp_path: Path) -> None:
    input_ = write_batch_input(tmp_path / "input", SHIFTED, ids=True, extra=["only,three,columns", "x,not-a-number,1,2,3,basic"])
    code, report, _ = run(tmp_path, input_, "--captured-format", "csv", "--drop-columns", "1")
    assert code == 0
    assert {name for name, result in report["features"].items() if result["drifted"]} == DRIFTING
    assert (report["rows"], report["skipped_lines"], report["capture_lines"]) == (500, 2, 502)


def test_batch_input_with_the_id_column_not_dropped_is_unusable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run(tmp_path, write_batch_input(tmp_path / "input", SHIFTED, ids=True), "--captured-format", "csv")
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("drift.py: error: --captured ") and "no input row fits the baseline's 5 columns" in err
    assert "6 columns after dropping 0" in err and err.count("\n") == 1


def test_batch_input_with_too_few_rows_is_insufficient_data(tmp_path: Path) -> None:
    code, report, metrics = run(tmp_path, write_batch_input(tmp_path / "input", SHIFTED.head(40)), "--captured-format", "csv")
    assert (code, report["status"], report["rows"]) == (0, "insufficient-data", 40)
    assert metrics == [{"MetricName": "CapturedRows", "Value": 40, "Unit": "Count"}]


def test_an_empty_batch_input_is_insufficient_data(tmp_path: Path) -> None:
    (tmp_path / "input").mkdir()
    code, report, _ = run(tmp_path, tmp_path / "input", "--captured-format", "csv")
    assert (code, report["status"], report["rows"]) == (0, "insufficient-data", 0)


@pytest.mark.parametrize("argv", [["--drop-columns", "1"], ["--captured-format", "csv", "--drop-columns", "-1"],
                                  ["--captured-format", "parquet"]])
def test_bad_batch_arguments_exit_2(tmp_path: Path, argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        drift.main(["--baseline", str(tmp_path), "--captured", str(tmp_path), "--output", str(tmp_path / "out"), *argv])
    assert exit_info.value.code == 2


@pytest.mark.parametrize(
    ("flag", "value", "error"),
    [
        ("--min-rows", "ten", "argument --min-rows: must be a whole number of rows, got 'ten'"),
        ("--min-rows", "0", "argument --min-rows: must be at least 1, got 0"),
        ("--drop-columns", "two", "argument --drop-columns: must be a whole number of columns, got 'two'"),
        ("--drop-columns", "-1", "argument --drop-columns: must be 0 or more, got -1"),
    ],
)
def test_counts_out_of_range_are_one_line_naming_the_flag(flag: str, value: str, error: str, capsys: pytest.CaptureFixture[str]) -> None:
    arguments = ["--baseline", "b", "--captured", "c", "--output", "o", "--captured-format", "csv"]
    with pytest.raises(SystemExit) as exit_:
        drift.parse_args([*arguments, f"{flag}={value}"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"drift.py: error: {error}"
    assert getattr(drift.parse_args([*arguments, f"{flag}=3"]), flag[2:].replace("-", "_")) == 3
