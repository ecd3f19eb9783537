"""The bundled job scripts: preprocess.py (split, label first, one-hot encoding, drift baseline) and evaluate.py (metrics and the model-quality report)."""

from __future__ import annotations

import csv
import importlib.util
import io
import itertools
import json
import math
import random
import subprocess
import sys
import tarfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "mlops_constructs" / "training" / "scripts"


def load(name: str) -> ModuleType:
    # Named after its path, as an import would name it: mutation testing (mutmut) tells which module a
    # mutant belongs to by this name.
    spec = importlib.util.spec_from_file_location(f"mlops_constructs.training.scripts.{name}", SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


preprocess = load("preprocess")
evaluate = load("evaluate")


def rows(n: int) -> list[list[str]]:
    return [[str(i % 2), f"{i}.0", f"{i * 2}.5"] for i in range(n)]


def write_csv(path: Path, data: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(data)


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [row for row in csv.reader(handle) if row]


# -- preprocess.split ------------------------------------------------------------------------------


def test_split_is_deterministic_for_a_seed() -> None:
    data = rows(100)
    assert preprocess.split(data, seed=7) == preprocess.split(data, seed=7)
    assert preprocess.split(data) == preprocess.split(data, seed=42)  # the default seed
    assert preprocess.split(data, seed=7) != preprocess.split(data, seed=8)


def test_split_shuffles_and_does_not_modify_its_input() -> None:
    data = rows(100)
    original = [r[:] for r in data]
    parts = preprocess.split(data)
    assert data == original
    assert parts["train"] != data[:80]  # shuffled, not cut in input order


def test_split_of_100_rows_is_80_10_10_and_a_partition() -> None:
    data = rows(100)
    parts = preprocess.split(data)
    assert set(parts) == {"train", "validation", "test"}
    assert {name: len(part) for name, part in parts.items()} == {"train": 80, "validation": 10, "test": 10}
    combined = parts["train"] + parts["validation"] + parts["test"]
    assert sorted(combined) == sorted(data)


@pytest.mark.parametrize("n", [3, 4, 7, 10, 11, 19, 57, 1000])
def test_split_parts_are_never_empty_and_sum_to_the_input(n: int) -> None:
    parts = preprocess.split(rows(n), seed=n)
    assert all(parts[name] for name in ("train", "validation", "test"))
    assert sum(len(p) for p in parts.values()) == n
    assert sorted(itertools.chain.from_iterable(parts.values())) == sorted(rows(n))
    if n >= 20:  # roughly 80/10/10
        assert abs(len(parts["train"]) / n - 0.8) <= 0.05
        assert abs(len(parts["validation"]) / n - 0.1) <= 0.05
        assert abs(len(parts["test"]) / n - 0.1) <= 0.05


@pytest.mark.parametrize("n", [0, 1, 2])
def test_split_needs_at_least_three_rows(n: int) -> None:
    with pytest.raises(ValueError, match=f"at least 3 rows to split, got {n}"):
        preprocess.split(rows(n))


# -- preprocess.main ---------------------------------------------------------------------------------


@pytest.mark.parametrize("has_header", [False, True], ids=["no-header", "header"])
def test_main_writes_the_three_splits(tmp_path: Path, has_header: bool) -> None:
    first, second = rows(12), [[str(i % 2), f"{100 + i}.0", "0.5"] for i in range(8)]
    header = [["label", "feature_a", "feature_b"]] if has_header else []
    input_dir, output_dir = tmp_path / "input", tmp_path / "output"
    write_csv(input_dir / "2026-10.csv", header + first)
    write_csv(input_dir / "nested" / "2026-11.csv", header + second)
    (input_dir / "README.txt").write_text("not data\n", encoding="utf-8")

    counts = preprocess.main(input_dir, output_dir, has_header, seed=42)

    assert counts == {"train": 16, "validation": 2, "test": 2}
    written = {name: read_csv(output_dir / name / f"{name}.csv") for name in ("train", "validation", "test")}
    assert {name: len(part) for name, part in written.items()} == counts
    everything = list(itertools.chain.from_iterable(written.values()))
    assert sorted(everything) == sorted(first + second)  # headers dropped, nothing lost or duplicated
    assert ["label", "feature_a", "feature_b"] not in everything
    # The same seed on the same data gives the same files.
    preprocess.main(input_dir, tmp_path / "again", has_header, seed=42)
    assert {name: read_csv(tmp_path / "again" / name / f"{name}.csv") for name in written} == written


def test_a_header_read_as_data_is_refused_as_a_non_numeric_label(tmp_path: Path) -> None:
    write_csv(tmp_path / "in" / "a.csv", [["label", "x", "y"], *rows(9)])
    with pytest.raises(ValueError, match=r"the label column 'label' is not numeric \(e\.g\. 'label'\) \(if the files start with a header row, set HAS_HEADER=true\)"):
        preprocess.main(tmp_path / "in", tmp_path / "out", has_header=False, seed=1)
    assert sum(preprocess.main(tmp_path / "in", tmp_path / "out", has_header=True, seed=1).values()) == 9


def test_main_fails_on_too_little_data(tmp_path: Path) -> None:
    write_csv(tmp_path / "in" / "a.csv", rows(2))
    with pytest.raises(ValueError, match="at least 3 rows"):
        preprocess.main(tmp_path / "in", tmp_path / "out", has_header=False, seed=42)


# -- preprocess: the drift baseline ---------------------------------------------------------------


def mixed_rows(n: int, seed: int = 0) -> list[list[str]]:
    """Label, a numerical feature, a categorical one (a plan name) and an integer count; rows unique."""
    generator = random.Random(seed)
    return [[str(generator.randint(0, 1)), f"{i}.{generator.randint(0, 9)}", generator.choice(["basic", "pro", "team"]), str(i)] for i in range(n)]


def run_main(tmp_path: Path, data: list[list[str]], header: list[str] | None, seed: int = 42, **kwargs: Any) -> tuple[list[list[str]], dict[str, Any], Path]:
    input_dir, output_dir = tmp_path / "input", tmp_path / f"output-{seed}-{kwargs.get('baseline_rows', 'default')}"
    write_csv(input_dir / "data.csv", ([header] if header else []) + data)
    preprocess.main(input_dir, output_dir, header is not None, seed=seed, **kwargs)
    description = json.loads((output_dir / "baseline" / "baseline.json").read_text(encoding="utf-8"))
    return read_csv(output_dir / "baseline" / "baseline.csv"), description, output_dir


@pytest.mark.parametrize("has_header", [False, True], ids=["no-header", "header"])
def test_baseline_is_a_sample_of_the_training_split_without_the_label(tmp_path: Path, has_header: bool) -> None:
    data = mixed_rows(200)
    header = ["churned", "tenure", "plan", "seats"] if has_header else None
    table, description, output_dir = run_main(tmp_path, data, header)

    tenure, plan, seats = ["tenure", "plan", "seats"] if has_header else ["f0", "f1", "f2"]
    names = [tenure, f"{plan}=basic", f"{plan}=pro", f"{plan}=team", seats]  # the plan one-hot encoded, as the endpoint receives it
    assert table[0] == names
    sampled = table[1:]
    assert len(sampled) == description["rows"] == 160  # the whole training split: below the cap
    # Every baseline row is a training row with its first column (the label) removed, none twice.
    train_features = [row[1:] for row in read_csv(output_dir / "train" / "train.csv")]
    assert sorted(sampled) == sorted(train_features)
    held_out = [row[1:] for name in ("validation", "test") for row in read_csv(output_dir / name / f"{name}.csv")]
    assert not set(map(tuple, held_out)) & set(map(tuple, sampled))
    assert description == {
        "features": [
            {"name": tenure, "type": "numerical"},
            *({"name": f"{plan}={c}", "type": "categorical", "source": plan, "category": c} for c in ("basic", "pro", "team")),
            {"name": seats, "type": "numerical"},
        ],
        "rows": 160,
        "label_excluded": True,
    }
    # Each sampled row is a training row's features with its plan encoded: exactly one plan column is 1.
    assert all(sum(int(v) for v in row[1:4]) == 1 for row in sampled)


def test_baseline_is_capped_and_deterministic_for_a_seed(tmp_path: Path) -> None:
    data = mixed_rows(500, seed=3)
    table, description, output_dir = run_main(tmp_path, data, None, seed=7, baseline_rows=50)
    assert len(table) == 51 and description["rows"] == 50
    train_features = {tuple(row[1:]) for row in read_csv(output_dir / "train" / "train.csv")}
    assert len(set(map(tuple, table[1:]))) == 50 and set(map(tuple, table[1:])) <= train_features
    again, _, _ = run_main(tmp_path / "again", data, None, seed=7, baseline_rows=50)
    assert again == table
    other_seed, _, _ = run_main(tmp_path / "other", data, None, seed=8, baseline_rows=50)
    assert other_seed[0] == table[0] and other_seed[1:] != table[1:]
    # The default cap is 5000 rows.
    _, description, _ = run_main(tmp_path / "large", mixed_rows(7000), None)
    assert preprocess.BASELINE_ROWS == 5000 and description["rows"] == 5000


def test_a_single_unparsable_value_makes_a_column_non_numeric_and_an_empty_one_does_not(tmp_path: Path) -> None:
    data = [[str(i % 2), str(i % 4), f"{i / 3:.4f}", "1e3", "nan"] for i in range(40)]
    parts = preprocess.split(data, seed=42)  # the rows are shared: edit one training and one test row
    parts["train"][3][1] = "n/a"
    parts["test"][0][2] = ""  # a missing value: the column stays numeric
    table, description, output_dir = run_main(tmp_path, data, None, baseline_rows=1000)
    assert table[0] == ["f0=0", "f0=1", "f0=2", "f0=3", "f0=n/a", "f1", "f2", "f3"]
    assert [f["type"] for f in description["features"]] == ["categorical"] * 5 + ["numerical"] * 3  # exponents and nan parse
    test_rows = read_csv(output_dir / "test" / "test.csv")
    assert test_rows[0][6] == ""  # kept empty: a missing value for XGBoost
    with pytest.raises(ValueError, match=r"feature column 'f0' is not numeric \(e\.g\. 'n/a'\); encode it before, or set CATEGORICAL=one_hot"):
        preprocess.main(tmp_path / "input", tmp_path / "refused", settings=preprocess.Settings(categorical="refuse"))


def test_baseline_rows_keep_the_order_of_the_features(tmp_path: Path) -> None:
    data = [[str(i % 2), f"{i}.1", f"{i}.2", f"{i}.3"] for i in range(30)]
    table, _, _ = run_main(tmp_path, data, ["y", "a", "b", "c"])
    assert table[0] == ["a", "b", "c"]
    assert all(row == [f"{row[0][:-2]}.1", f"{row[0][:-2]}.2", f"{row[0][:-2]}.3"] for row in table[1:])


@pytest.mark.parametrize(
    ("data", "header", "kwargs", "message"),
    [
        ([["1", "2", "3"]] * 5 + [["1", "2"]] * 5, None, {}, r"same number of columns, found \[2, 3\]"),
        ([["1"]] * 10, None, {}, "a label and at least one feature"),
        (mixed_rows(10), ["y", "a", "b"], {}, r"the header names 3 columns, the rows have 4"),
        (mixed_rows(10), ["y", "a", "a", "b"], {}, "unique and non-empty"),
        (mixed_rows(10), None, {"baseline_rows": 0}, "BASELINE_ROWS must be at least 1, got 0"),
    ],
    ids=["ragged", "label-only", "short-header", "duplicate-names", "zero-rows"],
)
def test_baseline_rejects_data_it_cannot_describe(tmp_path: Path, data: list[list[str]], header: list[str] | None,
                                                  kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        run_main(tmp_path, data, header, **kwargs)


def test_files_with_different_headers_are_rejected(tmp_path: Path) -> None:
    write_csv(tmp_path / "in" / "a.csv", [["y", "a", "b"], *rows(5)])
    write_csv(tmp_path / "in" / "b.csv", [["y", "b", "a"], *rows(5)])
    with pytest.raises(ValueError, match=r"the header of .*b\.csv \(\['y', 'b', 'a'\]\) differs from that of .*a\.csv"):
        preprocess.main(tmp_path / "in", tmp_path / "out", has_header=True, seed=42)


def test_the_script_writes_the_baseline_when_run_as_a_processing_job(tmp_path: Path) -> None:
    write_csv(tmp_path / "in" / "data.csv", [["y", "tenure", "plan"], *[[str(i % 2), str(i), "pro"] for i in range(50)]])
    environment = {"INPUT_DIR": str(tmp_path / "in"), "OUTPUT_DIR": str(tmp_path / "out"), "HAS_HEADER": "true",
                   "SPLIT_SEED": "5", "BASELINE_ROWS": "12", "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, str(SCRIPTS / "preprocess.py")], env=environment, check=True, capture_output=True)
    table = read_csv(tmp_path / "out" / "baseline" / "baseline.csv")
    assert table[0] == ["tenure", "plan=pro"] and len(table) == 13
    assert json.loads((tmp_path / "out" / "baseline" / "baseline.json").read_text())["features"] == [
        {"name": "tenure", "type": "numerical"}, {"name": "plan=pro", "type": "categorical", "source": "plan", "category": "pro"},
    ]


# -- preprocess: settings, a label elsewhere, categorical features (issue 15) ----------------------

ABALONE_HEADER = ["sex", "length", "diameter", "height", "whole_weight", "rings"]


def abalone_rows(n: int, seed: int = 0) -> list[list[str]]:
    """Like SageMaker's abalone example: a categorical sex (M/F/I) first, measurements, the label last."""
    generator = random.Random(seed)
    return [
        [generator.choice("MFI"), f"{generator.uniform(0.1, 0.8):.3f}", f"{generator.uniform(0.1, 0.6):.3f}",
         f"{generator.uniform(0.0, 0.3):.3f}", f"{generator.uniform(0.0, 2.5):.4f}", str(generator.randint(1, 29))]
        for _ in range(n)
    ]


def run_script(tmp_path: Path, data: list[list[str]], header: list[str] | None = ABALONE_HEADER, out: str = "out",
               **settings: str) -> subprocess.CompletedProcess[str]:
    """Run preprocess.py as the processing job does, with ``settings`` as its environment."""
    input_dir = tmp_path / "in"
    if not input_dir.exists():
        write_csv(input_dir / "abalone.csv", ([header] if header else []) + data)
    environment = {"INPUT_DIR": str(input_dir), "OUTPUT_DIR": str(tmp_path / out), "PATH": "/usr/bin:/bin", **settings}
    return subprocess.run([sys.executable, str(SCRIPTS / "preprocess.py")], env=environment, capture_output=True, text=True)


def splits_of(directory: Path) -> dict[str, list[list[str]]]:
    return {name: read_csv(directory / name / f"{name}.csv") for name in ("train", "validation", "test")}


def decoded(row: list[str]) -> list[str]:
    """An output row of abalone data back in its input form: the one-hot sex columns (F, I, M) to a letter."""
    label, f, i, m, *measurements = row
    assert sorted([f, i, m]) == ["0", "0", "1"], row
    return ["FIM"[[f, i, m].index("1")], *measurements, label]


@pytest.mark.parametrize("label", [{"LABEL_NAME": "rings"}, {"LABEL_INDEX": "-1"}, {"LABEL_INDEX": "5"}], ids=["name", "last", "index"])
def test_abalone_data_comes_out_label_first_numeric_and_one_hot_encoded(tmp_path: Path, label: dict[str, str]) -> None:
    data = abalone_rows(300)
    result = run_script(tmp_path, data, HAS_HEADER="true", **label)
    assert result.returncode == 0, result.stderr
    parts = splits_of(tmp_path / "out")
    everything = [row for part in parts.values() for row in part]
    # No header, every value a number, the label first: what SageMaker's XGBoost reads.
    assert all(len(row) == 8 and all(preprocess.is_number(v) for v in row) for row in everything)
    # Nothing lost, nothing made up: each output row decodes to exactly one input row.
    assert sorted(decoded(row) for row in everything) == sorted(data)
    assert {name: len(part) for name, part in parts.items()} == {"train": 240, "validation": 30, "test": 30}

    table = read_csv(tmp_path / "out" / "baseline" / "baseline.csv")
    assert table[0] == ["sex=F", "sex=I", "sex=M", "length", "diameter", "height", "whole_weight"]
    assert sorted(table[1:]) == sorted(row[1:] for row in parts["train"])  # the encoded training features
    description = json.loads((tmp_path / "out" / "baseline" / "baseline.json").read_text())
    assert description["features"][:3] == [
        {"name": f"sex={c}", "type": "categorical", "source": "sex", "category": c} for c in "FIM"
    ]
    assert {f["name"]: f["type"] for f in description["features"][3:]} == dict.fromkeys(ABALONE_HEADER[1:5], "numerical")


def test_one_hot_columns_come_from_the_training_split_only(tmp_path: Path) -> None:
    data = abalone_rows(100, seed=4)
    parts = preprocess.split(data, seed=42)  # the rows are shared: mark one held-out row with a new category
    parts["test"][0][0] = "U"
    parts["validation"][0][0] = ""  # a missing category
    result = run_script(tmp_path, data, HAS_HEADER="true", LABEL_INDEX="-1")
    assert result.returncode == 0, result.stderr
    written = splits_of(tmp_path / "out")
    assert read_csv(tmp_path / "out" / "baseline" / "baseline.csv")[0][:3] == ["sex=F", "sex=I", "sex=M"]  # no sex=U
    assert {len(row) for part in written.values() for row in part} == {8}  # the same columns in every split
    for part, row in (("test", parts["test"][0]), ("validation", parts["validation"][0])):
        (encoded,) = [r for r in written[part] if r[0] == row[-1] and r[4:] == row[1:5]]
        assert encoded[1:4] == ["0", "0", "0"]  # unseen or missing: all zeros


def test_the_same_settings_give_the_same_files_and_the_seed_and_fractions_are_respected(tmp_path: Path) -> None:
    data = abalone_rows(500, seed=1)
    settings = {"HAS_HEADER": "true", "LABEL_NAME": "rings", "SPLIT_FRACTIONS": "0.6,0.25,0.15", "SPLIT_SEED": "7"}
    for out in ("first", "again"):
        assert run_script(tmp_path, data, out=out, **settings).returncode == 0
    assert run_script(tmp_path, data, out="other-seed", **{**settings, "SPLIT_SEED": "8"}).returncode == 0
    first, again, other = (splits_of(tmp_path / out) for out in ("first", "again", "other-seed"))
    assert first == again
    assert {name: len(part) for name, part in first.items()} == {"train": 300, "validation": 125, "test": 75}
    assert sorted(first["train"]) != sorted(other["train"])
    assert {name: len(part) for name, part in other.items()} == {name: len(part) for name, part in first.items()}
    assert (tmp_path / "first" / "baseline" / "baseline.csv").read_text() == (tmp_path / "again" / "baseline" / "baseline.csv").read_text()


@pytest.mark.parametrize(
    ("settings", "header", "message"),
    [
        ({"HAS_HEADER": "true", "LABEL_NAME": "rings", "CATEGORICAL": "refuse"}, ABALONE_HEADER,
         "preprocessing failed: feature column 'sex' is not numeric (e.g. "),
        ({"HAS_HEADER": "true"}, ABALONE_HEADER,  # the label is the first column by default: here the sex
         "preprocessing failed: the label column 'sex' is not numeric (e.g. "),
        ({"LABEL_INDEX": "-1", "CATEGORICAL": "refuse"}, None, "preprocessing failed: feature column 'f0' is not numeric"),
        ({"HAS_HEADER": "true", "LABEL_NAME": "age"}, ABALONE_HEADER,
         "preprocessing failed: the label column 'age' is not in the header ['sex', 'length'"),
        ({"LABEL_INDEX": "6"}, None, "preprocessing failed: LABEL_INDEX 6 is outside the 6 columns (allowed: -6 to 5)"),
        ({"HAS_HEADER": "true", "LABEL_INDEX": "-1", "SPLIT_FRACTIONS": "0.000001,0.5,0.499999"}, ABALONE_HEADER,
         "preprocessing failed: 40 rows leave no training rows after 20 validation and 20 test rows"),
    ],
    ids=["refused-categorical", "non-numeric-label", "refused-without-header", "unknown-label-name", "label-index-out-of-range", "no-training-rows"],
)
def test_data_the_script_cannot_prepare_fails_the_job_with_one_line(tmp_path: Path, settings: dict[str, str], header: list[str] | None, message: str) -> None:
    result = run_script(tmp_path, abalone_rows(40), header, **settings)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(message), result.stderr
    assert not (tmp_path / "out").exists()  # nothing half written


def test_a_column_with_too_many_categories_is_refused(tmp_path: Path) -> None:
    data = [[str(i % 2), f"id-{i}", str(i)] for i in range(400)]
    write_csv(tmp_path / "in" / "a.csv", data)
    with pytest.raises(ValueError, match=rf"feature column 'f0' has 320 distinct values in the training split \(e\.g\. 'id-0'\), more than the {preprocess.MAX_CATEGORIES}"):
        preprocess.main(tmp_path / "in", tmp_path / "out")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"HAS_HEADER": "yes"}, "HAS_HEADER='yes': must be 'true' or 'false'"),
        ({"LABEL_INDEX": "last"}, "LABEL_INDEX='last': must be an integer"),
        ({"LABEL_NAME": "rings"}, "LABEL_NAME='rings': needs HAS_HEADER=true; without a header give LABEL_INDEX"),
        ({"HAS_HEADER": "true", "LABEL_NAME": "rings", "LABEL_INDEX": "-1"}, "LABEL_NAME='rings': must not be given together with LABEL_INDEX"),
        ({"HAS_HEADER": "true", "LABEL_NAME": ""}, "LABEL_NAME='': must be a column name of the header"),
        ({"SPLIT_FRACTIONS": "0.8,0.2"}, "SPLIT_FRACTIONS='0.8,0.2': must be three numbers <train>,<validation>,<test>, each above 0, summing to 1"),
        ({"SPLIT_FRACTIONS": "0.5,0.5,0.5"}, "SPLIT_FRACTIONS='0.5,0.5,0.5': must be three numbers"),
        ({"SPLIT_FRACTIONS": "0.9,0.1,0"}, "SPLIT_FRACTIONS='0.9,0.1,0': must be three numbers"),
        ({"SPLIT_FRACTIONS": "a,b,c"}, "SPLIT_FRACTIONS='a,b,c': must be three numbers"),
        ({"SPLIT_FRACTIONS": "nan,0.5,0.5"}, "SPLIT_FRACTIONS='nan,0.5,0.5': must be three numbers"),
        ({"SPLIT_SEED": "-1"}, "SPLIT_SEED='-1': must be at least 0"),
        ({"SPLIT_SEED": "4.2"}, "SPLIT_SEED='4.2': must be an integer"),
        ({"CATEGORICAL": "ordinal"}, "CATEGORICAL='ordinal': must be one of one_hot, refuse"),
        ({"BASELINE_ROWS": "0"}, "BASELINE_ROWS='0': must be at least 1"),
    ],
)
def test_a_bad_setting_exits_2_with_one_line_naming_it(tmp_path: Path, settings: dict[str, str], message: str) -> None:
    result = run_script(tmp_path, abalone_rows(40), **settings)
    assert result.returncode == 2
    assert result.stderr.startswith(f"preprocessing: bad setting {message}") and result.stderr.count("\n") == 1, result.stderr
    assert not (tmp_path / "out").exists()


