"""Shared by the three scripts: where SageMaker mounts things, and how a split file is laid out."""

# The scikit-learn 1.2-1 image runs Python 3.9, which evaluates annotations such as `str | Path` when the function is
# defined unless they are postponed.
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

# SageMaker's locations; PROCESSING_ROOT lets the tests run the scripts on a laptop.
PROCESSING_ROOT = Path(os.environ.get("PROCESSING_ROOT", "/opt/ml/processing"))


def read_split(directory: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Every CSV file in ``directory``: label first, no header. Returns (features, labels)."""
    frames = [np.loadtxt(path, delimiter=",", ndmin=2) for path in sorted(Path(directory).glob("*.csv"))]
    if not frames:
        raise SystemExit(f"no .csv file in {directory}")
    data = np.vstack(frames)
    return data[:, 1:], data[:, 0]
