"""Default preprocessing job: split a model's raw CSV data into train, validation and test sets.

Runs in a SageMaker processing container (SageMaker's scikit-learn image by default; only the standard
library is used). Reads every ``*.csv`` under ``/opt/ml/processing/input`` (the label in the first
column, as SageMaker's built-in algorithms expect, no header unless ``HAS_HEADER=true``) and writes
``train.csv``, ``validation.csv`` and ``test.csv`` under ``/opt/ml/processing/output/<split>/``.

The split is 80/10/10 after a shuffle seeded with ``SPLIT_SEED`` (default 42), so a rerun on the
same data gives the same split.

It also writes the drift baseline under ``/opt/ml/processing/output/baseline/``:

- ``baseline.csv``: a sample of at most ``BASELINE_ROWS`` (default 5000) training rows, drawn with the
  same seed, without the label column, under a header naming the features: the data's own header
  when ``HAS_HEADER=true``, else ``f0, f1, ...``. These are the columns, in order, of the CSV
  requests an endpoint of the model receives.
- ``baseline.json``: ``{"features": [{"name": ..., "type": "numerical" | "categorical"}, ...],
  "rows": <rows in baseline.csv>, "label_excluded": true}``; a feature is numerical when every one of
  its sampled values parses as a float.
"""

from __future__ import annotations

import csv
import json
import os
import random
import sys
from pathlib import Path
from typing import Any

FRACTIONS = {"train": 0.8, "validation": 0.1, "test": 0.1}
BASELINE_ROWS = 5000


def csv_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() == ".csv")


def read_rows(directory: Path, has_header: bool = False) -> list[list[str]]:
    rows: list[list[str]] = []
    for path in csv_files(directory):
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            if has_header:
                next(reader, None)
            rows.extend(row for row in reader if row)
    return rows


def read_header(directory: Path) -> list[str] | None:
    """The header row the CSV files share (None without files); files whose headers differ are an error,
    since their columns could not be told apart."""
    header: list[str] | None = None
    first: Path | None = None
    for path in csv_files(directory):
        with path.open(newline="", encoding="utf-8") as handle:
            row = next(csv.reader(handle), None)
        if row is None:
            continue
        if header is None:
            header, first = row, path
        elif row != header:
            raise ValueError(f"the header of {path} ({row}) differs from that of {first} ({header})")
    return header


def split(rows: list[list[str]], seed: int = 42) -> dict[str, list[list[str]]]:
    """Shuffle deterministically and cut into train, validation and test; none of them is empty."""
    if len(rows) < len(FRACTIONS):
        raise ValueError(f"need at least {len(FRACTIONS)} rows to split, got {len(rows)}")
    shuffled = rows[:]
    random.Random(seed).shuffle(shuffled)
    n_validation = max(1, round(len(shuffled) * FRACTIONS["validation"]))
    n_test = max(1, round(len(shuffled) * FRACTIONS["test"]))
    n_train = len(shuffled) - n_validation - n_test
    return {
        "train": shuffled[:n_train],
        "validation": shuffled[n_train : n_train + n_validation],
        "test": shuffled[n_train + n_validation :],
    }


def write(rows: list[list[str]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)


def feature_names(header: list[str] | None, width: int) -> list[str]:
    """Names of the ``width`` feature columns: the header's, after the label's, or ``f0, f1, ...``."""
    if header is None:
        return [f"f{i}" for i in range(width)]
    names = header[1:]
    if len(names) != width:
        raise ValueError(f"the header names {len(names)} features after the label, the rows have {width}: {header}")
    if "" in names or len(set(names)) != len(names):
        raise ValueError(f"the header's feature names must be unique and non-empty, got {names}")
    return names


def is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def baseline(train: list[list[str]], header: list[str] | None, seed: int, max_rows: int = BASELINE_ROWS) -> tuple[list[list[str]], dict[str, Any]]:
    """A seeded sample of at most ``max_rows`` training rows without their label (the first column),
    headed by the feature names, and its description."""
    if max_rows < 1:
        raise ValueError(f"BASELINE_ROWS must be at least 1, got {max_rows}")
    if not train:
        raise ValueError("no training rows to take a baseline from")
    widths = sorted({len(row) for row in train})
    if len(widths) > 1:
        raise ValueError(f"training rows must all have the same number of columns, found {widths}")
    if widths[0] < 2:
        raise ValueError("rows need a label and at least one feature column")
    names = feature_names(header, widths[0] - 1)
    sample = random.Random(seed).sample(train, min(max_rows, len(train)))
    features = [row[1:] for row in sample]
    description = {
        "features": [
            {"name": name, "type": "numerical" if all(is_number(row[i]) for row in features) else "categorical"}
            for i, name in enumerate(names)
        ],
        "rows": len(features),
        "label_excluded": True,
    }
    return [names, *features], description


def main(input_dir: Path, output_dir: Path, has_header: bool, seed: int, baseline_rows: int = BASELINE_ROWS) -> dict[str, int]:
    rows = read_rows(input_dir, has_header)
    parts = split(rows, seed)
    table, description = baseline(parts["train"], read_header(input_dir) if has_header else None, seed, baseline_rows)
    for name, part in parts.items():
        write(part, output_dir / name / f"{name}.csv")
    write(table, output_dir / "baseline" / "baseline.csv")
    (output_dir / "baseline" / "baseline.json").write_text(json.dumps(description, indent=2) + "\n", encoding="utf-8")
    counts = {name: len(part) for name, part in parts.items()}
    print(f"split {len(rows)} rows: {counts}; baseline of {description['rows']} training rows, {len(table[0])} features")
    return counts


if __name__ == "__main__":
    try:
        main(
            Path(os.environ.get("INPUT_DIR", "/opt/ml/processing/input")),
            Path(os.environ.get("OUTPUT_DIR", "/opt/ml/processing/output")),
            os.environ.get("HAS_HEADER", "false").lower() == "true",
            int(os.environ.get("SPLIT_SEED", "42")),
            int(os.environ.get("BASELINE_ROWS", str(BASELINE_ROWS))),
        )
    except ValueError as err:
        print(f"preprocessing failed: {err}", file=sys.stderr)
        sys.exit(1)
