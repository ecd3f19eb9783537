"""Independent checks of the Step Functions state machines a synthesized platform contains.

The rules come from AWS, not from this project's constructs:

* the Amazon States Language, as npm's ``asl-validator`` implements it (``node_modules/.bin``);
* each Task state's ``Parameters`` (``Arguments`` in JSONata) against the input shape botocore ships for
  the API the task calls: unknown keys at every level, missing required members, literal types, enums,
  lengths, value ranges and patterns.

A template's ``DefinitionString`` is a ``Fn::Join`` of strings and references; :class:`Renderer` turns it
into JSON with well-formed stand-ins for what the references name (an ARN of the right service, a
``sg-`` id, a queue URL), reading values from the other stacks for ``Fn::GetStackOutput``. A reference
it has no stand-in for raises, so a new kind of reference is noticed, not silently rendered.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
from botocore.model import Shape

REPO = Path(__file__).resolve().parents[2]
STATE_MACHINE = "AWS::StepFunctions::StateMachine"


# --------------------------------------------------------------------------------------------------
# Rendering a template's definition into JSON


class UnknownIntrinsic(KeyError):
    """A reference the renderer has no stand-in for: add one to :data:`_REF` or :data:`_GETATT`."""


@dataclass(frozen=True)
class StackInfo:
    """One synthesized stack: its CloudFormation name, template and environment."""

    name: str
    template: dict[str, Any]
    account: str
    region: str


def _hex(seed: str, length: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:length]


def _uuid(seed: str) -> str:
    h = _hex(seed, 32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _name(props: Mapping[str, Any], key: str, logical_id: str) -> str:
    """The resource's literal name property, else the logical id (as CloudFormation generated names start)."""
    value = props.get(key)
    return value if isinstance(value, str) else logical_id


# Stand-ins for `Ref` by resource type: f(logical_id, properties, stack, partition) -> value.
# What each type's Ref returns is documented per resource in the CloudFormation User Guide
# (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-template-resource-type-ref.html).
_REF = {
    "AWS::SNS::Topic": lambda lid, p, s, part: f"arn:{part}:sns:{s.region}:{s.account}:{_name(p, 'TopicName', lid)}",
    "AWS::SQS::Queue": lambda lid, p, s, part: f"https://sqs.{s.region}.amazonaws.com/{s.account}/{_name(p, 'QueueName', lid)}",
    "AWS::Lambda::Function": lambda lid, p, s, part: _name(p, "FunctionName", lid),
    "AWS::S3::Bucket": lambda lid, p, s, part: _name(p, "BucketName", lid.lower()),
    "AWS::IAM::Role": lambda lid, p, s, part: _name(p, "RoleName", lid),
    "AWS::StepFunctions::StateMachine": lambda lid, p, s, part: f"arn:{part}:states:{s.region}:{s.account}:stateMachine:{_name(p, 'StateMachineName', lid)}",
    "AWS::KMS::Key": lambda lid, p, s, part: _uuid(s.name + lid),
    "AWS::EC2::SecurityGroup": lambda lid, p, s, part: "sg-" + _hex(s.name + lid, 17),
    "AWS::EC2::Subnet": lambda lid, p, s, part: "subnet-" + _hex(s.name + lid, 17),
    "AWS::EC2::VPC": lambda lid, p, s, part: "vpc-" + _hex(s.name + lid, 17),
    "AWS::Events::EventBus": lambda lid, p, s, part: _name(p, "Name", lid),
    "AWS::DynamoDB::Table": lambda lid, p, s, part: _name(p, "TableName", lid),
    "AWS::Logs::LogGroup": lambda lid, p, s, part: _name(p, "LogGroupName", lid),
}


def _role_arn(lid: str, p: Mapping[str, Any], s: StackInfo, part: str) -> str:
    return f"arn:{part}:iam::{s.account}:role/{_name(p, 'RoleName', lid)[:64]}"


