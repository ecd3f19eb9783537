"""Default preprocessing job: turn a model's raw CSV data into the train, validation and test sets
SageMaker's built-in algorithms read (label in the first column, no header, every value numeric).

Runs in a SageMaker processing container (SageMaker's scikit-learn image by default; only the standard
library is used). Reads every ``*.csv`` under ``/opt/ml/processing/input`` and writes ``train.csv``,
``validation.csv`` and ``test.csv`` under ``/opt/ml/processing/output/<split>/``.

Settings, from the environment (each optional; the defaults are the first four's historical behaviour):

- ``HAS_HEADER``: ``true`` when every file starts with the same header row. Default ``false``.
- ``LABEL_INDEX``: 0-based position of the label column, negative from the end (``-1`` is the last).
  Default ``0``. ``LABEL_NAME``: the label column's name in the header (needs ``HAS_HEADER=true``);
  at most one of the two.
- ``SPLIT_FRACTIONS``: ``<train>,<validation>,<test>``, each above 0, summing to 1. Default ``0.8,0.1,0.1``.
- ``SPLIT_SEED``: seeds the shuffle before the split and the baseline sample, so a rerun on the same
  data gives the same files. Default ``42``.
- ``CATEGORICAL``: what to do with a non-numeric feature column: ``one_hot`` (default) or ``refuse``.
- ``BASELINE_ROWS``: at most this many rows in the drift baseline. Default 5000.

A bad value exits with status 2 and one line on stderr; data the script cannot prepare exits with 1.

The output rows are the label, then the features in their input order, a non-numeric feature replaced
by its one-hot columns. A column is non-numeric when one of its non-empty values, in any row, does not
parse as a number. Its categories are the distinct non-empty values of the training split, sorted, one
``0``/``1`` column each, so the same training split always gives the same columns; a value missing from
the training split (or empty) encodes as all zeros. More than ``MAX_CATEGORIES`` categories is an error
(usually an identifier, or a numeric column with a stray value such as ``n/a``). With
``CATEGORICAL=refuse`` a non-numeric feature column is an error naming it. The label must be numeric
in every row: the script does not know the problem type, so classes must be encoded as numbers (``0``,
``1``, ...) before; it never passes a value through for training to fail on. An empty numeric value is
kept empty (a missing value for XGBoost).

It also writes the drift baseline under ``/opt/ml/processing/output/baseline``, describing the features
as the model's endpoint receives them, that is encoded:

- ``baseline.csv``: a sample of at most ``BASELINE_ROWS`` encoded training rows, drawn with the seed,
  without the label, under a header naming the features: the data's own names (``f0, f1, ...`` without
  a header, numbering the feature columns, label excluded), a one-hot column named
  ``<column>=<category>``.
- ``baseline.json``: ``{"features": [{"name": ..., "type": "numerical" | "categorical"}, ...],
  "rows": <rows in baseline.csv>, "label_excluded": true}``. A numeric column is numerical; a one-hot column is
  categorical and also has ``"source"`` (the input column) and ``"category"``.
"""

from __future__ import annotations

import csv
import json
import math
import os
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FRACTIONS = {"train": 0.8, "validation": 0.1, "test": 0.1}
BASELINE_ROWS = 5000
SEED = 42
LABEL_INDEX = 0
CATEGORICAL_MODES = ("one_hot", "refuse")
MAX_CATEGORIES = 256
"""Most categories a one-hot encoded column may have in the training split."""
FRACTION_TOLERANCE = 1e-6


class SettingError(ValueError):
    """A bad environment value: the job exits with status 2."""


@dataclass(frozen=True)
class Settings:
    has_header: bool = False
    label: int | str = LABEL_INDEX
    fractions: tuple[float, float, float] = (FRACTIONS["train"], FRACTIONS["validation"], FRACTIONS["test"])
    seed: int = SEED
    categorical: str = "one_hot"
    baseline_rows: int = BASELINE_ROWS


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


def split(rows: list[list[str]], seed: int = SEED, fractions: tuple[float, float, float] | None = None) -> dict[str, list[list[str]]]:
    """Shuffle deterministically and cut into train, validation and test (``fractions`` of the rows,
    rounded; default 80/10/10); none of them is empty."""
    _, validation, test = fractions or (FRACTIONS["train"], FRACTIONS["validation"], FRACTIONS["test"])
    if len(rows) < len(FRACTIONS):
        raise ValueError(f"need at least {len(FRACTIONS)} rows to split, got {len(rows)}")
    shuffled = rows[:]
    random.Random(seed).shuffle(shuffled)
    n_validation = max(1, round(len(shuffled) * validation))
    n_test = max(1, round(len(shuffled) * test))
    n_train = len(shuffled) - n_validation - n_test
    if n_train < 1:
        raise ValueError(f"{len(rows)} rows leave no training rows after {n_validation} validation and {n_test} test rows; add data or change SPLIT_FRACTIONS")
    return {
        "train": shuffled[:n_train],
        "validation": shuffled[n_train : n_train + n_validation],
        "test": shuffled[n_train + n_validation :],
    }