# The job reads its settings in a process of its own (the tests above run it so); the same settings are read
# here in this process too, where mutation testing can see which of them a change to the reading breaks.


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"HAS_HEADER": "yes"}, "HAS_HEADER='yes': must be 'true' or 'false'"),
        ({"LABEL_INDEX": "last"}, "LABEL_INDEX='last': must be an integer"),
        ({"LABEL_NAME": "rings"}, "LABEL_NAME='rings': needs HAS_HEADER=true; without a header give LABEL_INDEX"),
        ({"HAS_HEADER": "true", "LABEL_NAME": "rings", "LABEL_INDEX": "-1"},
         "LABEL_NAME='rings': must not be given together with LABEL_INDEX; choose one"),
        ({"HAS_HEADER": "true", "LABEL_NAME": ""}, "LABEL_NAME='': must be a column name of the header"),
        ({"SPLIT_FRACTIONS": "0.8,0.2"}, "SPLIT_FRACTIONS='0.8,0.2': must be three numbers <train>,<validation>,<test>, each above 0, summing to 1"),
        ({"SPLIT_FRACTIONS": "0.5,0.5,0.5"}, "SPLIT_FRACTIONS='0.5,0.5,0.5': must be three numbers <train>,<validation>,<test>, each above 0, summing to 1"),
        ({"SPLIT_FRACTIONS": "1,0,0"}, "SPLIT_FRACTIONS='1,0,0': must be three numbers <train>,<validation>,<test>, each above 0, summing to 1"),
        ({"SPLIT_FRACTIONS": "1.2,-0.1,-0.1"}, "SPLIT_FRACTIONS='1.2,-0.1,-0.1': must be three numbers <train>,<validation>,<test>, each above 0, summing to 1"),
        ({"SPLIT_FRACTIONS": "a,b,c"}, "SPLIT_FRACTIONS='a,b,c': must be three numbers <train>,<validation>,<test>, each above 0, summing to 1"),
        ({"SPLIT_FRACTIONS": "inf,0.5,0.5"}, "SPLIT_FRACTIONS='inf,0.5,0.5': must be three numbers <train>,<validation>,<test>, each above 0, summing to 1"),
        ({"SPLIT_SEED": "-1"}, "SPLIT_SEED='-1': must be at least 0"),
        ({"SPLIT_SEED": "4.2"}, "SPLIT_SEED='4.2': must be an integer"),
        ({"CATEGORICAL": "ordinal"}, "CATEGORICAL='ordinal': must be one of one_hot, refuse"),
        ({"BASELINE_ROWS": "0"}, "BASELINE_ROWS='0': must be at least 1"),
        ({"BASELINE_ROWS": "many"}, "BASELINE_ROWS='many': must be an integer"),
    ],
)
def test_a_bad_setting_is_refused_naming_the_variable_its_value_and_what_is_allowed(settings: dict[str, str], message: str) -> None:
    with pytest.raises(preprocess.SettingError) as refused:
        preprocess.settings_from(settings)
    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"HAS_HEADER": " TRUE "}, {"has_header": True}),
        ({"HAS_HEADER": "False"}, {}),
        ({"HAS_HEADER": "true", "LABEL_NAME": "rings"}, {"has_header": True, "label": "rings"}),
        ({"LABEL_INDEX": " -1 "}, {"label": -1}),
        ({"SPLIT_FRACTIONS": "0.6,0.25,0.15"}, {"fractions": (0.6, 0.25, 0.15)}),
        ({"SPLIT_FRACTIONS": "0.7,0.2,0.1000009"}, {"fractions": (0.7, 0.2, 0.1000009)}),  # within the tolerance
        ({"SPLIT_SEED": "0", "BASELINE_ROWS": "1"}, {"seed": 0, "baseline_rows": 1}),  # the smallest allowed
        ({"SPLIT_SEED": "7", "BASELINE_ROWS": "250"}, {"seed": 7, "baseline_rows": 250}),
        ({"CATEGORICAL": "refuse"}, {"categorical": "refuse"}),
        ({"has_header": "true", "split_seed": "7", "categorical": "refuse"}, {}),  # the names are upper case
    ],
)
def test_each_setting_is_read_from_its_variable(settings: dict[str, str], expected: dict[str, Any]) -> None:
    assert preprocess.settings_from(settings) == preprocess.Settings(**expected)