_GETATT = {
    ("AWS::IAM::Role", "Arn"): _role_arn,
    ("AWS::SNS::Topic", "TopicArn"): lambda lid, p, s, part: _REF["AWS::SNS::Topic"](lid, p, s, part),
    ("AWS::SNS::Topic", "TopicName"): lambda lid, p, s, part: _name(p, "TopicName", lid),
    ("AWS::SQS::Queue", "Arn"): lambda lid, p, s, part: f"arn:{part}:sqs:{s.region}:{s.account}:{_name(p, 'QueueName', lid)}",
    ("AWS::SQS::Queue", "QueueUrl"): lambda lid, p, s, part: _REF["AWS::SQS::Queue"](lid, p, s, part),
    ("AWS::SQS::Queue", "QueueName"): lambda lid, p, s, part: _name(p, "QueueName", lid),
    ("AWS::Lambda::Function", "Arn"): lambda lid, p, s, part: f"arn:{part}:lambda:{s.region}:{s.account}:function:{_name(p, 'FunctionName', lid)}",
    ("AWS::S3::Bucket", "Arn"): lambda lid, p, s, part: f"arn:{part}:s3:::{_REF['AWS::S3::Bucket'](lid, p, s, part)}",
    ("AWS::KMS::Key", "Arn"): lambda lid, p, s, part: f"arn:{part}:kms:{s.region}:{s.account}:key/{_uuid(s.name + lid)}",
    ("AWS::KMS::Key", "KeyId"): lambda lid, p, s, part: _uuid(s.name + lid),
    ("AWS::EC2::SecurityGroup", "GroupId"): lambda lid, p, s, part: _REF["AWS::EC2::SecurityGroup"](lid, p, s, part),
    ("AWS::StepFunctions::StateMachine", "Arn"): lambda lid, p, s, part: _REF["AWS::StepFunctions::StateMachine"](lid, p, s, part),
    ("AWS::Events::EventBus", "Arn"): lambda lid, p, s, part: f"arn:{part}:events:{s.region}:{s.account}:event-bus/{_name(p, 'Name', lid)}",
    ("AWS::DynamoDB::Table", "Arn"): lambda lid, p, s, part: f"arn:{part}:dynamodb:{s.region}:{s.account}:table/{_name(p, 'TableName', lid)}",
    ("AWS::Logs::LogGroup", "Arn"): lambda lid, p, s, part: f"arn:{part}:logs:{s.region}:{s.account}:log-group:{_name(p, 'LogGroupName', lid)}:*",
}


