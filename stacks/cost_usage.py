"""What a synthesized template keeps running, in billable units per month: the template half of the cost
report (``stacks.cost``). Nothing here knows a price; ``stacks.cost_prices`` turns these units into dollars.

Read generically from CloudFormation resources, so that any change to the templates (fewer interface
endpoints, fewer zones, a serverless variant, another drift schedule) shows in the report:

- ``AWS::EC2::VPCEndpoint`` of type ``Interface``: one endpoint-zone-hour per subnet it is in, every hour;
- ``AWS::KMS::Key``: one key-month;
- ``AWS::CloudWatch::Alarm``: its metrics (one, or each ``MetricStat`` of a metric math alarm), standard or
  high resolution (a period under 60 s); ``AWS::CloudWatch::CompositeAlarm``; ``AWS::CloudWatch::Dashboard``;
- ``AWS::ApplicationAutoScaling::ScalingPolicy`` of type ``TargetTrackingScaling``: the two CloudWatch alarms
  Application Auto Scaling creates for it outside the template, counted as the alarms above;
- ``AWS::SageMaker::Endpoint``: the instances of its endpoint configuration's production variants, weighted
  by the time each count is in force when an ``AWS::ApplicationAutoScaling::ScalableTarget`` with scheduled
  actions scales it; serverless variants run nothing while idle;
- ``AWS::Scheduler::Schedule`` and scheduled ``AWS::Events::Rule`` that start a Step Functions state
  machine: every SageMaker processing, training, tuning or transform job in that machine's definition,
  once per run, as instance-runs (the price table's assumptions say how long a run is billed), and those of
  every state machine of the template it starts (``states:startExecution``: a batch run's drift check).
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Literal

HOURS_PER_MONTH = 730
"""Hours in a billing month, as AWS's pricing pages and calculator count them (8,760 / 12)."""

REFERENCE_YEAR = 2025
"""Schedules are counted over this (non-leap) year and divided by 12: a month of 730 hours, on average."""

Meter = Literal[
    "interface_endpoint", "kms_key", "alarm_metric", "high_resolution_alarm_metric", "composite_alarm", "dashboard",
    "hosting", "processing_run", "training_run", "transform_run", "waf_web_acl", "waf_rule",
]
"""What one unit of a :class:`Usage` is: an interface endpoint in one zone for one hour; a key, alarm metric,
composite alarm, dashboard, WAF web ACL or WAF rule for a month; a hosting instance for an hour; one instance of
one job run."""

METER_UNITS: dict[str, str] = {
    "interface_endpoint": "endpoint-zone-hours",
    "kms_key": "key-months",
    "alarm_metric": "alarm metric-months",
    "high_resolution_alarm_metric": "alarm metric-months",
    "composite_alarm": "alarm-months",
    "dashboard": "dashboard-months",
    "hosting": "instance-hours",
    "processing_run": "instance-runs",
    "training_run": "instance-runs",
    "transform_run": "instance-runs",
    "waf_web_acl": "web ACL-months",
    "waf_rule": "rule-months",
}
JOB_METERS = ("processing_run", "training_run", "transform_run")


class TemplateError(ValueError):
    """A resource the report must count cannot be read from the template: the message names the resource,
    the field, the value and what is expected, instead of counting it as zero."""


@dataclass(frozen=True)
class Usage:
    """A billable quantity per month of one resource."""

    meter: Meter
    quantity: float
    """In the meter's unit (``METER_UNITS``) per month."""
    resource: str
    """The logical id (``Nested/LogicalId`` inside a nested stack)."""
    detail: str
    """How the quantity was counted, for the report."""
    instance_type: str | None = None
    """SageMaker meters only."""
    max_hours: float | None = None
    """Job meters only: the job's stopping condition, the most one run may be billed."""
    zones: int | None = None
    """Interface endpoints only: the zones (subnets) it is in."""
    service: str | None = None
    """Interface endpoints only: the service it reaches (``sagemaker.api``)."""
    created_by: str | None = None
    """Alarm meters only: the service that creates the alarm outside the template (``Application Auto Scaling``)."""


