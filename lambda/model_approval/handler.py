"""Release the model package a reviewer approved, and roll back when the released one is rejected.

Invoked by EventBridge with ``SageMaker Model Package State Change`` events of one model package
group. The SSM parameter ``APPROVED_MODEL_PARAMETER`` holds the ARN of the package that should be
deployed; the release pipeline ``RELEASE_PIPELINE_NAME`` is started with the pipeline variable
``ModelPackageArn`` set to it.

Decisions (the ``action`` returned and logged):

- ``released``: an Approved package that the registry still reports as Approved, not yet released.
- ``already-released``: the same approval again (EventBridge delivers at least once and SageMaker may
  send several events per change): the parameter already holds it, so no second pipeline start.
- ``rolled-back``: the released package was rejected; the newest other Approved package is released.
- ``withdrawn``: the released package was rejected and no other is approved; the parameter is set to
  ``none`` (:data:`WITHDRAWN`), no pipeline starts and an alert is published.
- ``ignored``: anything else (another group, PendingManualApproval, a rejection of a package that is
  not released, an event the registry no longer agrees with, an update of an Approved package that did
  not change its approval, or an approval older than the last release decision).

SageMaker sends the event for every change of a package, with its current status (an edit of an approved
package's metadata or lifecycle arrives as ``Approved`` with ``UpdatedModelPackageFields`` naming what
changed), possibly several per change, and EventBridge does not keep them in order
(https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html). So an
``Approved`` event releases its package only if its approval changed (``ModelApprovalStatus`` among the
updated fields, or none listed, as when the package is registered approved) and it happened no earlier than
the event behind the last decision, whose time the parameter's description keeps: the later of two approvals
stays released whatever order their events arrive in.

Ordering keeps every step retryable: the parameter is written only after the package is verified and
the pipeline start succeeded, so a failed start leaves the parameter as it was and the retried event
takes the same decision. A start that succeeded before a failed write is sent again on retry with the same
request token (the event's id and the package's version), which CodePipeline answers with the execution it
already started.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent
from botocore.config import Config
from botocore.exceptions import ClientError

logger = Logger(service="model-approval")

SOURCE = "aws.sagemaker"
DETAIL_TYPE = "SageMaker Model Package State Change"
PIPELINE_VARIABLE = "ModelPackageArn"
APPROVED, REJECTED = "Approved", "Rejected"
_TOKEN = re.compile(r"[a-zA-Z0-9-]{1,100}")
"""An event id that can make the release's ``clientRequestToken`` (1-128 of ``[a-zA-Z0-9-]``, with ``-<version>``):
https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_StartPipelineExecution.html."""
REGISTRATION_WINDOW = timedelta(minutes=15)
"""How close to a package's creation an approved event without ``UpdatedModelPackageFields`` must be to count as its
registration (a package created approved) when another package is released. AWS does not document when the field is
left out (https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html): should an edit
of an older approved package ever arrive without it, that package must not replace the released one."""
MODEL_PACKAGE_ARN = re.compile(
    r"arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/(?P<group>[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62})/(?P<version>\d+)"
)
# Standard retry mode: exponential backoff with jitter on throttling and transient errors. What still
# fails is raised, so that Lambda retries the event and finally sends it to the dead-letter queue.
BOTO_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 5})
# The parameter's description names the time of the event behind the decision that wrote it.
DECIDED_BY = "Written by the model approval function for the event of {time}"
WITHDRAWN = "none"
"""The parameter's value once the released package was rejected and no other is approved. The parameter is not
deleted: SSM asks to wait 30 seconds before creating a parameter of a deleted one's name
(https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DeleteParameter.html), so an approval just after
a withdrawal could fail its write after starting the pipeline, and start it again on retry; and the withdrawal's
event time stays in the description, so an older approval delivered late does not release after it."""
DECIDED_AT = re.compile(r"for the event of (\S+)$")


@dataclass(frozen=True)
class Settings:
    group: str
    parameter: str
    pipeline: str
    release_role_arn: str | None
    alert_topic_arn: str | None

    @classmethod
    def from_environment(cls) -> Settings:
        missing = [n for n in ("MODEL_PACKAGE_GROUP_NAME", "APPROVED_MODEL_PARAMETER", "RELEASE_PIPELINE_NAME") if not os.environ.get(n)]
        if missing:
            raise RuntimeError(f"missing environment variables: {', '.join(missing)}")
        return cls(
            group=os.environ["MODEL_PACKAGE_GROUP_NAME"],
            parameter=os.environ["APPROVED_MODEL_PARAMETER"],
            pipeline=os.environ["RELEASE_PIPELINE_NAME"],
            release_role_arn=os.environ.get("RELEASE_ROLE_ARN") or None,
            alert_topic_arn=os.environ.get("ALERT_TOPIC_ARN") or None,
        )


@dataclass(frozen=True)
class StateChange:
    """What an event says happened to one model package."""

    group: str
    arn: str
    version: int
    status: str
    updated_fields: tuple[str, ...] | None = None
    """``UpdatedModelPackageFields``: what the change updated (``None``: not listed, as when a package is created)."""
    time: datetime | None = None
    """When the change happened (the event's ``time``, whole seconds)."""
    event_id: str | None = None
    """The event's ``id``: the same for every delivery and retry of one event."""


def parse_event(event: Any) -> StateChange:
    """Validate the event before anything else happens; raise ValueError naming what is wrong."""
    if not isinstance(event, dict):
        raise ValueError(f"event must be an EventBridge event object, got {type(event).__name__}")
    change = EventBridgeEvent(event)
    if event.get("source") != SOURCE:
        raise ValueError(f"event source must be {SOURCE!r}, got {event.get('source')!r}")
    if event.get("detail-type") != DETAIL_TYPE:
        raise ValueError(f"event detail-type must be {DETAIL_TYPE!r}, got {event.get('detail-type')!r}")
    # EventBridgeEvent.detail indexes the event: a missing detail would raise KeyError, not this ValueError.
    detail = change.get("detail")
    if not isinstance(detail, dict):
        raise ValueError(f"event detail must be an object, got {type(detail).__name__ if 'detail' in event else 'no detail'}")
    fields = ("ModelPackageGroupName", "ModelPackageArn", "ModelPackageVersion", "ModelApprovalStatus")
    missing = [f for f in fields if detail.get(f) in (None, "")]
    if missing:
        raise ValueError(f"event detail is missing {', '.join(missing)}")
    arn = detail["ModelPackageArn"]
    match = MODEL_PACKAGE_ARN.fullmatch(arn) if isinstance(arn, str) else None
    if match is None:
        raise ValueError(f"detail.ModelPackageArn is not a model package ARN: {arn!r}")
    version = detail["ModelPackageVersion"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise ValueError(f"detail.ModelPackageVersion must be an integer, got {version!r}")
    for name in ("ModelPackageGroupName", "ModelApprovalStatus"):
        if not isinstance(detail[name], str):
            raise ValueError(f"detail.{name} must be a string, got {detail[name]!r}")
    if match["group"] != detail["ModelPackageGroupName"] or int(match["version"]) != version:
        raise ValueError(
            f"detail.ModelPackageArn {arn!r} does not belong to group {detail['ModelPackageGroupName']!r} version {version}"
        )
    updated = detail.get("UpdatedModelPackageFields")
    if updated is not None and (not isinstance(updated, list) or not all(isinstance(f, str) for f in updated)):
        raise ValueError(f"detail.UpdatedModelPackageFields must be a list of field names, got {updated!r}")
    time = event.get("time")
    try:
        when = datetime.fromisoformat(time.replace("Z", "+00:00")) if isinstance(time, str) else None
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise ValueError(f"event time must be an ISO 8601 time with a zone, got {time!r}")
    return StateChange(group=detail["ModelPackageGroupName"], arn=arn, version=version, status=detail["ModelApprovalStatus"],
                       updated_fields=None if updated is None else tuple(updated), time=when,
                       event_id=event["id"] if isinstance(event.get("id"), str) and _TOKEN.fullmatch(event["id"]) else None)


class Releaser:
    """Applies one state change to the released-model parameter and the release pipeline."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sagemaker = boto3.client("sagemaker", config=BOTO_CONFIG)
        self.ssm = boto3.client("ssm", config=BOTO_CONFIG)

    def decide(self, change: StateChange) -> dict[str, Any]:
        if change.group != self.settings.group:
            return self._result("ignored", change, None, None, f"event is for group {change.group!r}")
        released, decided = self._released()
        if change.status == APPROVED:
            return self._on_approved(change, released, decided)
        if change.status == REJECTED:
            return self._on_rejected(change, released)
        return self._result("ignored", change, released, released, f"status {change.status} needs no action")

    def _on_approved(self, change: StateChange, released: str | None, decided: datetime | None) -> dict[str, Any]:
        if change.updated_fields and "ModelApprovalStatus" not in change.updated_fields:
            fields = ", ".join(change.updated_fields)
            return self._result("ignored", change, released, released, f"an update of {fields}, not of the approval")
        package = self._describe(change.arn)
        current = package["ModelApprovalStatus"]
        if current != APPROVED:
            return self._result("ignored", change, released, released, f"the registry now says {current}")
        if not change.updated_fields and released not in (None, change.arn) and change.time is not None:
            created = package.get("CreationTime")
            if isinstance(created, datetime) and abs(change.time - created) > REGISTRATION_WINDOW:
                # Told, not only logged: should AWS ever leave the field out of a real approval, a person re-approves.
                self._notify(change, f"Approval not released: {change.group}", (
                    f"Model package {change.arn} (version {change.version}) of group {change.group} is Approved, but its event "
                    f"named no updated field {change.time - created} after the package's creation, so it was not released over "
                    f"{released}. If you meant to release it, set its status to Approved again: that event names "
                    "ModelApprovalStatus."), what="the approval not released")
                return self._result("ignored", change, released, released,
                                    f"an event that names no updated field, {change.time - created} after the package's creation: "
                                    "not its registration, and an approval names ModelApprovalStatus")
        if released == change.arn:
            return self._result("already-released", change, released, released, "the parameter already holds this package")
        # Event times have whole seconds: an approval in the same second as the decision's event counts as later. A
        # withdrawal is a decision too (released is then None).
        if decided is not None and change.time is not None and change.time < decided:
            return self._result("ignored", change, released, released,
                                f"approved before the event of the last decision ({decided.isoformat()}): that decision stands")
        self._release(change.arn, change)
        return self._result("released", change, released, change.arn, "approved")

    def _on_rejected(self, change: StateChange, released: str | None) -> dict[str, Any]:
        if released != change.arn:
            return self._result("ignored", change, released, released, "the rejected package is not the released one")
        current = self._registry_status(change.arn)
        if current != REJECTED:
            return self._result("ignored", change, released, released, f"the registry now says {current}")
        replacement = self._newest_other_approved(change.arn)
        if replacement is not None:
            self._release(replacement, change)
            return self._result("rolled-back", change, released, replacement, "released package rejected; newest other approved package released")
        self._alert(change)
        self._record(WITHDRAWN, change)
        return self._result("withdrawn", change, released, None, "released package rejected and no other package is approved")

    # -- reads ---------------------------------------------------------------------------------------

    def _released(self) -> tuple[str | None, datetime | None]:
        """The released package and the time of the event behind that decision, from the parameter's latest
        version and its description (``None`` when not released, withdrawn, or not written by this function)."""
        latest: dict[str, Any] | None = None
        try:
            # GetParameter leaves the description out; the current version is the history's highest (AWS documents
            # no order of the entries: https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameterHistory.html).
            for page in self.ssm.get_paginator("get_parameter_history").paginate(Name=self.settings.parameter):
                for entry in page.get("Parameters") or []:
                    if latest is None or entry["Version"] > latest["Version"]:
                        latest = entry
        except ClientError as err:
            if err.response["Error"]["Code"] == "ParameterNotFound":
                return None, None
            raise
        if latest is None:
            return None, None
        match = DECIDED_AT.search(latest.get("Description") or "")
        try:
            decided = datetime.fromisoformat(match[1]) if match else None
        except ValueError:
            decided = None
        value = None if latest["Value"] == WITHDRAWN else latest["Value"]
        return value, decided if decided is not None and decided.tzinfo is not None else None

    def _describe(self, arn: str) -> dict[str, Any]:
        return self.sagemaker.describe_model_package(ModelPackageName=arn)

    def _registry_status(self, arn: str) -> str:
        return self._describe(arn)["ModelApprovalStatus"]

    def _newest_other_approved(self, excluded: str) -> str | None:
        pages = self.sagemaker.get_paginator("list_model_packages").paginate(
            ModelPackageGroupName=self.settings.group,
            ModelPackageType="Versioned",  # the versions of the group (the API's documented default is Unversioned)
            ModelApprovalStatus=APPROVED,
            SortBy="CreationTime",
            SortOrder="Descending",
        )
        for page in pages:
            for summary in page["ModelPackageSummaryList"]:
                if summary["ModelPackageArn"] != excluded:
                    return summary["ModelPackageArn"]
        return None

    # -- writes --------------------------------------------------------------------------------------

    def _release(self, arn: str, change: StateChange) -> None:
        # The event's id as the request token: a retry of the same event (the SDK's after a lost answer, or Lambda's
        # after a failed write of the parameter) starts no second execution.
        # With the version released: a retry that decides on another package (the registry changed meanwhile) is a
        # request of its own.
        token = {"clientRequestToken": f"{change.event_id}-{arn.rsplit('/', 1)[1]}"[:128]} if change.event_id else {}
        self._pipeline_client().start_pipeline_execution(
            name=self.settings.pipeline,
            variables=[{"name": PIPELINE_VARIABLE, "value": arn}],
            **token,
        )
        self._record(arn, change)

    def _record(self, value: str, change: StateChange) -> None:
        when = change.time.isoformat() if change.time is not None else "unknown"
        self.ssm.put_parameter(Name=self.settings.parameter, Value=value, Type="String", Overwrite=True,
                               Description=DECIDED_BY.format(time=when))

    def _pipeline_client(self) -> Any:
        if self.settings.release_role_arn is None:
            return boto3.client("codepipeline", config=BOTO_CONFIG)
        credentials = boto3.client("sts", config=BOTO_CONFIG).assume_role(
            RoleArn=self.settings.release_role_arn, RoleSessionName="model-approval"
        )["Credentials"]
        return boto3.client(
            "codepipeline",
            config=BOTO_CONFIG,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )

    def _alert(self, change: StateChange) -> None:
        self._notify(change, f"Model withdrawn: {change.group}", (
            f"Model package {change.arn} (version {change.version}) of group {change.group} was rejected "
            "while released, and no other package of the group is approved. The approved-model parameter "
            f"{self.settings.parameter} was set to {WITHDRAWN}; the deployed endpoints keep serving it until a new "
            "package is approved."
        ))

    def _notify(self, change: StateChange, subject: str, message: str, what: str = "the withdrawal") -> None:
        if self.settings.alert_topic_arn is None:
            logger.warning(f"no ALERT_TOPIC_ARN: {what} is only logged", extra={"model_package_arn": change.arn})
            return
        boto3.client("sns", config=BOTO_CONFIG).publish(TopicArn=self.settings.alert_topic_arn, Subject=subject[:100], Message=message)

    def _result(
        self, action: str, change: StateChange, previous: str | None, released: str | None, reason: str
    ) -> dict[str, Any]:
        result = {
            "action": action,
            "model_package_arn": change.arn,
            "model_package_group": change.group,
            "model_package_version": change.version,
            "approval_status": change.status,
            "previous_arn": previous,
            "released_arn": released,
            "reason": reason,
        }
        # Powertools drops keys whose value is None; an absent ARN is logged as "none" so that every
        # decision line carries the same fields.
        logger.info("model approval decision", extra={k: "none" if v is None else v for k, v in result.items()})
        return result


@logger.inject_lambda_context(clear_state=True)
def handler(event: Any, context: Any) -> dict[str, Any]:
    change = parse_event(event)
    return Releaser(Settings.from_environment()).decide(change)
