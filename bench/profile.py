#!/usr/bin/env python3
"""Where synthesis time goes, in process: jsii round trips by call site, and time per phase.

    .venv/bin/python bench/profile.py                 # 1 and 10 models: per-model cost and the top call sites
    .venv/bin/python bench/profile.py --models 1,20 --top 40
    .venv/bin/python bench/profile.py --by request    # by kind of request (create, invoke, get...) and name

Every call from Python into aws-cdk-lib (creating an object, calling a method, reading a property) is a
round trip to jsii's Node process: its own cost, however little the call does. This script builds the
platform (``stacks.build_platform``) for generated configs of N models, the same configs as
``bench/run.py``, in this process, and counts those round trips by wrapping the jsii kernel's ``send``
(a private function of the ``jsii`` package: a development aid, not something the platform relies on).

For each model count it prints the time to build the constructs, the time of ``app.synth()`` (CDK's
synthesis and the four cdk-nag packs, as ``app.main`` sets up a plain ``cdk synth``: no CloudFormation
Guard or template validation), and the round trips of the build, after one unmeasured warm-up. Then the difference per model between the smallest and the largest count, by the innermost
project frame of each call (``--by site``) or by request (``--by request``).

Timings here are in process and without the CDK CLI, so they are a little below ``bench/run.py``'s; the
round trip counts are exact and machine-independent.
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _bench_run():  # type: ignore[no-untyped-def]
    """bench/run.py, for its model configs (it is a script, not a package module)."""
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_run"] = module
    spec.loader.exec_module(module)
    return module


class RoundTrips:
    """Counts jsii requests while ``active``, keyed by call site or by request."""

    def __init__(self, by: str) -> None:
        from jsii._kernel.providers import process

        self.by = by
        self.counts: collections.Counter[str] = collections.Counter()
        self.active = False
        original = process._NodeProcess.send
        counter = self

        def send(node, request, response_type):  # type: ignore[no-untyped-def]
            if counter.active:
                counter.counts[counter._key(request)] += 1
            return original(node, request, response_type)

        process._NodeProcess.send = send

    def _key(self, request: object) -> str:
        if self.by == "request":
            kind = type(request).__name__.removesuffix("Request")
            name = getattr(request, "method", None) or getattr(request, "property", None) or ""
            fqn = getattr(request, "fqn", "") or ""
            return f"{kind} {fqn} {name}".replace("  ", " ").strip()
        frame = sys._getframe(2)
        while frame is not None:
            path = frame.f_code.co_filename
            if path.startswith(str(ROOT)) and "site-packages" not in path and not path.endswith("profile.py"):
                return f"{Path(path).relative_to(ROOT)}:{frame.f_lineno} {frame.f_code.co_name}"
            frame = frame.f_back
        return "(aws-cdk-lib, no project frame)"


def profile(models: int, configs: Path, counter: RoundTrips) -> tuple[float, float, collections.Counter[str]]:
    from app import new_app, validation_requested
    from mlops_constructs.config import load_config
    from stacks import build_platform

    path = _bench_run().model_config(models, configs)
    config = load_config(path)
    # The app as `cdk synth` makes it: cdk.json's feature flags, no built-in template validation.
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    app = new_app(context={**context, "config": str(path)}, outdir=tempfile.mkdtemp(prefix="profile-", dir=configs))
    counter.counts.clear()
    counter.active = True
    started = time.perf_counter()
    build_platform(app, config, validate=validation_requested(app))
    built = time.perf_counter()
    counter.active = False
    counts = collections.Counter(counter.counts)
    app.synth()
    return built - started, time.perf_counter() - built, counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="1,10", help="comma-separated model counts, smallest and largest compared (default 1,10)")
    parser.add_argument("--top", type=int, default=25, help="call sites to list (default 25)")
    parser.add_argument("--by", choices=("site", "request"), default="site")
    args = parser.parse_args(argv)
    counts = sorted(int(n) for n in args.models.split(","))
    if len(counts) < 2:
        parser.error("--models needs at least two counts")
    os.chdir(ROOT)
    counter = RoundTrips(args.by)
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        # A warm-up: the first synthesis in a process also loads aws-cdk-lib's modules and the template
        # validation engine, which the counts compared must not include.
        profile(counts[0], Path(tmp), counter)
        for n in counts:
            build, synth, trips = profile(n, Path(tmp), counter)
            results[n] = (build, synth, trips)
            print(f"{n:3d} model(s): build {build:6.2f} s, synth {synth:6.2f} s, {sum(trips.values()):6d} jsii round trips while building")
    low, high = counts[0], counts[-1]
    extra = high - low
    (b0, s0, t0), (b1, s1, t1) = results[low], results[high]
    print(f"\nper additional model ({low} -> {high}): build {(b1 - b0) / extra:.3f} s, synth {(s1 - s0) / extra:.3f} s, "
          f"{(sum(t1.values()) - sum(t0.values())) / extra:.0f} round trips")
    print(f"\nround trips per additional model, by {args.by}:")
    per_model = {key: (t1[key] - t0.get(key, 0)) / extra for key in t1}
    for key, value in sorted(per_model.items(), key=lambda kv: -kv[1])[: args.top]:
        print(f"{value:8.1f}  {key}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