@dataclass(frozen=True)
class StackUsage:
    """One stack's usage: ``path`` is its display name (``Dev/Network``), ``account`` and ``region`` its environment."""

    path: str
    stack_name: str
    account: str
    region: str
    usages: tuple[Usage, ...]


# --- templates ------------------------------------------------------------------------------------------


NestedTemplates = Callable[[str, Mapping[str, Any]], "Mapping[str, Any] | None"]
"""Given an ``AWS::CloudFormation::Stack`` resource (logical id, resource), the nested stack's template."""


def template_usage(template: Mapping[str, Any], *, nested: NestedTemplates | None = None, prefix: str = "") -> list[Usage]:
    """Every billable quantity of ``template``, and of its nested stacks' templates (at any depth) that
    ``nested`` finds."""
    resources: dict[str, dict[str, Any]] = dict(template.get("Resources") or {})
    usages: list[Usage] = []
    for logical_id, resource in resources.items():
        name = f"{prefix}{logical_id}"
        type_ = resource.get("Type")
        props = resource.get("Properties") or {}
        if type_ == "AWS::EC2::VPCEndpoint":
            usages.extend(_interface_endpoint(name, props))
        elif type_ == "AWS::KMS::Key":
            usages.append(Usage("kms_key", 1, name, "customer managed key"))
        elif type_ == "AWS::CloudWatch::Alarm":
            usages.append(_alarm(name, props))
        elif type_ == "AWS::ApplicationAutoScaling::ScalingPolicy":
            usages.extend(_target_tracking_alarms(name, props))
        elif type_ == "AWS::CloudWatch::CompositeAlarm":
            usages.append(Usage("composite_alarm", 1, name, "composite alarm"))
        elif type_ == "AWS::CloudWatch::Dashboard":
            usages.append(Usage("dashboard", 1, name, "dashboard"))
        elif type_ == "AWS::WAFv2::WebACL":
            usages.extend(_web_acl(name, props))
        elif type_ == "AWS::SageMaker::Endpoint":
            usages.extend(_endpoint(name, logical_id, props, resources))
        elif type_ == "AWS::CloudFormation::Stack":
            child = nested(logical_id, resource) if nested is not None else None
            if child is None:
                raise TemplateError(f"{name}: nested stack's template not found (looked for the AWS::CloudFormation::Stack "
                                    f"resource's aws:asset:path in the assembly)")
            usages.extend(template_usage(child, nested=nested, prefix=f"{name}/"))
    usages.extend(_scheduled_jobs(resources, prefix))
    return usages


def _interface_endpoint(name: str, props: Mapping[str, Any]) -> list[Usage]:
    if props.get("VpcEndpointType", "Gateway") != "Interface":
        return []  # gateway endpoints (S3, DynamoDB) have no hourly charge
    subnets = props.get("SubnetIds")
    if not isinstance(subnets, list) or not subnets:
        raise TemplateError(f"{name}: SubnetIds: an interface endpoint's subnets must be a list in the template, "
                            f"one per zone it is billed in (got {subnets!r})")
    service = _literal(props.get("ServiceName")) or "?"
    short = re.fullmatch(r"com\.amazonaws\.[a-z0-9-]+\.(.+)", service)
    zones = len(subnets)
    service = short.group(1) if short else service
    return [Usage("interface_endpoint", zones * HOURS_PER_MONTH, name, f"{service} in {zones} zone(s) x {HOURS_PER_MONTH} h",
                  zones=zones, service=service)]


def _web_acl(name: str, props: Mapping[str, Any]) -> list[Usage]:
    """A web ACL and its rules, each billed per month whatever the traffic (a managed rule group is one rule);
    the requests it inspects are usage and not counted."""
    rules = props.get("Rules") or []
    if not isinstance(rules, list):
        raise TemplateError(f"{name}: Rules: a web ACL's rules must be a list in the template, each billed monthly (got {rules!r})")
    return [Usage("waf_web_acl", 1, name, "WAF web ACL"),
            Usage("waf_rule", len(rules), name, f"{len(rules)} rule(s) and managed rule group(s) of the web ACL")]