def test_fractions_within_a_millionth_of_one_are_accepted(tmp_path: Path) -> None:
    assert preprocess.settings_from({"SPLIT_FRACTIONS": "0.7,0.2,0.1000005"}).fractions == (0.7, 0.2, 0.1000005)
    with pytest.raises(preprocess.SettingError, match="SPLIT_FRACTIONS"):
        preprocess.settings_from({"SPLIT_FRACTIONS": "0.7,0.2,0.100002"})


def test_without_settings_the_script_keeps_its_historical_defaults() -> None:
    assert preprocess.settings_from({}) == preprocess.Settings(
        has_header=False, label=0, fractions=(0.8, 0.1, 0.1), seed=42, categorical="one_hot", baseline_rows=5000,
    )


# -- preprocess: the seed the split uses, output folders SageMaker created (issue 18) --------------


def expected_split(data: list[list[str]], seed: int) -> dict[str, list[list[str]]]:
    """The 80/10/10 split of ``data`` with ``seed``, worked out here, independently of preprocess.split."""
    shuffled = [row[:] for row in data]
    random.Random(seed).shuffle(shuffled)
    n_held_out = round(len(data) * 0.1)
    n_train = len(data) - 2 * n_held_out
    return {"train": shuffled[:n_train], "validation": shuffled[n_train : n_train + n_held_out], "test": shuffled[n_train + n_held_out :]}