def write(rows: list[list[str]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)


def is_number(value: str) -> bool:
    if "_" in value:  # Python reads 1_000; CSV readers of the algorithms do not
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True


def column_names(header: list[str] | None, width: int, label: int) -> list[str]:
    """Names of the ``width`` input columns: the header's, or the label's as ``label`` and the features'
    as ``f0, f1, ...`` in order."""
    if header is None:
        features = (f"f{i}" for i in range(width - 1))
        return ["label" if i == label else next(features) for i in range(width)]
    if len(header) != width:
        raise ValueError(f"the header names {len(header)} columns, the rows have {width}: {header}")
    names = [name for i, name in enumerate(header) if i != label]
    if "" in names or len(set(names)) != len(names):
        raise ValueError(f"the header's feature names must be unique and non-empty, got {names}")
    return header


def label_position(label: int | str, header: list[str] | None, width: int) -> int:
    if isinstance(label, str):
        if header is None:
            raise ValueError("LABEL_NAME needs HAS_HEADER=true")
        if header.count(label) != 1:
            raise ValueError(f"the label column {label!r} is {'named twice in' if label in header else 'not in'} the header {header}")
        return header.index(label)
    if not -width <= label < width:
        raise ValueError(f"LABEL_INDEX {label} is outside the {width} columns (allowed: {-width} to {width - 1})")
    return label % width


@dataclass(frozen=True)
class Column:
    """How one input feature column is written: itself when numeric, else one 0/1 column per category."""

    name: str
    index: int
    categories: tuple[str, ...] | None = None

    def output_names(self) -> list[str]:
        return [self.name] if self.categories is None else [f"{self.name}={c}" for c in self.categories]

    def encode(self, value: str) -> list[str]:
        if self.categories is None:
            return [value]
        return ["1" if value == c else "0" for c in self.categories]


def plan_columns(rows: list[list[str]], train: list[list[str]], names: list[str], label: int, categorical: str) -> list[Column]:
    """The feature columns in order, each numeric or with the categories it is one-hot encoded into."""
    columns: list[Column] = []
    for index, name in enumerate(names):
        if index == label:
            continue
        stray = next((row[index] for row in rows if row[index] != "" and not is_number(row[index])), None)
        if stray is None:
            columns.append(Column(name, index))
            continue
        if categorical == "refuse":
            raise ValueError(f"feature column {name!r} is not numeric (e.g. {stray!r}); encode it before, or set CATEGORICAL=one_hot")
        categories = tuple(sorted({row[index] for row in train} - {""}))
        if len(categories) > MAX_CATEGORIES:
            raise ValueError(f"feature column {name!r} has {len(categories)} distinct values in the training split (e.g. {stray!r}), "
                             f"more than the {MAX_CATEGORIES} one-hot encoding allows; drop or encode it before")
        columns.append(Column(name, index, categories))
    return columns


def baseline(encoded_train: list[list[str]], columns: list[Column], seed: int, max_rows: int = BASELINE_ROWS) -> tuple[list[list[str]], dict[str, Any]]:
    """A seeded sample of at most ``max_rows`` encoded training rows without their label (the first
    column), headed by the feature names, and its description."""
    if max_rows < 1:
        raise ValueError(f"BASELINE_ROWS must be at least 1, got {max_rows}")
    if not encoded_train:
        raise ValueError("no training rows to take a baseline from")
    names = [name for column in columns for name in column.output_names()]
    if not names:
        raise ValueError("no feature columns are left after encoding")
    if len(set(names)) != len(names):
        raise ValueError(f"the encoded feature names must be unique, got {names}")
    sample = random.Random(seed).sample(encoded_train, min(max_rows, len(encoded_train)))
    features = [row[1:] for row in sample]
    described: list[dict[str, Any]] = []
    for column in columns:
        if column.categories is None:  # numeric in every row (an empty value is a missing one)
            described.append({"name": column.name, "type": "numerical"})
        else:
            described.extend({"name": f"{column.name}={c}", "type": "categorical", "source": column.name, "category": c} for c in column.categories)
    return [names, *features], {"features": described, "rows": len(features), "label_excluded": True}


def prepare(rows: list[list[str]], header: list[str] | None, settings: Settings) -> tuple[dict[str, list[list[str]]], list[Column]]:
    """The encoded splits (label first) and the feature columns they were encoded with."""
    if not rows:
        raise ValueError("need at least 3 rows to split, got 0")
    widths = sorted({len(row) for row in rows})
    if len(widths) > 1:
        raise ValueError(f"rows must all have the same number of columns, found {widths}")
    if widths[0] < 2:
        raise ValueError("rows need a label and at least one feature column")
    label = label_position(settings.label, header, widths[0])
    names = column_names(header, widths[0], label)
    bad_label = next((row[label] for row in rows if not is_number(row[label])), None)
    if bad_label is not None:
        hint = "" if header is not None else " (if the files start with a header row, set HAS_HEADER=true)"
        raise ValueError(f"the label column {names[label]!r} is not numeric (e.g. {bad_label!r}){hint}; SageMaker's built-in algorithms "
                         "need a number in every row: encode classes as 0, 1, ... before preprocessing")
    parts = split(rows, settings.seed, settings.fractions)
    columns = plan_columns(rows, parts["train"], names, label, settings.categorical)
    encoded = {
        name: [[row[label], *(v for column in columns for v in column.encode(row[column.index]))] for row in part]
        for name, part in parts.items()
    }
    return encoded, columns


def main(input_dir: Path, output_dir: Path, has_header: bool = False, seed: int = SEED, baseline_rows: int = BASELINE_ROWS,
         settings: Settings | None = None) -> dict[str, int]:
    """Prepare ``input_dir`` into ``output_dir``; ``settings``, when given, replaces the other arguments."""
    settings = settings or Settings(has_header=has_header, seed=seed, baseline_rows=baseline_rows)
    rows = read_rows(input_dir, settings.has_header)
    header = read_header(input_dir) if settings.has_header else None
    parts, columns = prepare(rows, header, settings)
    table, description = baseline(parts["train"], columns, settings.seed, settings.baseline_rows)
    for name, part in parts.items():
        write(part, output_dir / name / f"{name}.csv")
    write(table, output_dir / "baseline" / "baseline.csv")
    (output_dir / "baseline" / "baseline.json").write_text(json.dumps(description, indent=2) + "\n", encoding="utf-8")
    counts = {name: len(part) for name, part in parts.items()}
    encoded = [c.name for c in columns if c.categories is not None]
    print(f"split {len(rows)} rows: {counts}; {len(table[0])} features"
          f"{f' (one-hot encoded: {encoded})' if encoded else ''}; baseline of {description['rows']} training rows")
    return counts


# -- the environment ----------------------------------------------------------------------------------


def _integer(environ: dict[str, str], name: str, default: int, minimum: int | None = None) -> int:
    raw = environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise SettingError(f"{name}={raw!r}: must be an integer") from None
    if minimum is not None and value < minimum:
        raise SettingError(f"{name}={raw!r}: must be at least {minimum}")
    return value


def settings_from(environ: dict[str, str]) -> Settings:
    """The settings in ``environ``; a bad value raises :class:`SettingError` naming the variable."""
    raw_header = environ.get("HAS_HEADER", "false")
    if raw_header.strip().lower() not in ("true", "false"):
        raise SettingError(f"HAS_HEADER={raw_header!r}: must be 'true' or 'false'")
    has_header = raw_header.strip().lower() == "true"

    label: int | str = _integer(environ, "LABEL_INDEX", LABEL_INDEX)
    if "LABEL_NAME" in environ:
        if "LABEL_INDEX" in environ:
            raise SettingError(f"LABEL_NAME={environ['LABEL_NAME']!r}: must not be given together with LABEL_INDEX; choose one")
        if environ["LABEL_NAME"] == "":
            raise SettingError("LABEL_NAME='': must be a column name of the header")
        if not has_header:
            raise SettingError(f"LABEL_NAME={environ['LABEL_NAME']!r}: needs HAS_HEADER=true; without a header give LABEL_INDEX")
        label = environ["LABEL_NAME"]

    fractions: tuple[float, float, float] = Settings.fractions
    if "SPLIT_FRACTIONS" in environ:
        raw = environ["SPLIT_FRACTIONS"]
        allowed = "must be three numbers <train>,<validation>,<test>, each above 0, summing to 1"
        try:
            values = [float(part) for part in raw.split(",")]
        except ValueError:
            raise SettingError(f"SPLIT_FRACTIONS={raw!r}: {allowed}") from None
        if len(values) != 3 or not all(math.isfinite(v) and v > 0 for v in values) or abs(sum(values) - 1) > FRACTION_TOLERANCE:
            raise SettingError(f"SPLIT_FRACTIONS={raw!r}: {allowed}")
        fractions = (values[0], values[1], values[2])

    categorical = environ.get("CATEGORICAL", "one_hot")
    if categorical not in CATEGORICAL_MODES:
        raise SettingError(f"CATEGORICAL={categorical!r}: must be one of {', '.join(CATEGORICAL_MODES)}")
    return Settings(
        has_header=has_header,
        label=label,
        fractions=fractions,
        seed=_integer(environ, "SPLIT_SEED", SEED, minimum=0),
        categorical=categorical,
        baseline_rows=_integer(environ, "BASELINE_ROWS", BASELINE_ROWS, minimum=1),
    )


if __name__ == "__main__":
    try:
        job_settings = settings_from(dict(os.environ))
    except SettingError as err:
        print(f"preprocessing: bad setting {err}", file=sys.stderr)
        sys.exit(2)
    try:
        main(
            Path(os.environ.get("INPUT_DIR", "/opt/ml/processing/input")),
            Path(os.environ.get("OUTPUT_DIR", "/opt/ml/processing/output")),
            settings=job_settings,
        )
    except ValueError as err:
        print(f"preprocessing failed: {err}", file=sys.stderr)
        sys.exit(1)