def _alarm(name: str, props: Mapping[str, Any]) -> Usage:
    metrics = props.get("Metrics")
    if metrics:
        count = sum(1 for m in metrics if "MetricStat" in m)
        periods = [m["MetricStat"].get("Period", 60) for m in metrics if "MetricStat" in m]
        detail = f"metric math alarm, {count} metric(s)"
    else:
        count, periods, detail = 1, [props.get("Period", 60)], f"alarm on {props.get('MetricName', '?')}"
    high = any(isinstance(p, int) and p < 60 for p in periods)
    return Usage("high_resolution_alarm_metric" if high else "alarm_metric", count, name,
                 f"{detail}{', high resolution' if high else ''}")


TARGET_TRACKING_ALARMS = ("AlarmHigh", "AlarmLow")
"""The CloudWatch alarms Application Auto Scaling creates for each target tracking scaling policy, outside the
template: one that scales out (``TargetTracking-<resource>-AlarmHigh-<id>``) and one that scales in (``-AlarmLow-``).
It "creates and manages the CloudWatch alarms" of the policy
(https://docs.aws.amazon.com/autoscaling/application/userguide/application-auto-scaling-target-tracking.html), and they
are billed as any alarm (https://aws.amazon.com/cloudwatch/pricing/), within the account's free tier like the rest.
The number two is not stated on AWS's pages: it is the pair of alarms a policy with scale-in enabled lists in
``DescribeScalingPolicies``; a policy with scale-in disabled is still counted as two (an overestimate of $0.10)."""


def _target_tracking_alarms(name: str, props: Mapping[str, Any]) -> list[Usage]:
    """The alarms of a target tracking policy, each counted as an alarm of the template would be: one metric, or
    each ``MetricStat`` of a customized metric math specification; high resolution on a high-resolution predefined
    metric (SageMaker's ``...HighResolution`` types, published every 10 s) or a customized metric's period under 60 s.
    Step scaling policies create no alarm (they are attached to the template's own)."""
    if props.get("PolicyType") != "TargetTrackingScaling":
        return []
    config = props.get("TargetTrackingScalingPolicyConfiguration") or {}
    predefined = (config.get("PredefinedMetricSpecification") or {}).get("PredefinedMetricType")
    customized = config.get("CustomizedMetricSpecification") or {}
    if predefined:
        count, high, metric = 1, str(predefined).endswith("HighResolution"), str(predefined)
    elif customized.get("Metrics"):
        stats = [m["MetricStat"] for m in customized["Metrics"] if "MetricStat" in m]
        count, metric = len(stats), f"metric math, {len(stats)} metric(s)"
        high = any(isinstance(s.get("Period"), int) and s["Period"] < 60 for s in stats)
    else:
        count, metric = 1, str(customized.get("MetricName", "?"))
        high = isinstance(customized.get("Period"), int) and customized["Period"] < 60
    meter: Meter = "high_resolution_alarm_metric" if high else "alarm_metric"
    return [Usage(meter, count, f"{name} ({alarm})", f"target tracking alarm {alarm} on {metric}{', high resolution' if high else ''}",
                  created_by="Application Auto Scaling") for alarm in TARGET_TRACKING_ALARMS]


# --- SageMaker endpoints --------------------------------------------------------------------------------