@dataclass
class Renderer:
    """Renders CloudFormation values of the platform's templates into literal strings.

    ``stacks`` maps CloudFormation stack names to stacks (for ``Fn::GetStackOutput`` and
    ``Fn::ImportValue``). ``overrides`` replaces the stand-in for a ``(resource type, attribute)``, the
    attribute being ``"Ref"`` for a ``Ref``: e.g. a moto-created topic's ARN for every SNS topic.
    """

    stacks: Mapping[str, StackInfo]
    partition: str = "aws"
    overrides: Mapping[tuple[str, str], str] = field(default_factory=dict)

    def render(self, value: Any, stack: StackInfo) -> str:
        if isinstance(value, str):
            return value
        if not isinstance(value, dict) or len(value) != 1:
            raise UnknownIntrinsic(f"{stack.name}: not a string or an intrinsic function: {value!r}")
        ((fn, arg),) = value.items()
        if fn == "Fn::Join":
            separator, parts = arg
            return separator.join(self.render(part, stack) for part in parts)
        if fn == "Ref":
            return self._ref(arg, stack)
        if fn == "Fn::GetAtt":
            logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            return self._resource_value(logical_id, attribute, stack)
        if fn == "Fn::Sub" and isinstance(arg, str):
            # ${Name} is a pseudo parameter or a logical id (Ref), ${Id.Attr} a GetAtt; ${!x} is a literal ${x}.
            def sub(match: re.Match[str]) -> str:
                name = match.group(1)
                if name.startswith("!"):
                    return "${" + name[1:] + "}"
                if "." in name and not name.startswith("AWS::"):
                    logical_id, attribute = name.split(".", 1)
                    return self._resource_value(logical_id, attribute, stack)
                return self._ref(name, stack)

            return re.sub(r"\$\{([^}]+)\}", sub, arg)
        if fn == "Fn::GetStackOutput":
            other = self._stack(arg["StackName"], stack)
            if arg.get("Region", other.region) != other.region:
                raise UnknownIntrinsic(f"{stack.name}: {arg['StackName']} is in {other.region}, not {arg['Region']}")
            return self.render(other.template["Outputs"][arg["OutputName"]]["Value"], other)
        if fn == "Fn::ImportValue":
            export = self.render(arg, stack)
            for other in self.stacks.values():
                for output in other.template.get("Outputs", {}).values():
                    name = output.get("Export", {}).get("Name")
                    if name is not None and self.render(name, other) == export:
                        return self.render(output["Value"], other)
            raise UnknownIntrinsic(f"{stack.name}: no stack exports {export!r}")
        raise UnknownIntrinsic(f"{stack.name}: unsupported intrinsic {fn}: {arg!r}")

    def _stack(self, name: str, referrer: StackInfo) -> StackInfo:
        try:
            return self.stacks[name]
        except KeyError:
            raise UnknownIntrinsic(f"{referrer.name}: references stack {name!r}, which is not among {sorted(self.stacks)}") from None

    def _ref(self, name: str, stack: StackInfo) -> str:
        pseudo = {
            "AWS::Partition": self.partition,
            "AWS::Region": stack.region,
            "AWS::AccountId": stack.account,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack.name,
        }
        if name in pseudo:
            return pseudo[name]
        return self._resource_value(name, "Ref", stack)

    def _resource_value(self, logical_id: str, attribute: str, stack: StackInfo) -> str:
        resource = stack.template.get("Resources", {}).get(logical_id)
        if resource is None:
            raise UnknownIntrinsic(f"{stack.name}: reference to {logical_id}, which is not a resource of the template")
        type_ = resource["Type"]
        if (type_, attribute) in self.overrides:
            return self.overrides[(type_, attribute)]
        props = resource.get("Properties", {})
        make = _REF.get(type_) if attribute == "Ref" else _GETATT.get((type_, attribute))
        if make is None:
            raise UnknownIntrinsic(f"{stack.name}: no stand-in for {type_} {attribute} ({logical_id}); add one")
        return make(logical_id, props, stack, self.partition)

    def definition(self, machine: Mapping[str, Any], stack: StackInfo) -> dict[str, Any]:
        """The state machine resource's definition as JSON, with its substitutions applied."""
        props = machine["Properties"]
        for unsupported in ("Definition", "DefinitionS3Location"):
            if unsupported in props:
                raise UnknownIntrinsic(f"{stack.name}: state machine with {unsupported} is not supported by the renderer")
        text = self.render(props["DefinitionString"], stack)
        for key, value in props.get("DefinitionSubstitutions", {}).items():
            text = text.replace("${" + key + "}", self.render(value, stack))
        return json.loads(text)


@dataclass(frozen=True)
class StateMachine:
    """One state machine of a synthesized platform."""

    template: str
    """The stack path of the template, e.g. ``Dev/Models-1/Training-churn``."""
    logical_id: str
    definition: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{self.template}/{self.logical_id}"


def stacks_of(platform: Any) -> dict[str, StackInfo]:
    """The platform's stacks (a tests.conftest.SynthesizedPlatform) by CloudFormation name."""
    return {
        stack.stack_name: StackInfo(stack.stack_name, platform.templates[path], stack.account, stack.region)
        for path, stack in platform.stacks()
    }


