"""Preventive guardrails: IAM conditions that let a role create SageMaker jobs, models and endpoint
configurations only inside the platform's network and encryption, and the deny statements that enforce
the same for every principal of an account (the CloudFormation execution policy, the organization's
service control policy).

Which condition keys SageMaker evaluates for which create action is AWS's Service Authorization
Reference, "Actions defined by Amazon SageMaker AI"
(https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemakerai.html);
``tests/test_iam_reference.py`` checks every key used here against it. A key missing from a request
makes a condition on it false, so an ``Allow`` with these conditions refuses a request that leaves the
setting out, not only one that sets it differently.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from mlops_constructs._iam import Statement

DEPLOYS_TO_TAG = "mlops:deploys-to"
"""The tag on every role and CodeBuild project of the tooling account that deploys stacks into an account (a stage's,
or the tooling account's own: the platform pipeline's self-mutation): the account it deploys to, or
:data:`EVERY_STAGE_ACCOUNT`. The tooling account's service control policy
(``python -m stacks.guardrails --tooling``) lets only principals so tagged deploy to production, and only
CloudFormation tag them."""
EVERY_STAGE_ACCOUNT = "all"
"""The :data:`DEPLOYS_TO_TAG` value of a pipeline's role, which deploys (or starts the deployments) to every stage."""
PIPELINE_ARTIFACTS = "artifacts"
"""The :data:`DEPLOYS_TO_TAG` value of a role or CodeBuild project that writes what a pipeline deploys: a synth build,
a source action, the platform pipeline's publishing of the tested source. It deploys nothing itself, but what it writes
is deployed, so the tooling account's service control policy guards it as it guards the deployers (only pipelines start
its builds, only CloudFormation passes, trusts or widens its role)."""
ARTIFACT_WRITERS = (EVERY_STAGE_ACCOUNT, PIPELINE_ARTIFACTS)
"""The :data:`DEPLOYS_TO_TAG` values of the principals that may change objects in a pipeline's artifact or source bucket
(``mlops_constructs._buckets.objects_changed_only_by``): the pipelines' own roles and the roles that write artifacts."""
BOOTSTRAP_ROLE_PREFIX = "cdk-hnb659fds"
"""The CDK bootstrap roles' name prefix with CDK's default qualifier, which the platform's accounts are bootstrapped
with: ``cdk-hnb659fds-<kind>-role-<account>-<region>``."""

GUARDED_KEYS: dict[str, tuple[str, ...]] = {
    # action: the guardrail keys SageMaker evaluates for it (Service Authorization Reference)
    "CreateTrainingJob": ("VpcSubnets", "VpcSecurityGroupIds", "VolumeKmsKey", "OutputKmsKey", "NetworkIsolation", "InterContainerTrafficEncryption"),
    "CreateProcessingJob": ("VpcSubnets", "VpcSecurityGroupIds", "VolumeKmsKey", "OutputKmsKey", "NetworkIsolation", "InterContainerTrafficEncryption"),
    "CreateHyperParameterTuningJob": ("VpcSubnets", "VpcSecurityGroupIds", "VolumeKmsKey", "OutputKmsKey", "NetworkIsolation", "InterContainerTrafficEncryption"),
    "CreateTransformJob": ("VolumeKmsKey", "OutputKmsKey"),
    "CreateModel": ("VpcSubnets", "VpcSecurityGroupIds", "NetworkIsolation"),
    # An endpoint configuration has no VPC of its own (the model has); a serverless one has no volume.
    "CreateEndpointConfig": ("VolumeKmsKey",),
}
"""For each SageMaker create action the platform's roles call, the condition keys that pin it inside
the platform: ``sagemaker:<key>``."""

OTHER_COMPUTE: dict[str, tuple[str, ...]] = {
    # Other ways to run compute or keep data in SageMaker, which the platform does not use: the account-wide denials
    # hold them to a VPC and the account's keys too (the keys each has in the Service Authorization Reference; a
    # pattern stands for every action it matches, all of which have the keys). Only settings every request of the
    # action carries when it is made safely: not the Update actions (an update that leaves the network or keys
    # unchanged may not carry them), not CreateMonitoringSchedule (one that names a job definition carries none; the
    # definitions are held here), not a labeling job's volume key (only automated labeling has a volume).
    "Create*JobDefinition": ("VpcSubnets", "VpcSecurityGroupIds", "VolumeKmsKey", "OutputKmsKey"),  # Model Monitor's four kinds
    "CreateAutoMLJob*": ("VpcSubnets", "VpcSecurityGroupIds", "VolumeKmsKey", "OutputKmsKey"),
    "CreateCluster": ("VpcSubnets", "VpcSecurityGroupIds"),  # HyperPod
    "CreateLabelingJob": ("OutputKmsKey",),
}
"""SageMaker create actions (or patterns of them) the account-wide denials also cover, with the keys they carry;
:data:`GUARDED_KEYS`' own conditions (an allow's) do not take them. Kept short: an SCP holds 5,120 characters."""