def _endpoint(name: str, logical_id: str, props: Mapping[str, Any], resources: Mapping[str, Mapping[str, Any]]) -> list[Usage]:
    config_id = _referenced_id(props.get("EndpointConfigName"))
    config = resources.get(config_id or "")
    if config is None or config.get("Type") != "AWS::SageMaker::EndpointConfig":
        raise TemplateError(f"{name}: EndpointConfigName: must reference an AWS::SageMaker::EndpointConfig of the same "
                            f"template (got {props.get('EndpointConfigName')!r})")
    endpoint_name = _literal(props.get("EndpointName"))
    usages = []
    for variant in (config.get("Properties") or {}).get("ProductionVariants") or []:
        variant_name = variant.get("VariantName", "?")
        where = f"{name} ({config_id}, variant {variant_name})"
        if "ServerlessConfig" in variant:
            provisioned = variant["ServerlessConfig"].get("ProvisionedConcurrency")
            if provisioned:
                raise TemplateError(f"{where}: ServerlessConfig.ProvisionedConcurrency: provisioned concurrency is billed while "
                                    f"idle and the price table has no price for it (got {provisioned!r})")
            continue  # serverless: billed per request and duration, nothing while idle
        instance_type, initial = variant.get("InstanceType"), variant.get("InitialInstanceCount")
        if not isinstance(instance_type, str) or not isinstance(initial, int):
            raise TemplateError(f"{where}: InstanceType and InitialInstanceCount: must be literals in the template "
                                f"(got {instance_type!r}, {initial!r})")
        target = _scalable_target(resources, logical_id, endpoint_name, variant_name)
        if target is None:
            average, how = float(initial), f"{initial} x {instance_type} all month"
        else:
            average, how = idle_instance_count(initial, target, has_policy=_has_scaling_policy(resources, target[0]))
            how = f"{how} x {instance_type}"
        usages.append(Usage("hosting", average * HOURS_PER_MONTH, name, f"{endpoint_name or name} ({variant_name}): {how}, {HOURS_PER_MONTH} h",
                            instance_type=instance_type))
    return usages


def _scalable_target(resources: Mapping[str, Mapping[str, Any]], endpoint_id: str, endpoint_name: str | None,
                     variant: str) -> tuple[str, Mapping[str, Any]] | None:
    """The scalable target of ``variant`` of the endpoint: its ``ResourceId`` names the endpoint
    (``endpoint/<name>/variant/<variant>``, literally or through the endpoint's ``EndpointName`` attribute)."""
    for target_id, resource in resources.items():
        if resource.get("Type") != "AWS::ApplicationAutoScaling::ScalableTarget":
            continue
        props = resource.get("Properties") or {}
        if props.get("ServiceNamespace") != "sagemaker":
            continue
        resource_id = _literal(props.get("ResourceId"), {endpoint_id: endpoint_name or f"<{endpoint_id}>"})
        names = {endpoint_name, f"<{endpoint_id}>"} - {None}
        if any(resource_id == f"endpoint/{n}/variant/{variant}" for n in names):
            return target_id, props
    return None


def _has_scaling_policy(resources: Mapping[str, Mapping[str, Any]], target_id: str) -> bool:
    for resource in resources.values():
        if resource.get("Type") == "AWS::ApplicationAutoScaling::ScalingPolicy":
            props = resource.get("Properties") or {}
            if _referenced_id(props.get("ScalingTargetId")) == target_id:
                return True
    return False


def idle_instance_count(initial: int, target: tuple[str, Mapping[str, Any]] | Mapping[str, Any], *, has_policy: bool) -> tuple[float, str]:
    """The time-weighted instance count of an idle variant, and how it was counted.

    With a scaling policy, an idle variant scales in to the minimum capacity in force; without one, its count
    stays where it is until a scheduled action's new minimum or maximum moves it (Application Auto Scaling
    clamps the current capacity into the new range). Scheduled actions are replayed over ``REFERENCE_YEAR``
    (each in force from its time until the next; the year starts with the last one of the year before, replayed too).
    """
    target_id, props = target if isinstance(target, tuple) else ("ScalableTarget", target)
    low, high = props.get("MinCapacity"), props.get("MaxCapacity")
    if not isinstance(low, int) or not isinstance(high, int):
        raise TemplateError(f"{target_id}: MinCapacity and MaxCapacity: must be literals (got {low!r}, {high!r})")

    def settle(count: int, low: int, high: int) -> int:
        return low if has_policy else min(max(count, low), high)

    actions = props.get("ScheduledActions") or []
    if not actions:
        count = settle(initial, low, high)
        return float(count), f"{count} (minimum capacity)" if has_policy else f"{count}"
    events: list[tuple[dt.datetime, int | None, int | None, str]] = []
    start, end = dt.datetime(REFERENCE_YEAR, 1, 1), dt.datetime(REFERENCE_YEAR + 1, 1, 1)
    for action in actions:
        new = action.get("ScalableTargetAction") or {}
        schedule = action.get("Schedule")
        name = action.get("ScheduledActionName", "?")
        for when in schedule_times(schedule, dt.datetime(REFERENCE_YEAR - 1, 1, 1), end, field=f"{target_id}: ScheduledActions[{name}].Schedule"):
            events.append((when, new.get("MinCapacity"), new.get("MaxCapacity"), name))
    events.sort(key=lambda e: e[0])
    count = settle(initial, low, high)
    weighted, time = 0.0, start
    for when, new_low, new_high, _ in events:
        if when > start:
            weighted += count * (min(when, end) - time).total_seconds()
            time = min(when, end)
        if when >= end:
            break
        low = new_low if isinstance(new_low, int) else low
        high = new_high if isinstance(new_high, int) else high
        count = settle(count, low, high)
    weighted += count * (end - time).total_seconds()
    average = weighted / (end - start).total_seconds()
    names = ", ".join(sorted({e[3] for e in events}))
    return average, f"{average:.2f} on average (scheduled: {names})"