def state_machines(platform: Any, overrides: Mapping[tuple[str, str], str] | None = None) -> list[StateMachine]:
    """Every AWS::StepFunctions::StateMachine in every template of the platform, rendered."""
    stacks = stacks_of(platform)
    renderer = Renderer(stacks, overrides=overrides or {})
    found = []
    for path, stack in platform.stacks():
        info = stacks[stack.stack_name]
        for logical_id, resource in info.template.get("Resources", {}).items():
            if resource["Type"] == STATE_MACHINE:
                found.append(StateMachine(path, logical_id, renderer.definition(resource, info)))
    return found


# --------------------------------------------------------------------------------------------------
# asl-validator


ASL_VALIDATOR = REPO / "node_modules" / ".bin" / "asl-validator"
_VERDICT = re.compile(r'^(?P<mark>[\u2713\u2715]) State machine definition "(?P<path>[^"]+)" is (?:valid|invalid:)', re.M)


def asl_validate(definitions: Mapping[str, Mapping[str, Any]]) -> dict[str, list[str]]:
    """Validate every definition with one run of asl-validator; its errors, one list per definition name.

    The CLI takes ``--json-path`` once per file, prints a verdict line per file and, for an invalid one,
    its errors (``<code>: <message>``) on the following lines.
    """
    if not ASL_VALIDATOR.exists():
        raise FileNotFoundError(f"{ASL_VALIDATOR} is missing: run `make setup`")
    env = dict(os.environ)
    node_bin = REPO / "tools" / "node" / "node_modules" / ".bin"
    if node_bin.is_dir():  # Node 24 when the system's is older (see the Makefile)
        env["PATH"] = f"{node_bin}{os.pathsep}{env.get('PATH', '')}"
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for i, (name, definition) in enumerate(definitions.items()):
            paths[str(Path(tmp) / f"definition-{i}.json")] = name
            Path(tmp, f"definition-{i}.json").write_text(json.dumps(definition))
        args = [str(ASL_VALIDATOR)]
        for path in paths:
            args += ["--json-path", path]
        proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    if proc.returncode not in (0, 1) or "Validator exception" in proc.stderr:
        raise RuntimeError(f"asl-validator failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    output = proc.stdout + "\n" + proc.stderr
    errors: dict[str, list[str]] = {}
    verdicts = list(_VERDICT.finditer(output))
    for verdict, following in zip(verdicts, [*verdicts[1:], None], strict=True):
        body = output[verdict.end() : following.start() if following else len(output)]
        name = paths[verdict["path"]]
        errors[name] = [] if verdict["mark"] == "\u2713" else [line.strip() for line in body.splitlines() if line.strip()]
        if verdict["mark"] == "\u2715" and not errors[name]:
            errors[name] = ["invalid, with no error text"]
    missing = set(definitions) - set(errors)
    if missing or proc.returncode != (1 if any(errors.values()) else 0):
        raise RuntimeError(f"asl-validator's output does not account for {sorted(missing)}:\n{proc.stdout}\n{proc.stderr}")
    return errors


# --------------------------------------------------------------------------------------------------
# Task parameters against botocore's API models


@dataclass(frozen=True)
class Finding:
    machine: str
    state: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.machine}: {self.state}: {self.path or '(parameters)'}: {self.message}"


@dataclass(frozen=True)
class Integration:
    """What a Task's Resource calls: a botocore operation, and the parts of its input that Step Functions
    accepts as any JSON value and serializes itself (a message body given as an object)."""

    service: str
    operation: str
    json_payloads: frozenset[tuple[str, ...]] = frozenset()


class UnsupportedResource(ValueError):
    pass


_OPTIMIZED_ARN = re.compile(r"^arn:[a-z-]+:states:::(?P<service>[a-z0-9-]+):(?P<action>[A-Za-z0-9]+)(?P<suffix>\.sync(?::2)?|\.waitForTaskToken)?$")
_SDK_ARN = re.compile(r"^arn:[a-z-]+:states:::aws-sdk:(?P<service>[a-z0-9]+):(?P<action>[A-Za-z0-9]+)(?P<suffix>\.sync(?::2)?|\.waitForTaskToken)?$")