@pytest.mark.parametrize(("environment", "seed"), [({}, 42), ({"SPLIT_SEED": "0"}, 0), ({"SPLIT_SEED": "7"}, 7), ({"SPLIT_SEED": " 1234 "}, 1234)],
                         ids=["default-42", "zero", "seven", "padded"])
def test_the_job_splits_and_samples_with_the_configured_seed(tmp_path: Path, environment: dict[str, str], seed: int) -> None:
    data = rows(40)  # numeric: the output rows are the input rows, in the order the seed put them
    result = run_script(tmp_path, data, header=None, **environment)
    assert result.returncode == 0, result.stderr
    expected = expected_split(data, seed)
    assert splits_of(tmp_path / "out") == expected
    baseline_rows = random.Random(seed).sample(expected["train"], 32)
    assert read_csv(tmp_path / "out" / "baseline" / "baseline.csv") == [["f0", "f1"], *(row[1:] for row in baseline_rows)]


def test_main_uses_the_seed_of_its_settings_and_of_its_argument(tmp_path: Path) -> None:
    data = rows(40)
    write_csv(tmp_path / "in" / "data.csv", data)
    for seed in (0, 7, 8):
        preprocess.main(tmp_path / "in", tmp_path / f"settings-{seed}", settings=preprocess.Settings(seed=seed))
        preprocess.main(tmp_path / "in", tmp_path / f"argument-{seed}", seed=seed)
        assert splits_of(tmp_path / f"settings-{seed}") == splits_of(tmp_path / f"argument-{seed}") == expected_split(data, seed)
    assert splits_of(tmp_path / "settings-7") != splits_of(tmp_path / "settings-8")


