"""Train: a scikit-learn ridge regression, in SageMaker's script mode.

The framework container passes the hyperparameters as ``--name value`` and says where things are in
``SM_*`` variables (https://github.com/aws/sagemaker-training-toolkit/blob/master/ENVIRONMENT_VARIABLES.md).
"""

import argparse
import os
from pathlib import Path

import joblib
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_squared_error

from common import read_split


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    parser.add_argument("--validation", default=os.environ.get("SM_CHANNEL_VALIDATION", "/opt/ml/input/data/validation"))
    args, _ = parser.parse_known_args()

    x, y = read_split(args.train)
    model = Ridge(alpha=args.alpha).fit(x, y)
    vx, vy = read_split(args.validation)
    print(f"validation mse: {mean_squared_error(vy, model.predict(vx)):.4f}")
    Path(args.model_dir).mkdir(parents=True, exist_ok=True)
    joblib.dump(model, Path(args.model_dir) / "model.joblib")


if __name__ == "__main__":
    main()
