"""Property: any mutation of the default configuration either loads or raises ConfigError, with every
problem on its own line that names a field path. Never a TypeError, KeyError or pydantic internals.

A configuration that loads is one the stacks can build and that can work: each role has its own account
unless ``accounts.allow_shared`` says otherwise, a monitored model captures data in every stage, the gate's
metric is one the evaluation computes, autoscaling's bounds hold, and SageMaker's images exist in the region."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mlops_constructs.config import PROCESSING_FRAMEWORK, STAGES, ConfigError, PlatformConfig
from mlops_constructs.training import bundled_paths
from mlops_constructs.training.images import builtin_image_problem
from tests.conftest import default_config_data

DEFAULT = default_config_data()

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["ml.m5.large", "eu-west-1", "eu-west-1a", "10.0.0.0/16", "222222222222", "churn", "dev", ""]),
    # values that make a configuration unworkable rather than malformed
    st.sampled_from([0, 1, 5, "111111111111", "333333333333", "f1", "rmse", "ap-south-2", "ap-southeast-5"]),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3), max_leaves=6)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, child in node.items():
            found += paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += paths(child, (*prefix, index))
    return found


ALL_PATHS = paths(DEFAULT)[1:]


@st.composite
def mutations(draw: st.DrawFn) -> Any:
    data: Any = copy.deepcopy(DEFAULT)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        path = draw(st.sampled_from(ALL_PATHS))
        parent: Any = data
        try:
            for part in path[:-1]:
                parent = parent[part]
            key = path[-1]
            parent[key]  # the path may be gone after an earlier mutation
        except (KeyError, IndexError, TypeError):
            continue
        if not isinstance(parent, (dict, list)):  # an earlier mutation turned a container into a string
            continue
        action = draw(st.sampled_from(["replace", "delete", "add-key", "duplicate"]))
        if action == "replace":
            parent[key] = draw(values)
        elif action == "delete":
            del parent[key]
        elif action == "add-key" and isinstance(parent[key], dict):
            name = draw(st.text(min_size=1, max_size=12) | st.sampled_from(["allow_shared", "min_capacity", "max_capacity", "evaluate_image"]))
            parent[key][name] = draw(values)
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
    if draw(st.integers(min_value=0, max_value=20)) == 0:
        data = draw(values)  # occasionally not a mapping at all
    return data


def changed(changes: dict[tuple[Any, ...], Any]) -> dict[str, Any]:
    """The default configuration with the value at each path replaced."""
    data = copy.deepcopy(DEFAULT)
    for path, value in changes.items():
        parent: Any = data
        for part in path[:-1]:
            parent = parent[part]
        parent[path[-1]] = value
    return data


UNWORKABLE: list[tuple[dict[tuple[Any, ...], Any], str]] = [
    # the configurations that used to synthesize and could not work, and the path each error names first
    ({("accounts", "prod"): "222222222222"}, "accounts.prod"),
    ({("accounts", "staging"): "111111111111"}, "accounts.staging"),
    ({("stages", "staging", "endpoint", "data_capture_percent"): 0}, "stages.staging.endpoint.data_capture_percent"),
    ({("models", 0, "endpoints"): {"prod": {"data_capture_percent": 0}}}, "models[0].endpoints.prod.data_capture_percent"),
    ({("models", 0, "gate", "metric"): "rmse"}, "models[0].gate.metric"),
    ({("models", 0, "gate"): {"conditions": [{"path": "regression_metrics.mse.value", "op": "<=", "threshold": 6}]}},
     "models[0].gate.conditions[0].path"),
    ({("models", 0, "training", "algorithm"): {"framework": "xgboost", "version": "1.0-1"}}, "models[0].training.algorithm"),
    ({("stages", "prod", "endpoint", "autoscaling"): {"min_capacity": 5}}, "stages.prod.endpoint.autoscaling.min_capacity"),
    ({("models", 0, "monitoring", "features"): ["_c0"]}, "models[0].monitoring.features"),
    ({("models", 0, "monitoring", "schedule"): "cron(0 * ? * * *)"}, "models[0].monitoring.schedule"),
]


def check_workable(config: PlatformConfig) -> None:
    """What a configuration that loads promises the stacks and the accounts it deploys to."""
    accounts = config.accounts
    roles = [accounts.tooling, accounts.dev, accounts.staging, accounts.prod]
    assert accounts.allow_shared or len(set(roles)) == 4, roles
    for model in config.models:
        if model.processing.evaluate_image is None:
            for _, path, _, _ in model.gate.conditions_for(model.problem_type, custom_report=False):
                assert path in bundled_paths(model.problem_type), path
        algorithm = model.training.builtin_algorithm()
        if algorithm is not None:
            assert builtin_image_problem(algorithm.framework, algorithm.version, config.region) is None
        if model.processing.preprocess_image is None:
            assert builtin_image_problem(*PROCESSING_FRAMEWORK, config.region) is None
        for stage in STAGES:
            endpoint = model.endpoint(stage, config.stage(stage).endpoint)
            if model.monitoring is not None:
                assert endpoint.serverless is None and endpoint.data_capture_percent > 0, (model.name, stage)
            if endpoint.serverless is None:
                scaling = endpoint.autoscaling
                maximum = scaling.max_capacity or 2 * endpoint.instance_count
                assert (scaling.min_capacity or endpoint.instance_count) <= maximum, (model.name, stage)
                assert scaling.off_hours is None or scaling.off_hours.capacity <= maximum, (model.name, stage)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutations())
@example(changed(UNWORKABLE[0][0]))
@example(changed({("accounts", "prod"): "222222222222", ("accounts", "allow_shared"): True}))  # a trial: loads
@example(changed(UNWORKABLE[2][0]))
@example(changed(UNWORKABLE[4][0]))
@example(changed(UNWORKABLE[6][0]))
def test_mutated_config_loads_or_raises_config_error(data: Any) -> None:
    try:
        config = PlatformConfig.from_mapping(data, source="mutated.yaml")
    except ConfigError as err:
        assert err.problems, "a ConfigError must say what is wrong"
        for line in str(err).splitlines():
            assert line.startswith("mutated.yaml: "), line
            assert len(line) < 800, line  # a region without SageMaker's images lists the ~30 that have them
    else:
        assert isinstance(config, PlatformConfig)
        assert len({m.name for m in config.models}) == len(config.models)
        check_workable(config)


@pytest.mark.parametrize(("changes", "path"), UNWORKABLE, ids=[path for _, path in UNWORKABLE])
def test_unworkable_configs_are_refused_at_the_key_that_makes_them_so(changes: dict[tuple[Any, ...], Any], path: str) -> None:
    try:
        PlatformConfig.from_mapping(changed(changes), source="mutated.yaml")
    except ConfigError as err:
        assert err.problems[0].startswith(f"{path}: "), err.problems
    else:
        pytest.fail(f"loaded, though {path} makes it unworkable")