def test_the_job_writes_into_output_folders_sagemaker_already_created(tmp_path: Path) -> None:
    for name in ("train", "validation", "test", "baseline"):  # SageMaker creates each output's folder before the job starts
        (tmp_path / "out" / name).mkdir(parents=True)
    data = rows(40)
    result = run_script(tmp_path, data, header=None, SPLIT_SEED="3")
    assert result.returncode == 0, result.stderr
    assert splits_of(tmp_path / "out") == expected_split(data, 3)
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*") if p.is_file()) == [
        "baseline/baseline.csv", "baseline/baseline.json", "test/test.csv", "train/train.csv", "validation/validation.csv",
    ]
    assert json.loads((tmp_path / "out" / "baseline" / "baseline.json").read_text()) == {
        "features": [{"name": "f0", "type": "numerical"}, {"name": "f1", "type": "numerical"}], "rows": 32, "label_excluded": True,
    }


# -- evaluate metrics ------------------------------------------------------------------------------


def brute_force_auc(labels: list[float], scores: list[float]) -> float:
    positives = [s for s, y in zip(scores, labels) if y >= 0.5]
    negatives = [s for s, y in zip(scores, labels) if y < 0.5]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def test_auc_of_a_perfect_ranking_is_one() -> None:
    assert evaluate.auc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert evaluate.auc([1, 0, 1, 0], [0.7, 0.3, 0.6, 0.4]) == 1.0


def test_auc_of_a_reversed_ranking_is_zero() -> None:
    assert evaluate.auc([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1]) == 0.0


def test_auc_of_all_ties_is_one_half() -> None:
    assert evaluate.auc([0, 1, 0, 1, 1], [0.5] * 5) == 0.5


def test_auc_hand_computed() -> None:
    # Positives score 0.9, 0.4, 0.7; negatives 0.6, 0.2. Pairs won: 0.9 beats both, 0.4 beats 0.2,
    # 0.7 beats both: 5 of 6.
    assert evaluate.auc([1, 1, 0, 1, 0], [0.9, 0.4, 0.6, 0.7, 0.2]) == pytest.approx(5 / 6)
    # A tie between a positive and a negative counts as half: (0.5 + 1 + 2) / 4.
    assert evaluate.auc([1, 0, 1, 0], [0.5, 0.5, 0.8, 0.1]) == pytest.approx(0.875)


def test_auc_matches_the_pairwise_definition() -> None:
    generator = random.Random(3)
    for _ in range(25):
        n = generator.randint(2, 40)
        labels = [float(generator.random() < 0.4) for _ in range(n)]
        labels[0], labels[1] = 1.0, 0.0
        scores = [generator.choice([0.1, 0.2, 0.3, 0.5, 0.8, 0.9]) for _ in range(n)]  # many ties
        assert evaluate.auc(labels, scores) == pytest.approx(brute_force_auc(labels, scores))


@pytest.mark.parametrize("labels", [[1, 1, 1], [0, 0, 0], [0.9, 0.6]], ids=["positives", "negatives", "soft-positives"])
def test_auc_needs_both_classes(labels: list[float]) -> None:
    with pytest.raises(ValueError, match="at least one positive and one negative"):
        evaluate.auc(labels, [0.5] * len(labels))