# Optimized integrations this checker knows, with the integration patterns AWS documents for each and the
# members Step Functions takes as JSON (it serializes an object it is given). Their other parameters are
# the API's own. Sources, per service, under https://docs.aws.amazon.com/step-functions/latest/dg/:
# connect-sagemaker.html (the nine APIs; `.sync` on the five job APIs; no `.waitForTaskToken`),
# connect-sns.html, connect-sqs.html (MessageBody given as an object), connect-eventbridge.html (an
# entry's Detail as an object), connect-lambda.html (Payload as an object), connect-stepfunctions.html
# (Input as an object; `.sync`, `.sync:2`, `.waitForTaskToken`).
_SAGEMAKER_JOBS = ("createTrainingJob", "createProcessingJob", "createTransformJob", "createHyperParameterTuningJob", "createLabelingJob")
_OPTIMIZED: dict[tuple[str, str], tuple[Integration, frozenset[str]]] = {
    **{
        ("sagemaker", action): (Integration("sagemaker", action[0].upper() + action[1:]), frozenset({"", ".sync"} if action in _SAGEMAKER_JOBS else {""}))
        for action in (*_SAGEMAKER_JOBS, "createModel", "createEndpoint", "createEndpointConfig", "updateEndpoint")
    },
    ("sns", "publish"): (Integration("sns", "Publish", frozenset({("Message",)})), frozenset({"", ".waitForTaskToken"})),
    ("sqs", "sendMessage"): (Integration("sqs", "SendMessage", frozenset({("MessageBody",)})), frozenset({"", ".waitForTaskToken"})),
    ("events", "putEvents"): (Integration("events", "PutEvents", frozenset({("Entries", "*", "Detail")})), frozenset({"", ".waitForTaskToken"})),
    ("lambda", "invoke"): (Integration("lambda", "Invoke", frozenset({("Payload",)})), frozenset({"", ".waitForTaskToken"})),
    ("states", "startExecution"): (
        Integration("stepfunctions", "StartExecution", frozenset({("Input",)})),
        frozenset({"", ".sync", ".sync:2", ".waitForTaskToken"}),
    ),
}

# aws-sdk:<service>: the service is the AWS SDK's service name in lower case, which botocore names
# differently for a few (https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html).
# AWS SDK integrations support Request Response and `.waitForTaskToken`, not `.sync`.
_SDK_SERVICE_NAMES = {"sfn": "stepfunctions", "eventbridge": "events", "cloudwatchlogs": "logs", "elasticloadbalancingv2": "elbv2"}


def integration(resource: str) -> Integration:
    """The botocore operation a Task's Resource calls. Raises UnsupportedResource for one no rule covers."""
    if m := _SDK_ARN.match(resource):
        if m["suffix"] and m["suffix"] != ".waitForTaskToken":
            raise UnsupportedResource(f"AWS SDK integrations do not support {m['suffix']}")
        service = _SDK_SERVICE_NAMES.get(m["service"], m["service"])
        if service not in _botocore().get_available_services():
            raise UnsupportedResource(f"aws-sdk service {m['service']!r} has no botocore model (add it to _SDK_SERVICE_NAMES)")
        return Integration(service, m["action"][0].upper() + m["action"][1:])
    if m := _OPTIMIZED_ARN.match(resource):
        known = _OPTIMIZED.get((m["service"], m["action"]))
        if known is None:
            raise UnsupportedResource(f"no rule for the optimized integration {m['service']}:{m['action']}; add it with its AWS documentation")
        found, suffixes = known
        if (m["suffix"] or "") not in suffixes:
            raise UnsupportedResource(f"{m['service']}:{m['action']} does not support {m['suffix'] or 'Request Response'}; supported: {sorted(suffixes)}")
        return found
    raise UnsupportedResource(f"unrecognised Task resource {resource!r}")


