"""Default preprocessing job: split a model's raw CSV data into train, validation and test sets.

Runs in a SageMaker processing container (SageMaker's scikit-learn image by default; only the standard
library is used). Reads every ``*.csv`` under ``/opt/ml/processing/input`` (the label in the first
column, as SageMaker's built-in algorithms expect, no header unless ``HAS_HEADER=true``) and writes
``train.csv``, ``validation.csv`` and ``test.csv`` under ``/opt/ml/processing/output/<split>/``.

The split is 80/10/10 after a shuffle seeded with ``SPLIT_SEED`` (default 42), so a rerun on the
same data gives the same split.
"""

from __future__ import annotations

import csv
import os
import random
import sys
from pathlib import Path

FRACTIONS = {"train": 0.8, "validation": 0.1, "test": 0.1}


def read_rows(directory: Path, has_header: bool = False) -> list[list[str]]:
    rows: list[list[str]] = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() == ".csv"):
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            if has_header:
                next(reader, None)
            rows.extend(row for row in reader if row)
    return rows


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


def main(input_dir: Path, output_dir: Path, has_header: bool, seed: int) -> dict[str, int]:
    rows = read_rows(input_dir, has_header)
    parts = split(rows, seed)
    for name, part in parts.items():
        write(part, output_dir / name / f"{name}.csv")
    counts = {name: len(part) for name, part in parts.items()}
    print(f"split {len(rows)} rows: {counts}")
    return counts


if __name__ == "__main__":
    try:
        main(
            Path(os.environ.get("INPUT_DIR", "/opt/ml/processing/input")),
            Path(os.environ.get("OUTPUT_DIR", "/opt/ml/processing/output")),
            os.environ.get("HAS_HEADER", "false").lower() == "true",
            int(os.environ.get("SPLIT_SEED", "42")),
        )
    except ValueError as err:
        print(f"preprocessing failed: {err}", file=sys.stderr)
        sys.exit(1)