@pytest.mark.parametrize("metric", ["auc", "accuracy", "precision", "f1", "weighted_f1", "mae", "mse", "rmse", "r2"])
def test_metrics_reject_mismatched_or_empty_inputs(metric: str) -> None:
    function = {name: f for _, metrics in evaluate.PROBLEM_TYPES.values() for name, f in metrics.items()}[metric]
    with pytest.raises(ValueError, match="got 3 labels and 2 predictions"):
        function([0, 1, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="got 0 labels and 0 predictions"):
        function([], [])


def test_accuracy_thresholds_at_one_half() -> None:
    assert evaluate.accuracy([1, 0, 1, 0], [0.9, 0.4, 0.3, 0.6]) == 0.5
    assert evaluate.accuracy([1, 0], [0.5, 0.49]) == 1.0  # 0.5 counts as positive
    assert evaluate.accuracy([1, 1, 0, 0], [0.0, 0.1, 0.9, 1.0]) == 0.0


def test_binary_rates_hand_computed() -> None:
    # predicted 1 1 0 0 1 0 against 1 0 1 0 1 1: tp 2, fp 1, tn 1, fn 2
    labels, scores = [1, 0, 1, 0, 1, 1], [0.9, 0.7, 0.2, 0.1, 0.5, 0.4]
    assert evaluate.precision(labels, scores) == pytest.approx(2 / 3)
    assert evaluate.recall(labels, scores) == pytest.approx(2 / 4)
    assert evaluate.f1(labels, scores) == pytest.approx(2 * 2 / (2 * 2 + 1 + 2))
    assert evaluate.true_negative_rate(labels, scores) == pytest.approx(1 / 2)
    assert evaluate.false_positive_rate(labels, scores) == pytest.approx(1 / 2)
    assert evaluate.false_negative_rate(labels, scores) == pytest.approx(2 / 4)
    assert evaluate.precision([0, 1], [0.1, 0.2]) == 0.0  # nothing predicted positive: 0, not a division error


def test_rmse() -> None:
    assert evaluate.rmse([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) == 0.0
    assert evaluate.rmse([1.0, 2.0, 3.0], [1.0, 2.0, 5.0]) == pytest.approx(math.sqrt(4 / 3))
    assert evaluate.rmse([0.0, 0.0], [3.0, -4.0]) == pytest.approx(math.sqrt(12.5))


def test_regression_metrics_hand_computed() -> None:
    labels, predictions = [3.0, 5.0, 7.0, 9.0], [2.0, 5.0, 8.0, 11.0]  # errors -1, 0, 1, 2
    assert evaluate.mae(labels, predictions) == pytest.approx(1.0)
    assert evaluate.mse(labels, predictions) == pytest.approx(1.5)
    assert evaluate.r2(labels, predictions) == pytest.approx(1 - 6 / 20)  # residual 6, spread 20 around the mean 6
    assert evaluate.r2([4.0, 4.0], [4.0, 4.0]) == 1.0 and evaluate.r2([4.0, 4.0], [4.0, 5.0]) == 0.0


def test_multiclass_metrics_from_probabilities_or_class_indices() -> None:
    labels = [0, 0, 1, 1, 2, 2]
    probabilities = [[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.1, 0.6, 0.3], [0.1, 0.2, 0.7], [0.5, 0.1, 0.4]]
    classes = [0, 1, 1, 1, 2, 0]
    for predictions in (probabilities, classes):
        assert evaluate.multiclass_accuracy(labels, predictions) == pytest.approx(4 / 6)
        # class 0: precision 1/2, recall 1/2; class 1: 2/3, 1; class 2: 1, 1/2; each class two of six rows
        assert evaluate.weighted_precision(labels, predictions) == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)
        assert evaluate.weighted_recall(labels, predictions) == pytest.approx((1 / 2 + 1 + 1 / 2) / 3)
        assert evaluate.weighted_f1(labels, predictions) == pytest.approx((1 / 2 + 4 / 5 + 2 / 3) / 3)


# -- evaluate.main: the model-quality report ---------------------------------------------------------


class FakePredictor:
    """Stands in for the XGBoost booster (xgboost is not installed here): predicts each row with
    ``predict(row)``, by default its first feature; records what it was given."""

    def __init__(self, predict: Any = None) -> None:
        self.predict = predict or (lambda row: row[0])
        self.model_dirs: list[Path] = []
        self.rows: list[list[float]] = []

    def __call__(self, model_dir: Path) -> Any:
        self.model_dirs.append(model_dir)

        def predict(rows: list[list[float]]) -> list[Any]:
            self.rows.extend(rows)
            return [self.predict(row) for row in rows]

        return predict


def test_main_writes_the_model_quality_report_the_gate_reads(tmp_path: Path) -> None:
    test_dir = tmp_path / "test"
    write_csv(test_dir / "test.csv", [["1", "0.9", "3"], ["0", "0.2", "4"], ["1", "0.4", "5"]])
    write_csv(test_dir / "more" / "part.csv", [["0", "0.6", "6"], ["0", "0.1", "7"]])
    predictor = FakePredictor()

    report = evaluate.main("binary_classification", tmp_path / "model", test_dir, tmp_path / "evaluation", predictor=predictor)

    written = json.loads((tmp_path / "evaluation" / "evaluation.json").read_text(encoding="utf-8"))
    assert report == written and list(written) == ["binary_classification_metrics"]
    metrics = written["binary_classification_metrics"]
    # Positives 0.9, 0.4; negatives 0.2, 0.6, 0.1: 0.9 beats 3, 0.4 beats 2 -> 5 of 6.
    assert metrics["auc"] == {"value": pytest.approx(5 / 6), "standard_deviation": "NaN"}  # fewer than 200 rows
    # predicted 1 0 0 1 0 against 1 0 1 0 0
    assert metrics["accuracy"]["value"] == pytest.approx(3 / 5)
    assert metrics["confusion_matrix"] == {"0": {"0": 2, "1": 1}, "1": {"0": 1, "1": 1}}
    assert predictor.model_dirs == [tmp_path / "model"]
    # Files in sorted path order (more/part.csv first), label column removed.
    assert predictor.rows == [[0.6, 6.0], [0.1, 7.0], [0.9, 3.0], [0.2, 4.0], [0.4, 5.0]]


def gate_value(report: dict[str, Any], path: str) -> Any:
    node: Any = report
    for key in path.split("."):
        node = node[key]
    return node


def generated(problem_type: str, rows: int, seed: int = 11) -> tuple[list[list[str]], Any]:
    """Test rows (label first) for ``problem_type``, and a predictor that is right most of the time."""
    generator = random.Random(seed)
    data: list[list[str]] = []
    for _ in range(rows):
        x = generator.uniform(0, 10)
        if problem_type == "regression":  # abalone-like: rings grow with the shell's length
            label = 2 + 1.5 * x + generator.gauss(0, 1)
        elif problem_type == "binary_classification":
            label = float(x + generator.gauss(0, 2) > 5)
        else:
            label = float(min(2, int((x + generator.gauss(0, 1)) / 3.4)))
        data.append([str(label), f"{x:.6f}", f"{generator.random():.6f}"])
    if problem_type == "regression":
        return data, FakePredictor(lambda row: 2 + 1.5 * row[0])
    if problem_type == "binary_classification":
        return data, FakePredictor(lambda row: 1 / (1 + math.exp(-(row[0] - 5))))
    return data, FakePredictor(lambda row: [1.0 if k == min(2, int(row[0] / 3.4)) else 0.0 for k in range(3)])  # softprob-like


@pytest.mark.parametrize("problem_type", ["binary_classification", "multiclass_classification", "regression"])
def test_every_bundled_path_the_gate_may_read_is_a_number_in_the_report(tmp_path: Path, problem_type: str) -> None:
    from mlops_constructs.training.gate import BUNDLED_REPORT, bundled_paths

    data, predictor = generated(problem_type, rows=300)
    write_csv(tmp_path / "test" / "test.csv", data)
    report = evaluate.main(problem_type, tmp_path / "model", tmp_path / "test", tmp_path / "out", predictor=predictor)
    section, metrics = BUNDLED_REPORT[problem_type]
    assert list(report) == [section]
    # The construct's list of what the script writes (which config validation relies on) is what it writes.
    assert set(metrics) == set(evaluate.PROBLEM_TYPES[problem_type][1])
    for path in bundled_paths(problem_type):
        value = gate_value(report, path)
        assert isinstance(value, float) and math.isfinite(value), (path, value)
        # 300 rows: a standard deviation over five 80 % samples, as Model Monitor reports it
        deviation = gate_value(report, path.removesuffix(".value") + ".standard_deviation")
        assert isinstance(deviation, float) and deviation >= 0, (path, deviation)


def test_a_good_regression_model_has_a_small_error_and_a_high_r2(tmp_path: Path) -> None:
    data, predictor = generated("regression", rows=400)
    write_csv(tmp_path / "test" / "test.csv", data)
    metrics = evaluate.main("regression", tmp_path / "m", tmp_path / "test", tmp_path / "out", predictor=predictor)["regression_metrics"]
    assert metrics["mse"]["value"] == pytest.approx(1.0, abs=0.25)  # the noise's variance
    assert metrics["rmse"]["value"] == pytest.approx(math.sqrt(metrics["mse"]["value"]))
    assert metrics["r2"]["value"] > 0.9
    # a model that always predicts the mean explains nothing
    labels = [float(row[0]) for row in data]
    mean = sum(labels) / len(labels)
    flat = evaluate.main("regression", tmp_path / "m", tmp_path / "test", tmp_path / "flat", predictor=FakePredictor(lambda row: mean))
    assert flat["regression_metrics"]["r2"]["value"] == pytest.approx(0.0, abs=1e-9)
    assert flat["regression_metrics"]["mse"]["value"] > 10 * metrics["mse"]["value"]


def test_standard_deviation_needs_200_rows_and_is_reproducible(tmp_path: Path) -> None:
    for rows, expect_number in ((199, False), (200, True)):
        data, predictor = generated("regression", rows=rows)
        write_csv(tmp_path / str(rows) / "test.csv", data)
        first = evaluate.main("regression", tmp_path, tmp_path / str(rows), tmp_path / f"out{rows}", predictor=predictor)
        again = evaluate.main("regression", tmp_path, tmp_path / str(rows), tmp_path / f"again{rows}", predictor=predictor)
        assert first == again
        deviation = first["regression_metrics"]["mse"]["standard_deviation"]
        assert (deviation != "NaN") is expect_number, deviation


def test_a_multiclass_model_gets_a_confusion_matrix_of_classes(tmp_path: Path) -> None:
    write_csv(tmp_path / "t" / "t.csv", [["0", "0.1"], ["1", "1.2"], ["2", "2.0"], ["2", "0.9"]])
    report = evaluate.main("multiclass_classification", tmp_path, tmp_path / "t", tmp_path / "o", predictor=FakePredictor(lambda row: round(row[0])))
    metrics = report["multiclass_classification_metrics"]
    assert metrics["confusion_matrix"] == {"0": {"0": 1, "1": 0, "2": 0}, "1": {"0": 0, "1": 1, "2": 0}, "2": {"0": 0, "1": 1, "2": 1}}
    assert metrics["accuracy"]["value"] == pytest.approx(3 / 4)


@pytest.mark.parametrize(
    ("problem_type", "labels", "predict", "message"),
    [
        ("binary_classification", ["0", "1"], lambda row: [0.2, 0.8], "the model predicts one probability per class; set the problem type to multiclass_classification"),
        ("binary_classification", ["0.5", "1"], lambda row: 0.5, r"binary_classification needs class labels 0, 1, ... in the first column; found \[0.5, 1.0\]"),
        ("multiclass_classification", ["-1", "1"], lambda row: 1, "multiclass_classification needs class labels"),
    ],
    ids=["softprob-as-binary", "fractional-labels", "negative-class"],
)
def test_predictions_or_labels_that_do_not_fit_the_problem_type_fail(tmp_path: Path, problem_type: str, labels: list[str], predict: Any, message: str) -> None:
    write_csv(tmp_path / "t" / "t.csv", [[label, "0.3"] for label in labels])
    with pytest.raises(ValueError, match=message):
        evaluate.main(problem_type, tmp_path, tmp_path / "t", tmp_path / "o", predictor=FakePredictor(predict))
    assert not (tmp_path / "o").exists()


def test_main_rejects_an_unknown_problem_type_before_doing_anything(tmp_path: Path) -> None:
    write_csv(tmp_path / "test" / "t.csv", [["1", "0.9"], ["0", "0.2"]])
    predictor = FakePredictor()
    with pytest.raises(ValueError, match=r"PROBLEM_TYPE must be one of binary_classification, multiclass_classification, regression, got 'ranking'"):
        evaluate.main("ranking", tmp_path / "model", tmp_path / "test", tmp_path / "out", predictor=predictor)
    assert predictor.model_dirs == []
    assert not (tmp_path / "out").exists()


def test_the_script_reads_its_problem_type_from_the_environment(tmp_path: Path) -> None:
    environment = {"PROBLEM_TYPE": "ranking", "MODEL_DIR": str(tmp_path), "TEST_DIR": str(tmp_path), "OUTPUT_DIR": str(tmp_path / "out"), "PATH": "/usr/bin:/bin"}
    run = subprocess.run([sys.executable, str(SCRIPTS / "evaluate.py")], env=environment, capture_output=True, text=True)
    assert run.returncode == 1
    assert run.stderr.strip() == "evaluation failed: PROBLEM_TYPE must be one of binary_classification, multiclass_classification, regression, got 'ranking'"


def test_main_fails_without_test_rows(tmp_path: Path) -> None:
    (tmp_path / "test").mkdir()
    with pytest.raises(ValueError, match="no test rows"):
        evaluate.main("binary_classification", tmp_path / "model", tmp_path / "test", tmp_path / "out", predictor=FakePredictor())


def test_a_pickled_model_is_refused_not_unpickled(tmp_path: Path) -> None:
    import pickle

    pickled = tmp_path / "xgboost-model"
    pickled.write_bytes(pickle.dumps({"booster": "from SageMaker XGBoost 1.0-1"}, protocol=2))
    with pytest.raises(ValueError, match=r"xgboost-model is a Python pickle \(SageMaker XGBoost before 1.3-1 saves models so\)"):
        evaluate.refuse_pickles(pickled)
    for content in (b'{"learner": {}}', b"{L\x00\x00\x00\x07learner", b"binf\x00\x00"):  # JSON, UBJSON, the old binary format
        booster = tmp_path / "booster"
        booster.write_bytes(content)
        evaluate.refuse_pickles(booster)


def test_csv_files_are_found_whatever_the_case_of_their_suffix(tmp_path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "UPPER.CSV").write_text("1,0.1\n0,0.2\n1,0.3\n")
    (tmp_path / "in" / "notes.txt").write_text("not data\n")
    assert len(preprocess.read_rows(tmp_path / "in")) == 3


def test_model_file_prefers_xgboost_model_and_refuses_ambiguous_archives(tmp_path) -> None:
    single = tmp_path / "single"
    single.mkdir()
    (single / "model.bin").write_bytes(b"m")
    assert evaluate.model_file(single).name == "model.bin"
    named = tmp_path / "named"
    (named / "sub").mkdir(parents=True)
    (named / "sub" / "xgboost-model").write_bytes(b"m")
    (named / "other").write_bytes(b"o")
    assert evaluate.model_file(named).name == "xgboost-model"
    ambiguous = tmp_path / "ambiguous"
    ambiguous.mkdir()
    (ambiguous / "a").write_bytes(b"a")
    (ambiguous / "b").write_bytes(b"b")
    with pytest.raises(ValueError, match=r"must hold 'xgboost-model' or exactly one file, found \['a', 'b'\]"):
        evaluate.model_file(ambiguous)


# -- evaluate: loading the XGBoost model from model.tar.gz (issue 18) ------------------------------


@pytest.fixture
def xgboost_stub(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bytes]]:
    """Stands in for the ``xgboost`` package the training image provides (this venv has none): a model
    file is a JSON linear model ``{"weights": [...], "bias": b}``; returns (path, content) of each file
    a booster loaded."""
    import numpy

    loaded: list[tuple[str, bytes]] = []

    class DMatrix:
        def __init__(self, rows: list[list[float]]) -> None:
            self.rows = rows

    class Booster:
        def load_model(self, path: str) -> None:
            content = Path(path).read_bytes()
            loaded.append((path, content))
            self.model = json.loads(content)

        def predict(self, matrix: DMatrix) -> Any:
            return numpy.array([sum(w * x for w, x in zip(self.model["weights"], row)) + self.model["bias"] for row in matrix.rows])

    stub = ModuleType("xgboost")
    stub.Booster, stub.DMatrix = Booster, DMatrix  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "xgboost", stub)
    return loaded