@cache
def _botocore() -> botocore.session.Session:
    return botocore.session.get_session()


@cache
def _input_shape(service: str, operation: str) -> Shape:
    model = _botocore().get_service_model(service)
    if operation not in model.operation_names:
        raise UnsupportedResource(f"{service} has no operation {operation}")
    return model.operation_model(operation).input_shape


@cache
def _pattern(pattern: str) -> re.Pattern[str] | None:
    """botocore's (Smithy's) pattern, or None when Python cannot compile it (Java-only syntax)."""
    try:
        return re.compile(pattern)
    except re.error:
        return None


_JSONATA = re.compile(r"^\s*\{%.*%\}\s*$", re.S)


def _pascal(name: str) -> str:
    """A member's name as a state machine writes it: in PascalCase, also for APIs whose members are
    camelCase (stepfunctions' own, for one), and a member named ``Equals`` as ``EqualsValue``
    (https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html, "API naming
    conventions"; the PascalCase note is on each optimized integration's page too)."""
    return "EqualsValue" if name == "Equals" else name[:1].upper() + name[1:]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_value(value: Any, shape: Shape, path: str, jsonata: bool, payloads: frozenset[tuple[str, ...]], where: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """(path, message) for each way a literal value breaks its botocore shape."""
    if where in payloads:
        return  # Step Functions serializes whatever JSON it is given
    if jsonata and isinstance(value, str) and _JSONATA.match(value):
        return  # evaluated at run time
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        if not isinstance(value, dict):
            yield path, f"expected an object ({shape.name}), got {type(value).__name__} {value!r:.60}"
            return
        members = {_pascal(name): member for name, member in shape.members.items()}
        present = set()
        for key, member_value in value.items():
            dynamic = not jsonata and key.endswith(".$")
            name = key[:-2] if dynamic else key
            present.add(name)
            member_path = f"{path}.{name}" if path else name
            if name not in members:
                yield member_path, f"unknown parameter for {shape.name}; allowed: {', '.join(sorted(members))}"
                continue
            if dynamic:
                continue  # a JSONPath or intrinsic: its value is known only at run time
            yield from check_value(member_value, members[name], member_path, jsonata, payloads, (*where, name))
        for required in map(_pascal, shape.required_members):
            if required not in present:
                yield f"{path}.{required}" if path else required, f"missing required parameter of {shape.name}"
        return
    if kind == "list":
        if not isinstance(value, list):
            yield path, f"expected a list ({shape.name}), got {type(value).__name__} {value!r:.60}"
            return
        yield from _bounds(len(value), meta, path, "items")
        for i, item in enumerate(value):
            yield from check_value(item, shape.member, f"{path}[{i}]", jsonata, payloads, (*where, "*"))
        return
    if kind == "map":
        if not isinstance(value, dict):
            yield path, f"expected a map ({shape.name}), got {type(value).__name__} {value!r:.60}"
            return
        yield from _bounds(len(value), meta, path, "entries")
        for key, item in value.items():
            dynamic = not jsonata and key.endswith(".$")
            name = key[:-2] if dynamic else key
            yield from check_value(name, shape.key, f"{path}{{key {name!r}}}", jsonata, frozenset(), ())
            if not dynamic:
                yield from check_value(item, shape.value, f"{path}.{name}", jsonata, payloads, (*where, "*"))
        return
    if kind in ("string", "blob"):
        if not isinstance(value, str):
            yield path, f"expected a string, got {type(value).__name__} {value!r:.60}"
            return
        if shape.enum and value not in shape.enum:
            yield path, f"{value!r} is not one of {', '.join(shape.enum)}"
        yield from _bounds(len(value), meta, path, "characters")
        if "pattern" in meta and (compiled := _pattern(meta["pattern"])) is not None and not compiled.search(value):
            # Smithy patterns are not implicitly anchored: search, as the service does
            yield path, f"{value!r} does not match the pattern {meta['pattern']}"
        return
    if kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            yield path, f"expected an integer, got {type(value).__name__} {value!r:.60}"
            return
        yield from _range(value, meta, path)
        return
    if kind in ("float", "double"):
        if not _is_number(value):
            yield path, f"expected a number, got {type(value).__name__} {value!r:.60}"
            return
        yield from _range(value, meta, path)
        return
    if kind == "boolean":
        if not isinstance(value, bool):
            yield path, f"expected a boolean, got {type(value).__name__} {value!r:.60}"
        return
    if kind == "timestamp":
        if not isinstance(value, str) and not _is_number(value):
            yield path, f"expected a timestamp, got {type(value).__name__} {value!r:.60}"
        return
    raise UnsupportedResource(f"{path}: botocore type {kind} is not handled")


def _bounds(length: int, meta: Mapping[str, Any], path: str, unit: str) -> Iterator[tuple[str, str]]:
    if "min" in meta and length < meta["min"]:
        yield path, f"{length} {unit}, fewer than the minimum {meta['min']}"
    if "max" in meta and length > meta["max"]:
        yield path, f"{length} {unit}, more than the maximum {meta['max']}"


def _range(value: float, meta: Mapping[str, Any], path: str) -> Iterator[tuple[str, str]]:
    if "min" in meta and value < meta["min"]:
        yield path, f"{value} is below the minimum {meta['min']}"
    if "max" in meta and value > meta["max"]:
        yield path, f"{value} is above the maximum {meta['max']}"


def task_states(definition: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, dict[str, Any], str]]:
    """(state path, state, query language) for each Task, including those in Parallel branches and Maps."""
    language = definition.get("QueryLanguage", "JSONPath")
    for name, state in definition.get("States", {}).items():
        state_path = f"{prefix}{name}"
        state_language = state.get("QueryLanguage", language)
        if state.get("Type") == "Task":
            yield state_path, state, state_language
        for i, branch in enumerate(state.get("Branches", [])):
            yield from task_states({"QueryLanguage": state_language, **branch}, f"{state_path}/Branch{i}/")
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                yield from task_states({"QueryLanguage": state_language, **state[key]}, f"{state_path}/{key}/")