_NETWORK_KEYS = ("VpcSubnets", "VpcSecurityGroupIds")
_KEY_KEYS = ("VolumeKmsKey", "OutputKmsKey")
_FLAG_KEYS = ("NetworkIsolation", "InterContainerTrafficEncryption")


def inside_guardrails(
    actions: Iterable[str],
    *,
    subnet_ids: Sequence[str],
    security_group_ids: Sequence[str],
    kms_key_arn: str,
    network_isolation: bool = True,
) -> dict[str, Any]:
    """The ``Condition`` of an ``Allow`` on ``actions`` (``sagemaker:CreateTrainingJob``...): the request
    must name exactly the platform's ``subnet_ids`` and ``security_group_ids``, encrypt volumes and
    outputs with ``kms_key_arn``, encrypt traffic between the containers and (``network_isolation``)
    isolate them. Without ``network_isolation`` the request may isolate or not; every other condition stays.

    Only keys that every one of ``actions`` supports are used (a key an action does not have would
    refuse it outright); raises ``ValueError`` for an action without a guardrail entry.
    """
    names = [a.split(":", 1)[1] for a in actions]
    unknown = [n for n in names if n not in GUARDED_KEYS]
    if unknown:
        raise ValueError(f"inside_guardrails: no guardrail keys known for {', '.join(unknown)}; known: {', '.join(GUARDED_KEYS)}")
    keys = [k for k in GUARDED_KEYS[names[0]] if all(k in GUARDED_KEYS[n] for n in names[1:])]
    conditions: dict[str, dict[str, Any]] = {}
    for key in keys:
        name = f"sagemaker:{key}"
        if key in _NETWORK_KEYS:
            values = list(subnet_ids if key == "VpcSubnets" else security_group_ids)
            # ForAllValues is true for a request without the key: the Null test requires it.
            conditions.setdefault("ForAllValues:StringEquals", {})[name] = values
            conditions.setdefault("Null", {})[name] = "false"
        elif key in _KEY_KEYS:
            conditions.setdefault("ArnEquals", {})[name] = kms_key_arn
        elif key in _FLAG_KEYS and (network_isolation or key != "NetworkIsolation"):
            conditions.setdefault("Bool", {})[name] = "true"
    return conditions


def account_wide_denials(sid_prefix: str = "", *, only: Iterable[str] | None = None, isolation_optional: Iterable[str] = ()) -> list[Statement]:
    """``Deny`` statements that hold for every principal of an account, whatever its other permissions:
    no SageMaker job, model or endpoint configuration outside a VPC or without a KMS key of the
    account itself (``${aws:PrincipalAccount}``), nor the other compute of :data:`OTHER_COMPUTE` outside a VPC or
    without keys, no notebook instance or Studio domain with direct internet access, no domain switched to it.

    They name no resource of the platform (they go where those are not known: the CloudFormation
    execution policy, an organization's SCP), so they check that a setting is there, and that a key
    belongs to the account, not that it is the platform's own. ``only``: keep just these actions
    (``sagemaker:CreateModel``...) and the statements that name one of them. ``isolation_optional``: actions
    (``sagemaker:CreateProcessingJob``...) left out of the network isolation denial, for a platform
    whose configuration runs such a job without isolation.
    """
    statements = _account_wide_denials(sid_prefix, frozenset(isolation_optional))
    if only is None:
        return statements
    kept = set(only)
    return [{**s, "Action": [a for a in s["Action"] if a in kept]} for s in statements if kept & set(s["Action"])]