def model_archive(model_dir: Path, members: dict[str, bytes]) -> Path:
    """``model_dir/model.tar.gz`` holding ``members`` (name -> content) as plain files, names kept as given."""
    model_dir.mkdir(parents=True, exist_ok=True)
    path = model_dir / "model.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    with tarfile.open(path) as archive:
        assert archive.getnames() == list(members)
    return path


LINEAR_MODEL = json.dumps({"weights": [2.0, 0.0], "bias": 1.0}).encode()
"""Predicts 2 * x0 + 1."""


@pytest.mark.parametrize(
    ("members", "loaded_name"),
    [
        ({"xgboost-model": LINEAR_MODEL}, "xgboost-model"),  # as SageMaker's XGBoost container writes it
        ({"model/xgboost-model": LINEAR_MODEL, "model/notes.txt": b"not the model"}, "xgboost-model"),
        ({"booster.json": LINEAR_MODEL}, "booster.json"),  # any single file
    ],
    ids=["sagemaker", "nested-with-others", "single-file"],
)
def test_the_evaluator_scores_the_model_in_model_tar_gz(tmp_path: Path, xgboost_stub: list[tuple[str, bytes]], members: dict[str, bytes],
                                                       loaded_name: str) -> None:
    model_archive(tmp_path / "model", members)
    # x0 = 1, 2, 3, 4 -> predictions 3, 5, 7, 9; errors 0, 0, -1, 0
    write_csv(tmp_path / "test" / "test.csv", [["3", "1", "9"], ["5", "2", "9"], ["8", "3", "9"], ["9", "4", "9"]])

    report = evaluate.main("regression", tmp_path / "model", tmp_path / "test", tmp_path / "evaluation")

    metrics = report["regression_metrics"]
    assert metrics["mae"] == {"value": 0.25, "standard_deviation": "NaN"}
    assert metrics["mse"] == {"value": 0.25, "standard_deviation": "NaN"}
    assert metrics["rmse"] == {"value": 0.5, "standard_deviation": "NaN"}
    assert metrics["r2"]["value"] == pytest.approx(1 - 1 / 22.75)  # residual 1; labels 3, 5, 8, 9 spread 22.75 around their mean 6.25
    (path, content), = xgboost_stub
    assert Path(path).name == loaded_name and content == LINEAR_MODEL
    assert not Path(path).exists()  # extracted into a temporary folder, gone afterwards
    assert json.loads((tmp_path / "evaluation" / "evaluation.json").read_text(encoding="utf-8")) == report


def test_a_pickled_model_in_model_tar_gz_is_refused_before_xgboost_loads_it(tmp_path: Path, xgboost_stub: list[tuple[str, bytes]]) -> None:
    import pickle

    model_archive(tmp_path / "model", {"xgboost-model": pickle.dumps({"booster": "SageMaker XGBoost 1.2-1"}, protocol=2)})
    with pytest.raises(ValueError, match=r"^xgboost-model is a Python pickle \(SageMaker XGBoost before 1.3-1 saves models so\)"):
        evaluate.xgboost_predictor(tmp_path / "model")
    assert xgboost_stub == []


@pytest.mark.parametrize("escaping", ["../escaped", "model/../../escaped", "ABSOLUTE"], ids=["parent", "nested-parent", "absolute"])
def test_an_archive_with_a_path_outside_the_extraction_folder_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                         xgboost_stub: list[tuple[str, bytes]], escaping: str) -> None:
    scratch = tmp_path / "scratch" / "inner"  # the evaluator extracts into a temporary folder under here
    scratch.mkdir(parents=True)
    monkeypatch.setattr(evaluate.tempfile, "tempdir", str(scratch))
    name = str(tmp_path / "absolute" / "escaped") if escaping == "ABSOLUTE" else escaping
    model_archive(tmp_path / "model", {"xgboost-model": LINEAR_MODEL, name: b"written outside"})

    with pytest.raises(ValueError) as refused:
        evaluate.xgboost_predictor(tmp_path / "model")

    assert str(refused.value) == f"model.tar.gz holds paths outside its folder, {[name]}: refusing to extract it"
    assert xgboost_stub == []  # no model loaded from a refused archive
    assert sorted(p.name for p in tmp_path.rglob("escaped")) == []  # nothing written, inside or out
    assert list(scratch.iterdir()) == []  # the temporary folder is removed