def check_tasks(machine: str, definition: Mapping[str, Any]) -> tuple[list[Finding], int]:
    """Findings of every Task state's parameters against its API, and how many Task states were checked."""
    findings = []
    checked = 0
    for state_path, state, language in task_states(definition):
        checked += 1
        resource = state.get("Resource", "")
        if resource.startswith("arn:") and ":states:::" not in resource:
            continue  # a Lambda function or an activity: its parameters are the function's own input
        jsonata = language == "JSONata"
        key = "Arguments" if jsonata else "Parameters"
        other = "Parameters" if jsonata else "Arguments"
        if other in state:
            findings.append(Finding(machine, state_path, other, f"{other} is not allowed in a {language} state; use {key}"))
        try:
            target = integration(resource)
            shape = _input_shape(target.service, target.operation)
        except UnsupportedResource as err:
            findings.append(Finding(machine, state_path, "Resource", f"{resource}: {err}"))
            continue
        parameters = state.get(key, {})
        if jsonata and isinstance(parameters, str) and _JSONATA.match(parameters):
            continue
        for path, message in check_value(parameters, shape, "", jsonata, target.json_payloads, ()):
            findings.append(Finding(machine, state_path, path, f"{target.service}.{target.operation}: {message}"))
    return findings, checked


def check_all(machines: Iterable[StateMachine]) -> tuple[list[Finding], int]:
    findings, checked = [], 0
    for machine in machines:
        found, count = check_tasks(machine.name, machine.definition)
        findings += found
        checked += count
    return findings, checked
