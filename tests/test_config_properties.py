"""Property: any mutation of the default configuration either loads or raises ConfigError, with every
problem on its own line that names a field path. Never a TypeError, KeyError or pydantic internals."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_constructs.config import ConfigError, PlatformConfig
from tests.conftest import default_config_data

DEFAULT = default_config_data()

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["ml.m5.large", "eu-west-1", "eu-west-1a", "10.0.0.0/16", "222222222222", "churn", "dev", ""]),
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
            parent[key][draw(st.text(min_size=1, max_size=12))] = draw(values)
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
    if draw(st.integers(min_value=0, max_value=20)) == 0:
        data = draw(values)  # occasionally not a mapping at all
    return data


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutations())
def test_mutated_config_loads_or_raises_config_error(data: Any) -> None:
    try:
        config = PlatformConfig.from_mapping(data, source="mutated.yaml")
    except ConfigError as err:
        assert err.problems, "a ConfigError must say what is wrong"
        for line in str(err).splitlines():
            assert line.startswith("mutated.yaml: "), line
            assert len(line) < 600, line
    else:
        assert isinstance(config, PlatformConfig)
        assert len({m.name for m in config.models}) == len(config.models)