def test_the_script_fails_with_one_line_on_an_archive_with_a_path_outside_its_folder(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "xgboost.py").write_text("# the training image's xgboost, without Booster: the archive is refused before one is made\n")
    model_archive(tmp_path / "model", {"xgboost-model": LINEAR_MODEL, "../escaped": b"x"})
    write_csv(tmp_path / "test" / "test.csv", [["1", "0.5"]])
    environment = {"PROBLEM_TYPE": "regression", "MODEL_DIR": str(tmp_path / "model"), "TEST_DIR": str(tmp_path / "test"),
                   "OUTPUT_DIR": str(tmp_path / "out"), "PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"}
    run = subprocess.run([sys.executable, str(SCRIPTS / "evaluate.py")], env=environment, capture_output=True, text=True)
    assert (run.returncode, run.stderr) == (1, "evaluation failed: model.tar.gz holds paths outside its folder, ['../escaped']: refusing to extract it\n")
    assert not (tmp_path / "out").exists()


def test_the_evaluation_is_written_into_the_folder_sagemaker_already_created(tmp_path: Path) -> None:
    (tmp_path / "evaluation").mkdir()  # SageMaker creates the output's folder before the job starts
    write_csv(tmp_path / "test" / "test.csv", [["1", "0.9"], ["0", "0.2"]])
    report = evaluate.main("binary_classification", tmp_path / "model", tmp_path / "test", tmp_path / "evaluation", predictor=FakePredictor())
    assert [p.name for p in (tmp_path / "evaluation").iterdir()] == ["evaluation.json"]
    assert json.loads((tmp_path / "evaluation" / "evaluation.json").read_text(encoding="utf-8")) == report
    assert report["binary_classification_metrics"]["auc"] == {"value": 1.0, "standard_deviation": "NaN"}


# -- in process: what the job does with its settings and data (mutation testing sees only this process) --


@pytest.mark.parametrize(
    ("label", "header", "position"),
    [
        ("rings", ABALONE_HEADER, 5),
        ("sex", ABALONE_HEADER, 0),
        (5, None, 5),
        (-1, None, 5),
        (-6, None, 0),  # the first column, counted from the end
        (0, ABALONE_HEADER, 0),
    ],
)
def test_the_label_column_is_found_by_name_or_by_index(label: int | str, header: list[str] | None, position: int) -> None:
    assert preprocess.label_position(label, header, 6) == position


@pytest.mark.parametrize(
    ("label", "header", "message"),
    [
        ("rings", None, "LABEL_NAME needs HAS_HEADER=true"),
        ("age", ABALONE_HEADER, f"the label column 'age' is not in the header {ABALONE_HEADER}"),
        ("rings", [*ABALONE_HEADER, "rings"], f"the label column 'rings' is named twice in the header {[*ABALONE_HEADER, 'rings']}"),
        (6, None, "LABEL_INDEX 6 is outside the 6 columns (allowed: -6 to 5)"),
        (-7, None, "LABEL_INDEX -7 is outside the 6 columns (allowed: -6 to 5)"),
    ],
)
def test_a_label_column_that_is_not_there_is_refused_saying_what_is(label: int | str, header: list[str] | None, message: str) -> None:
    with pytest.raises(ValueError) as refused:
        preprocess.label_position(label, header, 6 if header is None else len(header))
    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "need at least 3 rows to split, got 0"),
        ([["1"], ["0"], ["1"]], "rows need a label and at least one feature column"),
    ],
)
def test_data_without_rows_or_features_is_refused(data: list[list[str]], message: str) -> None:
    with pytest.raises(ValueError) as refused:
        preprocess.prepare(data, None, preprocess.Settings())
    assert str(refused.value) == message


def test_one_feature_column_is_enough_and_a_named_label_comes_first() -> None:
    data = [[f"{i}.5", str(i % 2)] for i in range(20)]
    parts, columns = preprocess.prepare(data, ["x", "y"], preprocess.Settings(has_header=True, label="y"))
    assert [(c.name, c.index) for c in columns] == [("x", 0)]
    assert sorted(row for part in parts.values() for row in part) == sorted([y, x] for x, y in data)


@pytest.mark.parametrize(
    ("train", "columns", "max_rows", "message"),
    [
        ([["1", "2"]], "x", 0, "BASELINE_ROWS must be at least 1, got 0"),
        ([], "x", 5, "no training rows to take a baseline from"),
        ([["1"]], "", 5, "no feature columns are left after encoding"),
    ],
)
def test_a_baseline_that_cannot_be_taken_is_refused(train: list[list[str]], columns: str, max_rows: int, message: str) -> None:
    planned = [preprocess.Column(name=name, index=1, categories=None) for name in columns]
    with pytest.raises(ValueError) as refused:
        preprocess.baseline(train, planned, seed=1, max_rows=max_rows)
    assert str(refused.value) == message


def test_a_baseline_of_one_row_is_allowed() -> None:
    table, description = preprocess.baseline([["1", "2.5"], ["0", "3.5"]], [preprocess.Column(name="x", index=1, categories=None)], seed=1, max_rows=1)
    assert len(table) == 2 and table[0] == ["x"] and table[1] in (["2.5"], ["3.5"])
    assert description == {"features": [{"name": "x", "type": "numerical"}], "rows": 1, "label_excluded": True}


@pytest.mark.parametrize(
    ("header", "data", "line"),
    [
        (None, rows(40), "split 40 rows: {'train': 32, 'validation': 4, 'test': 4}; 2 features; baseline of 32 training rows"),
        (ABALONE_HEADER, abalone_rows(40),
         "split 40 rows: {'train': 32, 'validation': 4, 'test': 4}; 7 features (one-hot encoded: ['sex']); baseline of 32 training rows"),
    ],
)
def test_the_job_logs_what_it_made_of_the_data(tmp_path: Path, capsys: pytest.CaptureFixture[str], header: list[str] | None,
                                              data: list[list[str]], line: str) -> None:
    write_csv(tmp_path / "in" / "data.csv", ([header] if header else []) + data)
    settings = preprocess.Settings(has_header=header is not None, label=-1 if header else 0)
    preprocess.main(tmp_path / "in", tmp_path / "out", settings=settings)
    assert capsys.readouterr().out == line + "\n"


def test_a_score_of_exactly_one_half_is_a_positive_prediction() -> None:
    labels, scores = [0, 1, 0, 1], [0.5, 0.5, 0.2, 0.8]  # tp: 0.5 and 0.8; fp: the first 0.5; tn: 0.2
    assert evaluate.precision(labels, scores) == pytest.approx(2 / 3)
    assert evaluate.true_negative_rate(labels, scores) == pytest.approx(1 / 2)
    assert evaluate.false_positive_rate(labels, scores) == pytest.approx(1 / 2)
    report = evaluate.report_for("binary_classification", labels, scores)["binary_classification_metrics"]
    assert report["confusion_matrix"] == {"0": {"0": 1, "1": 1}, "1": {"0": 0, "1": 2}}


def test_evaluation_creates_its_output_folder_and_prints_the_report_it_wrote(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_csv(tmp_path / "test" / "test.csv", [["1", "0.9"], ["0", "0.2"], ["1", "0.4"], ["0", "0.6"]])
    output = tmp_path / "processing" / "evaluation"  # neither folder exists yet
    report = evaluate.main("binary_classification", tmp_path / "model", tmp_path / "test", output, predictor=FakePredictor())
    assert json.loads((output / "evaluation.json").read_text(encoding="utf-8")) == report
    assert json.loads(capsys.readouterr().out) == report