# --- scheduled jobs -------------------------------------------------------------------------------------

_JOB_RESOURCE = re.compile(r":states:::(?:aws-sdk:)?sagemaker:create(Processing|Training|HyperParameterTuning|Transform)Job")


def _scheduled_jobs(resources: Mapping[str, Mapping[str, Any]], prefix: str) -> Iterator[Usage]:
    for logical_id, resource in resources.items():
        props = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Scheduler::Schedule":
            if props.get("State", "ENABLED") != "ENABLED":
                continue
            targets = [props.get("Target") or {}]
        elif resource.get("Type") == "AWS::Events::Rule" and "ScheduleExpression" in props:
            if props.get("State", "ENABLED") != "ENABLED":
                continue
            targets = props.get("Targets") or []
        else:
            continue
        expression = props.get("ScheduleExpression")
        runs = runs_per_month(expression, field=f"{prefix}{logical_id}.ScheduleExpression")
        for target in targets:
            machine_id = _referenced_id(target.get("Arn"))
            machine = resources.get(machine_id or "")
            if machine is None or machine.get("Type") != "AWS::StepFunctions::StateMachine":
                continue  # not a state machine of this template: starts no SageMaker job we can see
            for job in state_machine_jobs(machine.get("Properties") or {}, f"{prefix}{machine_id}", resources=resources,
                                          prefix=prefix, started=(machine_id,)):
                meter, instance_type, count, max_seconds, state = job
                yield Usage(meter, runs * count, f"{prefix}{machine_id}",
                            f"{state}: {count} x {instance_type} x {runs:.1f} runs ({expression})",
                            instance_type=instance_type, max_hours=max_seconds / 3600 if max_seconds else None)


_START_EXECUTION = re.compile(r":states:::(?:states:startExecution(?:\.sync(?::2)?|\.waitForTaskToken)?|aws-sdk:sfn:startExecution)$")
_TOKEN_REF = re.compile(r"TOKEN\[(?:Ref:([^\]]+)|GetAtt:([^\].]+)\.Arn)\]")


