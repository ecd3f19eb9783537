"""Preprocess: abalone-style CSV files (with a header) into train, validation and test splits.

Reads every ``.csv`` under ``<root>/input``; one-hot encodes ``--categorical`` columns; writes each split
label first, without a header (what ``train.py`` reads), and a drift baseline of the features.
"""

import argparse

import pandas as pd

from common import PROCESSING_ROOT


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--label", required=True)
    parser.add_argument("--categorical", nargs="*", default=[])
    parser.add_argument("--validation-fraction", type=float, default=0.15)
    parser.add_argument("--test-fraction", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    files = sorted((PROCESSING_ROOT / "input").rglob("*.csv"))
    if not files:
        raise SystemExit(f"no .csv file under {PROCESSING_ROOT / 'input'}")
    data = pd.concat([pd.read_csv(path) for path in files], ignore_index=True)
    data = pd.get_dummies(data, columns=args.categorical, dtype=float)
    features = data.drop(columns=[args.label]).astype(float)
    table = pd.concat([data[args.label].astype(float), features], axis=1)

    shuffled = table.sample(frac=1.0, random_state=args.seed).reset_index(drop=True)
    test = int(round(len(shuffled) * args.test_fraction))
    validation = int(round(len(shuffled) * args.validation_fraction))
    splits = {"test": shuffled[:test], "validation": shuffled[test:test + validation], "train": shuffled[test + validation:]}
    for name, rows in splits.items():
        if rows.empty:
            raise SystemExit(f"the {name} split is empty: {len(shuffled)} rows are too few")
        out = PROCESSING_ROOT / "output" / name
        out.mkdir(parents=True, exist_ok=True)
        rows.to_csv(out / f"{name}.csv", header=False, index=False)

    baseline = PROCESSING_ROOT / "output" / "baseline"
    baseline.mkdir(parents=True, exist_ok=True)
    splits["train"].drop(columns=[args.label]).head(1000).to_csv(baseline / "baseline.csv", index=False)
    print({name: len(rows) for name, rows in splits.items()}, "features:", list(features.columns))


if __name__ == "__main__":
    main()