def _account_wide_denials(sid_prefix: str, isolation_optional: frozenset[str] = frozenset()) -> list[Statement]:
    sagemaker = "sagemaker:"
    own_keys = "arn:*:kms:*:${aws:PrincipalAccount}:key/*"  # a policy variable: the caller's own account
    in_vpc = [f"{sagemaker}{a}" for a, keys in GUARDED_KEYS.items() if "VpcSubnets" in keys]
    with_volume_key = [f"{sagemaker}{a}" for a, keys in GUARDED_KEYS.items() if "VolumeKmsKey" in keys and a != "CreateEndpointConfig"]
    with_output_key = [f"{sagemaker}{a}" for a, keys in GUARDED_KEYS.items() if "OutputKmsKey" in keys]
    other_in_vpc = [f"{sagemaker}{a}" for a, keys in OTHER_COMPUTE.items() if "VpcSubnets" in keys]
    other_volume_key = [f"{sagemaker}{a}" for a, keys in OTHER_COMPUTE.items() if "VolumeKmsKey" in keys]
    other_output_key = [f"{sagemaker}{a}" for a, keys in OTHER_COMPUTE.items() if "OutputKmsKey" in keys]
    isolated = [f"{sagemaker}{a}" for a, keys in GUARDED_KEYS.items() if "NetworkIsolation" in keys and f"{sagemaker}{a}" not in isolation_optional]
    return [
        _deny(f"{sid_prefix}SageMakerOnlyInAVpc", in_vpc + other_in_vpc, {"Null": {"sagemaker:VpcSubnets": "true"}}),
        _deny(f"{sid_prefix}SageMakerOnlyWithSecurityGroups", in_vpc + other_in_vpc, {"Null": {"sagemaker:VpcSecurityGroupIds": "true"}}),
        _deny(f"{sid_prefix}SageMakerVolumesEncrypted", with_volume_key + other_volume_key, {"Null": {"sagemaker:VolumeKmsKey": "true"}}),
        # A serverless endpoint has no volume to encrypt: an endpoint configuration needs a volume key
        # unless it is serverless.
        _deny(f"{sid_prefix}EndpointVolumesEncrypted", [f"{sagemaker}CreateEndpointConfig"],
              {"Null": {"sagemaker:VolumeKmsKey": "true", "sagemaker:ServerlessMemorySize": "true"}}),
        _deny(f"{sid_prefix}SageMakerOutputsEncrypted", with_output_key + other_output_key, {"Null": {"sagemaker:OutputKmsKey": "true"}}),
        _deny(f"{sid_prefix}SageMakerKeysOfThisAccount", with_volume_key, {"ArnNotLikeIfExists": {"sagemaker:VolumeKmsKey": own_keys}}),
        # Only a key that is there: a serverless endpoint configuration has none (EndpointVolumesEncrypted lets it
        # through), and ...IfExists, like a plain ArnNotLike, would deny a request without the key.
        _deny(f"{sid_prefix}EndpointKeysOfThisAccount", [f"{sagemaker}CreateEndpointConfig"],
              {"ArnNotLike": {"sagemaker:VolumeKmsKey": own_keys}, "Null": {"sagemaker:VolumeKmsKey": "false"}}),
        _deny(f"{sid_prefix}SageMakerOutputKeysOfThisAccount", with_output_key, {"ArnNotLikeIfExists": {"sagemaker:OutputKmsKey": own_keys}}),
        _deny(f"{sid_prefix}SageMakerNetworkIsolation", isolated, {"BoolIfExists": {"sagemaker:NetworkIsolation": "false"}}),
        _deny(f"{sid_prefix}NotebooksWithoutInternet", [f"{sagemaker}CreateNotebookInstance"],
              {"StringNotEqualsIfExists": {"sagemaker:DirectInternetAccess": "Disabled"}}),
        _deny(f"{sid_prefix}NotebooksInAVpc", [f"{sagemaker}CreateNotebookInstance"], {"Null": {"sagemaker:VpcSubnets": "true"}}),
        _deny(f"{sid_prefix}StudioWithoutInternet", [f"{sagemaker}CreateDomain"],
              {"StringNotEqualsIfExists": {"sagemaker:AppNetworkAccessType": "VpcOnly"}}),
        # A VpcOnly domain switched to the internet afterwards (an update that leaves it out is not refused).
        _deny(f"{sid_prefix}StudioStaysWithoutInternet", [f"{sagemaker}UpdateDomain"],
              {"StringEquals": {"sagemaker:AppNetworkAccessType": "PublicInternetOnly"}}),
    ]


def _deny(sid: str, actions: Sequence[str], condition: dict[str, Any]) -> Statement:
    return {"Sid": sid, "Effect": "Deny", "Action": sorted(actions), "Resource": "*", "Condition": condition}