def state_machine_jobs(props: Mapping[str, Any], name: str, *, resources: Mapping[str, Mapping[str, Any]] | None = None,
                       prefix: str = "", started: tuple[str, ...] = ()) -> list[tuple[Meter, str, int, int | None, str]]:
    """The SageMaker jobs a run of the state machine starts: (meter, instance type, instances per run,
    maximum runtime in seconds, state name).

    With ``resources`` (the machine's template), a ``states:startExecution`` state (with or without ``.sync``)
    adds the jobs of the machine it starts, which must be one of that template, once per run, named
    ``<state> > <started machine's state>``: a batch run's drift check. Its ARN from the execution's input,
    or a machine the template does not hold, is an error, as a job's run-time instance type is. A machine
    already in ``started`` (one that starts itself, directly or not) is counted once."""
    definition = props.get("Definition") or _rendered(props.get("DefinitionString"))
    if isinstance(definition, str):
        try:
            definition = json.loads(definition)
        except json.JSONDecodeError as err:
            raise TemplateError(f"{name}: DefinitionString: not JSON once its tokens are replaced ({err})") from err
    jobs: list[tuple[Meter, str, int, int | None, str]] = []
    for state_name, state in _states(definition):
        if resources is not None and _START_EXECUTION.search(str(state.get("Resource", ""))):
            jobs.extend(_started_machine_jobs(state_name, state, name, resources, prefix, started))
            continue
        match = _JOB_RESOURCE.search(str(state.get("Resource", "")))
        if not match:
            continue
        kind = match.group(1)
        args = state.get("Arguments") or state.get("Parameters") or {}
        where = f"{name} state {state_name!r}"
        if kind == "Processing":
            cluster = (args.get("ProcessingResources") or {}).get("ClusterConfig") or {}
            jobs.append(("processing_run", *_instances(cluster, where, "ProcessingResources.ClusterConfig"),
                         _max_runtime(args), state_name))
        elif kind == "Training":
            jobs.append(("training_run", *_instances(args.get("ResourceConfig") or {}, where, "ResourceConfig"),
                         _max_runtime(args), state_name))
        elif kind == "HyperParameterTuning":
            definition_ = args.get("TrainingJobDefinition") or {}
            limits = (args.get("HyperParameterTuningJobConfig") or {}).get("ResourceLimits") or {}
            jobs_per_run = limits.get("MaxNumberOfTrainingJobs")
            if not isinstance(jobs_per_run, int):
                raise TemplateError(f"{where}: HyperParameterTuningJobConfig.ResourceLimits.MaxNumberOfTrainingJobs: must be "
                                    f"a literal (got {jobs_per_run!r})")
            instance_type, count = _instances(definition_.get("ResourceConfig") or {}, where, "TrainingJobDefinition.ResourceConfig")
            jobs.append(("training_run", instance_type, count * jobs_per_run, _max_runtime(definition_), state_name))
        else:
            jobs.append(("transform_run", *_instances(args.get("TransformResources") or {}, where, "TransformResources"), None, state_name))
    return jobs


def _started_machine_jobs(state_name: str, state: Mapping[str, Any], name: str, resources: Mapping[str, Mapping[str, Any]],
                          prefix: str, started: tuple[str, ...]) -> list[tuple[Meter, str, int, int | None, str]]:
    """The jobs of the state machine a ``states:startExecution`` state starts (see :func:`state_machine_jobs`)."""
    args = state.get("Arguments") or state.get("Parameters") or {}
    where = f"{name} state {state_name!r}"
    arn = args.get("StateMachineArn")
    match = _TOKEN_REF.fullmatch(arn) if isinstance(arn, str) else None
    machine_id = (match.group(1) or match.group(2)) if match else None
    machine = resources.get(machine_id or "")
    if machine is None or machine.get("Type") != "AWS::StepFunctions::StateMachine":
        given = arn if arn is not None else f"StateMachineArn.$ {args.get('StateMachineArn.$')!r}"
        raise TemplateError(f"{where}: StateMachineArn: the machine a scheduled run starts must be a state machine of the same "
                            f"template (a Ref or its Arn), for its SageMaker jobs to be counted (got {given!r})")
    assert machine_id is not None
    if machine_id in started:
        return []
    jobs = state_machine_jobs(machine.get("Properties") or {}, f"{prefix}{machine_id}", resources=resources, prefix=prefix,
                              started=(*started, machine_id))
    return [(meter, instance_type, count, max_seconds, f"{state_name} > {job_state}")
            for meter, instance_type, count, max_seconds, job_state in jobs]


def _instances(config: Mapping[str, Any], where: str, field: str) -> tuple[str, int]:
    instance_type, count = config.get("InstanceType"), config.get("InstanceCount", 1)
    if not isinstance(instance_type, str) or not isinstance(count, int) or "TOKEN" in instance_type:
        raise TemplateError(f"{where}: {field}.InstanceType and InstanceCount: must be literals in the definition "
                            f"(got {instance_type!r}, {count!r}); a type chosen at run time cannot be priced")
    return instance_type, count


