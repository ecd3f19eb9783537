"""For every test in the repository (tests/ and lambda/*/tests/): botocore sessions share one data loader, and
the slowest modules run first.

Each botocore session parses the JSON service models of the clients it creates, once per session. moto
starts every test with a new default session (so that the test's credentials are read), and the runtime code
under test creates sessions of its own (an assumed role's), so the suite parsed SageMaker's and the other
models again in nearly every test: most of the approval function's test time. A loader with the same data
path reads the same files, so sharing it changes nothing but the time.
"""

from __future__ import annotations

import botocore.loaders
import botocore.session
import pytest

_loaders: dict[object, botocore.loaders.Loader] = {}


def _shared_loader(session: botocore.session.Session) -> botocore.loaders.Loader:
    data_path = session.get_config_variable("data_path")
    key = data_path if isinstance(data_path, str) or data_path is None else tuple(data_path)
    if key not in _loaders:
        _loaders[key] = botocore.loaders.create_loader(data_path)
    return _loaders[key]


def _register_data_loader(self: botocore.session.Session) -> None:
    self._components.lazy_register_component("data_loader", lambda: _shared_loader(self))


botocore.session.Session._register_data_loader = _register_data_loader  # type: ignore[method-assign]


SLOWEST_FIRST = ("test_gates.py", "test_integ.py", "test_docs_examples.py", "test_script_mode.py", "test_drift_script.py")
"""Modules whose tests each take seconds (external scanners, apps synthesized in their own processes): run first.
With ``-n 2`` (pytest-xdist) a long test collected last keeps one worker busy after the other has finished; run
first, the other tests fill in around it. On 2 CPUs, ``make test`` took ~123 s this way and ~143 s in collection
order (same CPU time)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.path.name not in SLOWEST_FIRST)  # stable: the order within each group stays
