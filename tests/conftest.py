"""Shared fixtures. The platform is synthesized once per test session, as `cdk synth -c validate_templates=true`
does it: same feature flags (cdk.json's context), same compliance packs, with CloudFormation Guard and CDK's
template validation on, written to a temporary cloud assembly that the gate tests (cfn-lint, checkov) read back."""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import jsii_launcher

jsii_launcher.configure()  # as the app starts jsii's kernel, before aws_cdk's import starts it

import aws_cdk as cdk  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402

from mlops_constructs.compliance import open_findings, read_report  # noqa: E402
from mlops_constructs.config import PlatformConfig, load_config  # noqa: E402
from stacks import DeliveryStack, build_platform  # noqa: E402
from stacks.release_stack import ReleasesStage  # noqa: E402
from stacks.stage import PlatformStage  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO / "config" / "default.yaml"
CDK_CONTEXT: dict[str, Any] = json.loads((REPO / "cdk.json").read_text())["context"]


@dataclass
class SynthesizedPlatform:
    """Every stage of one configuration, synthesized into ``outdir``."""

    config: PlatformConfig
    outdir: Path
    stages: dict[str, PlatformStage]
    report: dict[str, Any]
    delivery: DeliveryStack | None = None
    """The delivery pipeline stack, when the config has a ``delivery`` section."""
    releases: ReleasesStage | None = None
    """The release tooling and the models' release pipelines, when the config has a ``delivery`` section."""
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Template JSON by stack path, e.g. ``Dev/Network``."""

    def template(self, path: str) -> Template:
        return Template.from_json(self.templates[path])

    def stacks(self) -> Iterator[tuple[str, cdk.Stack]]:
        """Every stack, by its construct path (``Dev/Network``, ``Dev/Models-1/Training-churn``,
        ``Dev/Release-churn/Endpoint``, ``Staging/Release-lead-scoring/Batch``, ``Releases/Releases-7``, ``Delivery``...)."""
        if self.delivery is not None:
            yield "Delivery", self.delivery
        if self.releases is not None:
            for stack in (self.releases.tooling, *self.releases.stacks.values()):
                yield stack.node.path, stack
        for stage in self.stages.values():
            for stack in (stage.network, stage.storage, *stage.registries.values(), *stage.trainings.values(), *stage.endpoints.values(),
                          *stage.batches.values()):
                yield stack.node.path, stack

    def release_path(self, model: str) -> str:
        """The path of the stack that holds ``model``'s release pipeline."""
        assert self.releases is not None
        return self.releases.pipelines[model].node.scope.node.path  # type: ignore[union-attr]


def synthesize(config: PlatformConfig, outdir: Path) -> SynthesizedPlatform:
    """Synthesize the platform, failing with the unacknowledged findings listed if validation fails."""
    # CDK's template validation is on by default in an App; Guard is asked for, as the pipeline's synth asks for both.
    app = cdk.App(outdir=str(outdir), context=CDK_CONTEXT)
    stages = build_platform(app, config, validate=True)
    try:
        app.synth()
    except RuntimeError as err:
        if "ValidationFailed" not in str(err):
            raise
        pytest.fail("synthesis failed validation:\n" + "\n".join(open_findings(read_report(outdir))))
    report = read_report(outdir)
    delivery, releases = app.node.try_find_child("Delivery"), app.node.try_find_child("Releases")
    platform = SynthesizedPlatform(
        config=config, outdir=outdir, stages=stages, report=report, delivery=delivery if isinstance(delivery, DeliveryStack) else None,
        releases=releases if isinstance(releases, ReleasesStage) else None,
    )
    for path, stack in platform.stacks():
        # the delivery stack sits in the app itself, beside the stages; a release stage's assembly inside its stage's
        assemblies = [scope.artifact_id for scope in stack.node.scopes[1:] if isinstance(scope, cdk.Stage)]
        template_file = outdir.joinpath(*assemblies) / stack.template_file
        platform.templates[path] = json.loads(template_file.read_text())
    return platform


def default_config_data() -> dict[str, Any]:
    return yaml.safe_load(DEFAULT_CONFIG.read_text())


def three_model_config_data() -> dict[str, Any]:
    data = copy.deepcopy(default_config_data())
    # churn runs the user-style example's own scripts (examples/byo_regression): every step in script mode
    example = yaml.safe_load((REPO / "examples" / "byo_regression" / "model.yaml").read_text())
    example["code"]["source_dir"] = str(REPO / example["code"]["source_dir"])
    example["code"]["evaluate"]["network_isolation"] = False  # one step with isolation off, for the guardrail checks
    # and in its own image, built from the example's Dockerfile (a Docker image asset) instead of a framework's
    evaluate = example["code"]["evaluate"]
    del evaluate["framework"], evaluate["version"]
    evaluate["dockerfile"] = str(REPO / "examples" / "byo_regression" / "docker" / "Dockerfile")
    data["models"] = [
        {**example, "name": "churn"},
        {"name": "fraud", "training": {"instance_type": "ml.p3.2xlarge", "instance_count": 2},
         "triggers": {"schedule": "weekly"},  # a time of its own: weekday, hour and minute from its name
         "processing": {"label": -1, "categorical": "refuse"},
         # hyperparameter tuning, so the IAM and state machine validators check the tuning states
         "tuning": {"objective": {"metric": "validation:auc", "type": "Maximize"}, "strategy": "Random", "max_jobs": 8, "max_parallel_jobs": 2,
                    "ranges": {"eta": {"type": "continuous", "min": 0.01, "max": 0.5, "scaling": "Logarithmic"},
                               "max_depth": {"type": "integer", "min": 3, "max": 10},
                               "booster": {"type": "categorical", "values": ["gbtree", "dart"]}}}},
        {
            "name": "demand-forecast",
            "triggers": {"schedule": "daily", "on_retrain_event": False},  # a schedule and no rule
            "endpoints": {"prod": {"instance_type": "ml.c5.2xlarge", "instance_count": 3, "data_capture_percent": 5}},
            # the bundled preprocessing with every setting of its own
            "processing": {"header": True, "label": "units_sold", "seed": 7, "split": {"train": 0.7, "validation": 0.2, "test": 0.1}},
        },
    ]
    return data


@pytest.fixture(scope="session")
def default_config() -> PlatformConfig:
    return load_config(DEFAULT_CONFIG)


@pytest.fixture(scope="session")
def platform(default_config: PlatformConfig, tmp_path_factory: pytest.TempPathFactory) -> SynthesizedPlatform:
    """The default configuration's platform, synthesized once for the whole session."""
    return synthesize(default_config, tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def three_model_platform(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedPlatform:
    config = PlatformConfig.from_mapping(three_model_config_data(), source="three-models")
    return synthesize(config, tmp_path_factory.mktemp("cdk.out.three"))


def resources(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template.get("Resources", {}).items() if v["Type"] == type_}


def tags_of(resource: dict[str, Any]) -> dict[str, str]:
    """A template resource's ``Tags`` (a list of ``Key``/``Value``) as a dict."""
    return {t["Key"]: t["Value"] for t in resource["Properties"].get("Tags", [])}


def load_example(name: str) -> ModuleType:
    """``examples/<name>/app.py`` as a module of its own name (``<name>_example``): the repository's root
    app.py is already importable as ``app``."""
    module_name = f"{name}_example"
    spec = importlib.util.spec_from_file_location(module_name, REPO / "examples" / name / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