def _max_runtime(args: Mapping[str, Any]) -> int | None:
    value = (args.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds")
    return value if isinstance(value, int) else None


def _states(definition: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every state of a definition, with those of Parallel branches and Map iterators."""
    for state_name, state in ((definition or {}).get("States") or {}).items():
        yield state_name, state
        for branch in state.get("Branches") or []:
            yield from _states(branch)
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                yield from _states(state[key])


# --- schedules ------------------------------------------------------------------------------------------

_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_CRON = re.compile(r"cron\((.+)\)")
_DAYS = {name: i for i, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], start=1)}
_MONTHS = {name: i for i, name in enumerate(calendar.month_abbr) if name}


def runs_per_month(expression: Any, *, field: str = "ScheduleExpression") -> float:
    """How often a ``rate(...)`` or ``cron(...)`` expression fires in an average month (its firings in
    ``REFERENCE_YEAR`` / 12). A one-time ``at(...)`` schedule is not a monthly cost: it raises."""
    if isinstance(expression, str) and (rate := _RATE.fullmatch(expression.strip())):
        minutes = int(rate.group(1)) * {"minute": 1, "hour": 60, "day": 1440}[rate.group(2).rstrip("s")]
        return HOURS_PER_MONTH * 60 / minutes
    start, end = dt.datetime(REFERENCE_YEAR, 1, 1), dt.datetime(REFERENCE_YEAR + 1, 1, 1)
    return sum(1 for _ in schedule_times(expression, start, end, field=field)) / 12


def schedule_times(expression: Any, start: dt.datetime, end: dt.datetime, *, field: str = "Schedule") -> Iterator[dt.datetime]:
    """The times from ``start`` (inclusive) to ``end`` (exclusive) at which a ``cron(...)`` or ``rate(...)``
    expression fires (UTC). AWS's six fields: minutes, hours, day of month, month, day of week (1-7 =
    SUN-SAT, or SUN-SAT), year."""
    if isinstance(expression, str) and (rate := _RATE.fullmatch(expression.strip())):
        step = dt.timedelta(minutes=int(rate.group(1)) * {"minute": 1, "hour": 60, "day": 1440}[rate.group(2).rstrip("s")])
        when = start
        while when < end:
            yield when
            when += step
        return
    match = _CRON.fullmatch(expression.strip()) if isinstance(expression, str) else None
    fields = match.group(1).split() if match else []
    if len(fields) != 6:
        raise TemplateError(f"{field}: must be a rate(...) or a six-field cron(...) expression; a one-time at(...) "
                            f"schedule is no monthly cost (got {expression!r})")
    minutes = _cron_field(fields[0], 0, 59, {}, field, "minutes")
    hours = _cron_field(fields[1], 0, 23, {}, field, "hours")
    days = _cron_field(fields[2], 1, 31, {}, field, "day of month")
    months = _cron_field(fields[3], 1, 12, _MONTHS, field, "month")
    weekdays = _cron_field(fields[4], 1, 7, _DAYS, field, "day of week")
    years = _cron_field(fields[5], 1970, 2199, {}, field, "year")
    day = dt.datetime(start.year, start.month, start.day)
    while day < end:
        weekday = (day.weekday() + 1) % 7 + 1  # Python: Monday 0; AWS: Sunday 1
        if day.month in months and day.day in days and weekday in weekdays and day.year in years:
            for hour in sorted(hours):
                for minute in sorted(minutes):
                    when = day.replace(hour=hour, minute=minute)
                    if start <= when < end:
                        yield when
        day += dt.timedelta(days=1)


def _cron_field(text: str, low: int, high: int, names: Mapping[str, int], field: str, part: str) -> set[int]:
    if text in ("*", "?"):
        return set(range(low, high + 1))
    values: set[int] = set()
    for item in text.split(","):
        base, _, step_text = item.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if base == "*":
                first, last = low, high
            elif "-" in base:
                a, b = base.split("-", 1)
                first, last = _cron_value(a, names), _cron_value(b, names)
            else:
                first = _cron_value(base, names)
                last = high if step_text else first
        except ValueError:
            raise TemplateError(f"{field}: {part} {text!r}: only numbers, names, ranges, lists and steps are counted "
                                f"(L, W and # are not)") from None
        if not low <= first <= last <= high:
            raise TemplateError(f"{field}: {part} {text!r}: out of range {low}-{high}")
        values.update(range(first, last + 1, step))
    return values


def _cron_value(text: str, names: Mapping[str, int]) -> int:
    return names[text.upper()] if text.upper() in names else int(text)


# --- intrinsic functions --------------------------------------------------------------------------------


def _referenced_id(value: Any) -> str | None:
    """The logical id a ``Ref`` or ``Fn::GetAtt`` points at."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            attribute = value["Fn::GetAtt"]
            return attribute[0] if isinstance(attribute, list) else str(attribute).split(".", 1)[0]
    return None


def _literal(value: Any, refs: Mapping[str, str] | None = None) -> str | None:
    """A string value, with ``Fn::Join`` joined and ``Ref``/``Fn::GetAtt`` of ``refs`` replaced; ``None`` if
    anything else is in it."""
    if isinstance(value, str):
        return value
    referenced = _referenced_id(value)
    if referenced is not None:
        return (refs or {}).get(referenced)
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        texts = [_literal(part, refs) for part in parts]
        return None if any(t is None for t in texts) else separator.join(texts)  # type: ignore[arg-type]
    return None


def _rendered(value: Any) -> str:
    """A ``DefinitionString``: a string, or an ``Fn::Join`` whose tokens (ARNs, partitions...) become ``TOKEN``:
    ``TOKEN[Ref:<id>]`` and ``TOKEN[GetAtt:<id>.<attribute>]`` for references, which name the resource they
    point at (a started state machine), ``TOKEN`` for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_rendered(part) for part in parts)
    if isinstance(value, dict) and isinstance(value.get("Ref"), str):
        return f"TOKEN[Ref:{value['Ref']}]"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        attribute = value["Fn::GetAtt"]
        parts_ = attribute if isinstance(attribute, list) else str(attribute).split(".", 1)
        if len(parts_) == 2 and all(isinstance(p, str) for p in parts_):
            return f"TOKEN[GetAtt:{parts_[0]}.{parts_[1]}]"
    return "TOKEN"


# --- cloud assemblies -----------------------------------------------------------------------------------


def assembly_usage(directory: str) -> list[StackUsage]:
    """Every stack of a cloud assembly (``cdk.out``) and of the assemblies nested in it (CDK stages), in
    manifest order, with their nested stacks' templates folded into their own."""
    root = Path(directory)
    manifest_file = root / "manifest.json"
    if not manifest_file.is_file():
        raise TemplateError(f"--assembly: {directory!r} is not a cloud assembly (no manifest.json); run `make synth` "
                            f"or give the directory `cdk synth` wrote")
    stacks: list[StackUsage] = []
    manifest = json.loads(manifest_file.read_text())
    for artifact_id, artifact in (manifest.get("artifacts") or {}).items():
        props = artifact.get("properties") or {}
        if artifact.get("type") == "cdk:cloud-assembly":
            stacks.extend(assembly_usage(str(root / props["directoryName"])))
        elif artifact.get("type") == "aws:cloudformation:stack":
            environment = artifact.get("environment", "")
            match = re.fullmatch(r"aws://([^/]+)/(.+)", environment)
            if not match or "unknown" in environment:
                raise TemplateError(f"{artifact.get('displayName', artifact_id)}: environment: the report needs an explicit "
                                    f"account and region (got {environment!r})")
            template = json.loads((root / props["templateFile"]).read_text())

            def nested(_: str, resource: Mapping[str, Any], root: Path = root) -> Mapping[str, Any] | None:
                asset = (resource.get("Metadata") or {}).get("aws:asset:path")  # CDK writes nested templates beside their parent
                return json.loads((root / asset).read_text()) if asset and (root / asset).is_file() else None

            path = artifact.get("displayName", artifact_id)
            try:
                usages = template_usage(template, nested=nested)
            except TemplateError as err:
                raise TemplateError(f"{path}: {err}") from None
            stacks.append(StackUsage(path, props.get("stackName", artifact_id), match.group(1), match.group(2), tuple(usages)))
    return stacks
