"""SageMaker instance types the platform cannot use as it is built: those with local instance storage.

Every job and endpoint of the platform encrypts its volumes with the platform's KMS key, and its guardrails
require it. SageMaker refuses a volume key for instance types with local (NVMe) instance storage, which it
encrypts with a hardware module instead ("VolumeKmsKeyId" in
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ResourceConfig.html and
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateEndpointConfig.html), so such a type
would fail at its first job or deployment. The configuration and the constructs refuse them up front.
"""

from __future__ import annotations

import difflib
import re

from mlops_constructs._sagemaker_catalog import sagemaker_instance_types
from mlops_constructs.errors import PropsError

# The GPU and accelerator families with instance store volumes, besides the "d" families: ml.g5, ml.g6 and
# ml.g6e, ml.g7e, ml.p5*, ml.p6-b200, ml.p6-b300 and ml.p6e-gb200, ml.trn1 and ml.trn2, ml.dl1 (EC2's
# "Instance store specifications" of accelerated computing instances,
# https://docs.aws.amazon.com/ec2/latest/instancetypes/ac.html#ac_instance-store).
_LOCAL_STORAGE = re.compile(r"ml\.([a-z]+\d+[a-z]*d[a-z]*|g5|g6e?|g7e|p5[a-z]*|p6[a-z]*-[a-z0-9]+|trn\d+[a-z]*|dl1)\.[a-z0-9]+")

LOCAL_STORAGE_REASON = (
    "must be an instance type without local (NVMe) instance storage: the platform encrypts every volume with its "
    "own key, and SageMaker refuses a volume key for instance types with local storage (ml.*d.*, ml.g4dn, ml.g5, "
    "ml.g6, ml.g7e, ml.p3dn, ml.p4d, ml.p5, ml.p6, ml.trn1 ...)"
)
"""What an instance type with local storage is refused with (VolumeKmsKeyId in
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ResourceConfig.html)."""


def has_local_storage(instance_type: str) -> bool:
    """Whether a SageMaker instance type has local NVMe instance storage, on which SageMaker refuses a volume
    KMS key (it encrypts those volumes with a hardware module): the ``d`` families (``ml.m5d``, ``ml.c6id``,
    ``ml.g4dn``, ``ml.p3dn``, ``ml.p4d``...), ``ml.g5``, ``ml.g6``, ``ml.g7e``, ``ml.p5``, ``ml.p6``, ``ml.trn1``, ``ml.dl1``."""
    return bool(_LOCAL_STORAGE.fullmatch(instance_type))


def instance_type_problem(value: object, shape: str, job: str) -> str | None:
    """Why ``value`` is not an instance type the platform can run a ``job`` on (``None`` when it is): one of the
    names SageMaker's API accepts for the enum ``shape`` (``TrainingInstanceType``, ``ProcessingInstanceType``,
    ``ProductionVariantInstanceType``, ``TransformInstanceType``; botocore's model, which SageMaker validates the
    same way), and without local storage. Each kind of job has its own list: batch transform takes no ``ml.t3``,
    ``ml.r5`` or Graviton types, for instance, so a name SageMaker refuses fails here, not at the first job."""
    allowed = sagemaker_instance_types(shape)
    if value not in allowed:
        close = difflib.get_close_matches(str(value), [t for t in allowed if not has_local_storage(t)], n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f", e.g. {allowed[0]}"
        return f"must be a SageMaker {job} instance type name (ml.<family>.<size>){hint}"
    if has_local_storage(str(value)):
        return LOCAL_STORAGE_REASON
    return None


def check_instance_type(construct: str, prop: str, value: object, shape: str, job: str) -> None:
    """:func:`instance_type_problem` as a construct's property check: a ``PropsError`` naming the property."""
    problem = instance_type_problem(value, shape, job)
    if problem:
        raise PropsError(construct, prop, value, problem)
