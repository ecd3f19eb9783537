"""The cost report (stacks.cost): small hand-written templates with answers worked out here, the error
messages for what the price table does not know, and the structure of the default config's report."""

from __future__ import annotations

import calendar
import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from stacks import cost
from stacks.cost_prices import PRICES_FILE, PriceError, PriceTable, price_accounts, price_stack
from stacks.cost_usage import (
    HOURS_PER_MONTH, REFERENCE_YEAR, StackUsage, TemplateError, assembly_usage, runs_per_month, schedule_times, template_usage,
)

AUTO_SCALING = "Application Auto Scaling"


REPO = Path(__file__).resolve().parent.parent

# Prices chosen for the tests, not AWS's: every answer below is worked out from them.
ENDPOINT_HOUR, KEY_MONTH, ALARM_MONTH, DASHBOARD_MONTH = 0.02, 1.5, 0.2, 4.0
WEB_ACL_MONTH, WAF_RULE_MONTH = 6.0, 1.25
HOSTING = {"ml.m5.large": 0.1, "ml.m5.xlarge": 0.2}
PROCESSING = {"ml.m5.large": 0.12}
TRAINING = {"ml.m5.xlarge": 0.25}
TRANSFORM = {"ml.m5.large": 0.11}
PROCESSING_MINUTES, TRAINING_MINUTES = 12, 90


def _entry(price: float) -> dict[str, Any]:
    return {"price": price, "on_aws_page": False, "seen_in": "test"}


def small_table(regions: tuple[str, ...] = ("eu-west-1",)) -> PriceTable:
    def by_region(price: float) -> dict[str, Any]:
        return {region: _entry(price) for region in regions}

    return PriceTable({
        "hours_per_month": 730,
        "regions": list(regions),
        "prices": {
            "interface_endpoint": {"regions": by_region(ENDPOINT_HOUR)},
            "kms_key": {"regions": by_region(KEY_MONTH)},
            "alarm_metric": {"regions": by_region(ALARM_MONTH), "free_per_account": 10},
            "high_resolution_alarm_metric": {"regions": by_region(3 * ALARM_MONTH)},
            "composite_alarm": {"regions": by_region(0.5)},
            "dashboard": {"regions": by_region(DASHBOARD_MONTH), "free_per_account": 3},
            "waf_web_acl": {"regions": by_region(WEB_ACL_MONTH)},
            "waf_rule": {"regions": by_region(WAF_RULE_MONTH)},
        },
        "sagemaker": {
            "page": "https://example.com", "read": "2026-11-27",
            "hosting": {t: by_region(p) for t, p in HOSTING.items()},
            "processing": {t: by_region(p) for t, p in PROCESSING.items()},
            "training": {t: by_region(p) for t, p in TRAINING.items()},
            "transform": {t: by_region(p) for t, p in TRANSFORM.items()},
        },
        "assumptions": {"processing_minutes_per_run": PROCESSING_MINUTES, "training_minutes_per_run": TRAINING_MINUTES,
                        "transform_minutes_per_run": 30},
    }, source="the test table")


def stack(template: dict[str, Any], *, account: str = "222222222222", region: str = "eu-west-1", path: str = "Dev/Test") -> StackUsage:
    return StackUsage(path, path.replace("/", "-").lower(), account, region, tuple(template_usage(template)))


def vpc_endpoint(service: str, subnets: int, type_: str = "Interface") -> dict[str, Any]:
    props: dict[str, Any] = {"ServiceName": f"com.amazonaws.eu-west-1.{service}", "VpcEndpointType": type_, "VpcId": {"Ref": "Vpc"}}
    if type_ == "Interface":
        props["SubnetIds"] = [{"Ref": f"Subnet{i}"} for i in range(subnets)]
    return {"Type": "AWS::EC2::VPCEndpoint", "Properties": props}


def endpoint_template(variant: dict[str, Any], target: dict[str, Any] | None = None, *, policy: bool = True) -> dict[str, Any]:
    resources: dict[str, Any] = {
        "Config": {"Type": "AWS::SageMaker::EndpointConfig", "Properties": {"ProductionVariants": [{"VariantName": "AllTraffic", **variant}]}},
        "Endpoint": {"Type": "AWS::SageMaker::Endpoint", "Properties": {
            "EndpointName": "acme-churn", "EndpointConfigName": {"Fn::GetAtt": ["Config", "EndpointConfigName"]}}},
    }
    if target is not None:
        resources["Scaling"] = {"Type": "AWS::ApplicationAutoScaling::ScalableTarget", "Properties": {
            "ServiceNamespace": "sagemaker", "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
            "ResourceId": "endpoint/acme-churn/variant/AllTraffic", **target}}
        if policy:
            resources["Policy"] = {"Type": "AWS::ApplicationAutoScaling::ScalingPolicy", "Properties": {
                "PolicyType": "TargetTrackingScaling", "ScalingTargetId": {"Ref": "Scaling"}}}
    return {"Resources": resources}


def scheduled(name: str, schedule: str, low: int, high: int) -> dict[str, Any]:
    return {"ScheduledActionName": name, "Schedule": schedule, "ScalableTargetAction": {"MinCapacity": low, "MaxCapacity": high}}


def monthly(template: dict[str, Any]) -> float:
    return price_stack(stack(template), small_table()).total


def hosting(template: dict[str, Any]) -> float:
    """The endpoint instances' part of ``monthly`` (without the alarms of a scaling policy)."""
    return sum(line.monthly for line in price_stack(stack(template), small_table()).lines if line.usage.meter == "hosting")


# --- always-on resources --------------------------------------------------------------------------------


def test_interface_endpoints_cost_each_hour_in_each_subnet_and_gateway_endpoints_nothing() -> None:
    template = {"Resources": {"Sts": vpc_endpoint("sts", 3), "Logs": vpc_endpoint("logs", 3), "Kms": vpc_endpoint("kms", 2),
                              "S3": vpc_endpoint("s3", 0, type_="Gateway")}}
    # 3 + 3 + 2 endpoint-zones, every hour of the month
    assert monthly(template) == pytest.approx((3 + 3 + 2) * ENDPOINT_HOUR * 730)
    usages = template_usage(template)
    assert {u.resource: u.quantity for u in usages} == {"Sts": 3 * 730, "Logs": 3 * 730, "Kms": 2 * 730}
    assert "sts in 3 zone(s)" in usages[0].detail


def test_fewer_zones_cost_proportionally_less() -> None:
    three = {"Resources": {f"E{i}": vpc_endpoint(f"svc{i}", 3) for i in range(13)}}
    two = {"Resources": {f"E{i}": vpc_endpoint(f"svc{i}", 2) for i in range(13)}}
    assert monthly(three) - monthly(two) == pytest.approx(13 * 1 * ENDPOINT_HOUR * 730)


def test_interface_endpoint_whose_subnets_are_not_a_list_is_an_error() -> None:
    template = {"Resources": {"Sts": vpc_endpoint("sts", 1)}}
    template["Resources"]["Sts"]["Properties"]["SubnetIds"] = {"Fn::Split": [",", {"Fn::ImportValue": "Subnets"}]}
    with pytest.raises(TemplateError, match=r"Sts: SubnetIds: .*must be a list"):
        template_usage(template)


def test_keys_alarms_and_dashboards() -> None:
    template = {"Resources": {
        "Key1": {"Type": "AWS::KMS::Key", "Properties": {}},
        "Key2": {"Type": "AWS::KMS::Key", "Properties": {"EnableKeyRotation": True}},
        "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"MetricName": "Errors", "Period": 60}},
        "Math": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"Metrics": [
            {"Id": "a", "MetricStat": {"Period": 300}}, {"Id": "b", "MetricStat": {"Period": 300}}, {"Id": "e", "Expression": "a/b"}]}},
        "Fast": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"MetricName": "Errors", "Period": 10}},
        "Board": {"Type": "AWS::CloudWatch::Dashboard", "Properties": {}},
    }}
    # 2 keys; 1 + 2 standard alarm metrics (the math alarm's expression is not a metric); 1 high resolution; 1 dashboard
    expected = 2 * KEY_MONTH + 3 * ALARM_MONTH + 1 * 3 * ALARM_MONTH + DASHBOARD_MONTH
    assert monthly(template) == pytest.approx(expected)


def test_a_web_acl_costs_its_month_and_each_rule_or_managed_group_its_own() -> None:
    rules = [{"Name": "Rate", "Statement": {"RateBasedStatement": {}}},
             {"Name": "Common", "Statement": {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": "AWSManagedRulesCommonRuleSet"}}},
             {"Name": "Size", "Statement": {"SizeConstraintStatement": {}}}]
    template = {"Resources": {"Acl": {"Type": "AWS::WAFv2::WebACL", "Properties": {"Scope": "REGIONAL", "Rules": rules}}}}
    assert monthly(template) == pytest.approx(WEB_ACL_MONTH + 3 * WAF_RULE_MONTH)
    template["Resources"]["Acl"]["Properties"]["Rules"] = {"Ref": "Rules"}
    with pytest.raises(TemplateError, match=r"Acl: Rules: a web ACL's rules must be a list"):
        template_usage(template)


def test_free_tier_is_taken_once_per_account() -> None:
    alarms = {f"A{i}": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"MetricName": "M", "Period": 60}} for i in range(7)}
    boards = {f"D{i}": {"Type": "AWS::CloudWatch::Dashboard", "Properties": {}} for i in range(2)}
    template = {"Resources": {**alarms, **boards}}
    # two stacks of 7 alarms and 2 dashboards in one account: 14 alarm metrics (10 free), 4 dashboards (3 free)
    one, two = stack(template, path="Dev/One"), stack(template, path="Dev/Two")
    other = stack(template, account="333333333333", path="Staging/One")  # 7 and 2: all free
    [dev, staging] = price_accounts([one, two, other], small_table())
    assert dev.total == pytest.approx((14 - 10) * ALARM_MONTH + (4 - 3) * DASHBOARD_MONTH)
    assert staging.total == pytest.approx(0)
    assert dev.total == pytest.approx(sum(s.total for s in dev.stacks) + sum(f.monthly for f in dev.free_tier))


def test_a_target_tracking_policy_adds_the_two_alarms_application_auto_scaling_creates() -> None:
    template = endpoint_template({"InstanceType": "ml.m5.large", "InitialInstanceCount": 1}, {"MinCapacity": 1, "MaxCapacity": 4})
    alarms = [u for u in template_usage(template) if u.meter == "alarm_metric"]
    # outside the template: one alarm that scales out, one that scales in, each one standard alarm metric
    assert [(u.resource, u.quantity, u.created_by) for u in alarms] == [
        ("Policy (AlarmHigh)", 1, AUTO_SCALING), ("Policy (AlarmLow)", 1, AUTO_SCALING)]
    assert monthly(template) == pytest.approx(1 * HOSTING["ml.m5.large"] * 730 + 2 * ALARM_MONTH)
    # a high-resolution predefined metric makes high-resolution alarms; a step scaling policy makes none
    policy = template["Resources"]["Policy"]["Properties"]
    policy["TargetTrackingScalingPolicyConfiguration"] = {
        "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantConcurrentRequestsPerModelHighResolution"}}
    assert [u.meter for u in template_usage(template) if u.created_by] == ["high_resolution_alarm_metric"] * 2
    policy["PolicyType"] = "StepScaling"
    assert [u for u in template_usage(template) if u.created_by] == []


def test_target_tracking_alarms_count_against_the_accounts_free_tier() -> None:
    # 9 alarms of the template and a target tracking policy's 2: 11 alarm metrics, 10 free, 1 billed
    template = endpoint_template({"InstanceType": "ml.m5.large", "InitialInstanceCount": 1}, {"MinCapacity": 1, "MaxCapacity": 4})
    template["Resources"] |= {f"A{i}": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"MetricName": "M", "Period": 60}} for i in range(9)}
    [account] = price_accounts([stack(template)], small_table())
    assert account.total == pytest.approx(1 * HOSTING["ml.m5.large"] * 730 + (9 + 2 - 10) * ALARM_MONTH)
    report = cost.render([account], small_table(), title="test")
    assert "CloudWatch alarm metrics (11 alarms, 2 by Application Auto Scaling)" in report
    assert "CloudWatch free tier of the account: 10 CloudWatch alarm metrics" in report


# --- SageMaker endpoints --------------------------------------------------------------------------------


def test_endpoint_without_scaling_runs_its_initial_count_all_month() -> None:
    template = endpoint_template({"InstanceType": "ml.m5.xlarge", "InitialInstanceCount": 2})
    assert monthly(template) == pytest.approx(2 * HOSTING["ml.m5.xlarge"] * 730)


def test_idle_endpoint_with_a_scaling_policy_runs_its_minimum_capacity() -> None:
    template = endpoint_template({"InstanceType": "ml.m5.large", "InitialInstanceCount": 3}, {"MinCapacity": 1, "MaxCapacity": 4})
    assert hosting(template) == pytest.approx(1 * HOSTING["ml.m5.large"] * 730)


def test_scheduled_scaling_is_weighted_by_the_time_each_capacity_is_in_force() -> None:
    # down to 1 at midnight, up to a minimum of 3 at noon, every day: 12 h at 1, 12 h at 3, on average 2
    target = {"MinCapacity": 3, "MaxCapacity": 6, "ScheduledActions": [
        scheduled("Night", "cron(0 0 * * ? *)", 1, 1), scheduled("Day", "cron(0 12 * * ? *)", 3, 6)]}
    template = endpoint_template({"InstanceType": "ml.m5.large", "InitialInstanceCount": 3}, target)
    assert hosting(template) == pytest.approx(2 * HOSTING["ml.m5.large"] * 730)


def test_off_hours_on_weekdays_are_weighted_over_the_reference_year() -> None:
    # the staging default: 2 instances 06:00-20:00 on weekdays, 1 otherwise (weekends stay scaled in)
    target = {"MinCapacity": 2, "MaxCapacity": 4, "ScheduledActions": [
        scheduled("OffHours", "cron(0 20 ? * MON-FRI *)", 1, 1), scheduled("WorkingHours", "cron(0 6 ? * MON-FRI *)", 2, 4)]}
    template = endpoint_template({"InstanceType": "ml.m5.large", "InitialInstanceCount": 2}, target)
    hour, hours, instance_hours = dt.datetime(REFERENCE_YEAR, 1, 1), 0, 0
    while hour.year == REFERENCE_YEAR:  # the year opens scaled in: the last action before it was a weekday's 20:00
        hours += 1
        instance_hours += 2 if hour.weekday() < 5 and 6 <= hour.hour < 20 else 1
        hour += dt.timedelta(hours=1)
    average = instance_hours / hours
    assert 1 < average < 2
    assert hosting(template) == pytest.approx(average * HOSTING["ml.m5.large"] * 730)


def test_without_a_scaling_policy_scheduled_actions_clamp_the_current_count() -> None:
    # no policy: 3 stay 3 until a range moves them; forced to 1 at midnight, raised to the new minimum 2 at noon
    target = {"MinCapacity": 1, "MaxCapacity": 5, "ScheduledActions": [
        scheduled("Night", "cron(0 0 * * ? *)", 1, 1), scheduled("Day", "cron(0 12 * * ? *)", 2, 5)]}
    template = endpoint_template({"InstanceType": "ml.m5.large", "InitialInstanceCount": 3}, target, policy=False)
    assert monthly(template) == pytest.approx((12 * 1 + 12 * 2) / 24 * HOSTING["ml.m5.large"] * 730)
    no_actions = endpoint_template({"InstanceType": "ml.m5.large", "InitialInstanceCount": 3}, {"MinCapacity": 1, "MaxCapacity": 5},
                                   policy=False)
    assert monthly(no_actions) == pytest.approx(3 * HOSTING["ml.m5.large"] * 730)


def test_serverless_variant_costs_nothing_while_idle() -> None:
    template = endpoint_template({"ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5}})
    assert template_usage(template) == []
    assert monthly(template) == 0


def test_serverless_provisioned_concurrency_is_an_error_not_a_zero() -> None:
    template = endpoint_template({"ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5, "ProvisionedConcurrency": 2}})
    with pytest.raises(TemplateError, match=r"ServerlessConfig.ProvisionedConcurrency: .*billed while idle.*got 2"):
        template_usage(template)


def test_an_endpoint_config_without_an_endpoint_runs_nothing() -> None:
    template = endpoint_template({"InstanceType": "ml.m5.large", "InitialInstanceCount": 1})
    del template["Resources"]["Endpoint"]
    assert monthly(template) == 0


# --- scheduled jobs -------------------------------------------------------------------------------------


def state_machine(states: dict[str, Any]) -> dict[str, Any]:
    """A state machine whose definition is an Fn::Join with tokens inside, as CDK writes it."""
    text = json.dumps({"StartAt": next(iter(states)), "States": states})
    head, tail = text.split("TOKEN_SPLIT", 1) if "TOKEN_SPLIT" in text else (text, "")
    parts: list[Any] = [head, {"Ref": "AWS::Partition"}, tail] if tail else [text]
    return {"Type": "AWS::StepFunctions::StateMachine", "Properties": {"DefinitionString": {"Fn::Join": ["", parts]}}}


def processing_state(instance_type: str, count: int = 1) -> dict[str, Any]:
    return {"Type": "Task", "Resource": "arn:TOKEN_SPLIT:states:::sagemaker:createProcessingJob.sync", "End": True,
            "Parameters": {"ProcessingResources": {"ClusterConfig": {"InstanceType": instance_type, "InstanceCount": count}},
                           "StoppingCondition": {"MaxRuntimeInSeconds": 3600}}}


def test_an_hourly_schedule_runs_its_processing_job_730_times_a_month() -> None:
    template = {"Resources": {
        "Machine": state_machine({"Check": processing_state("ml.m5.large")}),
        "Schedule": {"Type": "AWS::Scheduler::Schedule", "Properties": {"ScheduleExpression": "cron(34 * * * ? *)",
                                                                         "Target": {"Arn": {"Ref": "Machine"}}}},
    }}
    [usage] = template_usage(template)
    assert (usage.meter, usage.quantity, usage.instance_type, usage.max_hours) == ("processing_run", 730, "ml.m5.large", 1)
    assert monthly(template) == pytest.approx(730 * PROCESSING_MINUTES / 60 * PROCESSING["ml.m5.large"])


def test_a_weekly_rule_runs_every_job_of_its_pipeline_including_parallel_branches() -> None:
    train = {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync", "End": True,
             "Parameters": {"ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 2}}}
    template = {"Resources": {
        "Machine": state_machine({"Prepare": {**processing_state("ml.m5.large", 3), "End": False, "Next": "Both"},
                                  "Both": {"Type": "Parallel", "End": True, "Branches": [{"StartAt": "Train", "States": {"Train": train}}]}}),
        "Rule": {"Type": "AWS::Events::Rule", "Properties": {"ScheduleExpression": "cron(0 3 ? * MON *)",
                                                              "Targets": [{"Arn": {"Ref": "Machine"}, "Id": "T"}]}},
    }}
    mondays = sum(1 for month in range(1, 13) for week in calendar.monthcalendar(REFERENCE_YEAR, month) if week[0])
    runs = mondays / 12
    expected = runs * (3 * PROCESSING_MINUTES / 60 * PROCESSING["ml.m5.large"] + 2 * TRAINING_MINUTES / 60 * TRAINING["ml.m5.xlarge"])
    assert monthly(template) == pytest.approx(expected)
    [account] = price_accounts([stack(template)], small_table())
    assert account.always_on == 0 and account.scheduled == pytest.approx(expected)


def test_a_disabled_schedule_or_one_that_starts_no_state_machine_costs_nothing() -> None:
    template = {"Resources": {
        "Machine": state_machine({"Check": processing_state("ml.m5.large")}),
        "Off": {"Type": "AWS::Scheduler::Schedule", "Properties": {"ScheduleExpression": "rate(1 hour)", "State": "DISABLED",
                                                                    "Target": {"Arn": {"Ref": "Machine"}}}},
        "Elsewhere": {"Type": "AWS::Events::Rule", "Properties": {"ScheduleExpression": "rate(1 hour)",
                                                                   "Targets": [{"Arn": "arn:aws:lambda:eu-west-1:1:function:f", "Id": "T"}]}},
    }}
    assert template_usage(template) == []


def started_by(machine: str, arn: Any) -> dict[str, Any]:
    """A state machine that runs a transform job, then starts ``arn`` (fire and forget), as a batch run starts its
    drift check; the ARN inside its Fn::Join as CDK writes a reference."""
    transform = {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTransformJob.sync", "Next": "CheckDrift",
                 "Parameters": {"TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1}}}
    check = {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution", "End": True,
             "Parameters": {"StateMachineArn": "ARN_SPLIT", "Input": {"job.$": "$.transform.name"}}}
    text = json.dumps({"StartAt": "Transform", "States": {"Transform": transform, "CheckDrift": check}})
    head, tail = text.split("ARN_SPLIT")
    return {"Type": "AWS::StepFunctions::StateMachine", "Properties": {"DefinitionString": {"Fn::Join": ["", [head, arn, tail]]}},
            "Metadata": {"machine": machine}}


def test_a_scheduled_run_counts_the_jobs_of_the_state_machine_it_starts() -> None:
    # a daily batch run (365 / 12 runs a month) starts the drift check's machine, whose processing job runs once a run
    template = {"Resources": {
        "Drift": state_machine({"DriftJob": processing_state("ml.m5.large", 2)}),
        "Batch": started_by("Batch", {"Ref": "Drift"}),
        "Schedule": {"Type": "AWS::Scheduler::Schedule", "Properties": {"ScheduleExpression": "cron(0 4 * * ? *)",
                                                                         "Target": {"Arn": {"Ref": "Batch"}}}},
    }}
    runs = 365 / 12
    usages = {u.detail.split(":")[0]: u for u in template_usage(template)}
    assert set(usages) == {"Transform", "CheckDrift > DriftJob"}
    drift = usages["CheckDrift > DriftJob"]
    assert (drift.meter, drift.instance_type, drift.max_hours) == ("processing_run", "ml.m5.large", 1)
    assert drift.quantity == pytest.approx(2 * runs)
    [line] = [line for line in price_stack(stack(template), small_table()).lines if line.usage == drift]
    assert line.monthly == pytest.approx(2 * runs * PROCESSING_MINUTES / 60 * PROCESSING["ml.m5.large"])
    # referenced by its Arn attribute: the same
    template["Resources"]["Batch"] = started_by("Batch", {"Fn::GetAtt": ["Drift", "Arn"]})
    assert any(u.detail.startswith("CheckDrift > DriftJob") for u in template_usage(template))
    # the drift machine alone, started by nothing, costs nothing
    del template["Resources"]["Schedule"]
    assert template_usage(template) == []


def test_a_started_machine_the_template_does_not_hold_is_an_error_and_a_cycle_is_counted_once() -> None:
    schedule = {"Type": "AWS::Scheduler::Schedule", "Properties": {"ScheduleExpression": "rate(1 day)", "Target": {"Arn": {"Ref": "Batch"}}}}
    elsewhere = {"Resources": {"Batch": started_by("Batch", "arn:aws:states:eu-west-1:1:stateMachine:other"), "Schedule": schedule}}
    with pytest.raises(TemplateError, match=r"Batch state 'CheckDrift': StateMachineArn: .*same template.*stateMachine:other"):
        template_usage(elsewhere)
    itself = {"Resources": {"Batch": started_by("Batch", {"Ref": "Batch"}), "Schedule": schedule}}
    assert [u.detail.split(":")[0] for u in template_usage(itself)] == ["Transform"]


@pytest.mark.parametrize(("expression", "expected"), [
    ("rate(1 hour)", 730),
    ("rate(5 minutes)", 730 * 12),
    ("rate(1 day)", 730 / 24),
    ("cron(0 * * * ? *)", 8760 / 12),
    ("cron(15 2 * * ? *)", 365 / 12),
    ("cron(0/15 * * * ? *)", 4 * 8760 / 12),
    ("cron(0 6,18 1 * ? *)", 2 * 12 / 12),
])
def test_runs_per_month(expression: str, expected: float) -> None:
    assert runs_per_month(expression) == pytest.approx(expected)


def test_cron_days_of_week_count_from_sunday_as_aws_does() -> None:
    start, end = dt.datetime(REFERENCE_YEAR, 1, 1), dt.datetime(REFERENCE_YEAR, 1, 15)
    # 2025-01-01 is a Wednesday: the first Mondays are the 6th and the 13th; AWS's 2 is Monday, 1 Sunday
    assert list(schedule_times("cron(0 9 ? * MON *)", start, end)) == [dt.datetime(2025, 1, 6, 9), dt.datetime(2025, 1, 13, 9)]
    assert list(schedule_times("cron(0 9 ? * 2 *)", start, end)) == [dt.datetime(2025, 1, 6, 9), dt.datetime(2025, 1, 13, 9)]
    assert list(schedule_times("cron(30 23 ? * 1 *)", start, end)) == [dt.datetime(2025, 1, 5, 23, 30), dt.datetime(2025, 1, 12, 23, 30)]
    assert runs_per_month("cron(0 0 ? * WED *)") == pytest.approx(53 / 12)  # 2025 has 53 Wednesdays, 52 of every other day


def test_a_one_time_or_unreadable_schedule_is_an_error() -> None:
    with pytest.raises(TemplateError, match=r"Nightly: must be a rate\(\.\.\.\) or a six-field cron.*at\(2026-12-01T00:00:00\)"):
        runs_per_month("at(2026-12-01T00:00:00)", field="Nightly")
    with pytest.raises(TemplateError, match=r"day of month 'L'"):
        runs_per_month("cron(0 0 L * ? *)")


def test_a_job_instance_type_chosen_at_run_time_is_an_error() -> None:
    state = processing_state("ml.m5.large")
    state["Parameters"]["ProcessingResources"]["ClusterConfig"] = {"InstanceType.$": "$.type", "InstanceCount": 1}
    template = {"Resources": {
        "Machine": state_machine({"Check": state}),
        "Schedule": {"Type": "AWS::Scheduler::Schedule", "Properties": {"ScheduleExpression": "rate(1 hour)",
                                                                         "Target": {"Arn": {"Ref": "Machine"}}}},
    }}
    with pytest.raises(TemplateError, match=r"Machine state 'Check': ProcessingResources.ClusterConfig.InstanceType .*run time"):
        template_usage(template)


# --- what the price table does not know ------------------------------------------------------------------


def test_an_unknown_region_is_an_error_naming_the_known_ones() -> None:
    template = {"Resources": {"Key": {"Type": "AWS::KMS::Key", "Properties": {}}}}
    with pytest.raises(PriceError, match=r"region: 'ap-south-1' has no prices in the test table; known regions: eu-west-1"):
        price_stack(stack(template, region="ap-south-1"), small_table())


def test_an_unknown_instance_type_is_an_error_naming_the_known_ones() -> None:
    template = endpoint_template({"InstanceType": "ml.g5.xlarge", "InitialInstanceCount": 1})
    with pytest.raises(PriceError, match=r"Dev/Test Endpoint: instance type: 'ml.g5.xlarge' has no SageMaker hosting price for "
                                         r"eu-west-1 in the test table; known: ml.m5.large, ml.m5.xlarge"):
        price_stack(stack(template), small_table())


def test_a_known_type_without_a_price_for_that_use_is_an_error_too() -> None:
    # ml.m5.xlarge has a hosting price in the test table, no processing price
    template = {"Resources": {
        "Machine": state_machine({"Check": processing_state("ml.m5.xlarge")}),
        "Schedule": {"Type": "AWS::Scheduler::Schedule", "Properties": {"ScheduleExpression": "rate(1 hour)",
                                                                         "Target": {"Arn": {"Ref": "Machine"}}}},
    }}
    with pytest.raises(PriceError, match=r"'ml.m5.xlarge' has no SageMaker processing price .*known: ml.m5.large"):
        price_stack(stack(template), small_table())


def test_the_repository_price_table_has_a_page_a_date_and_a_source_for_every_price() -> None:
    table = PriceTable.load(PRICES_FILE)
    assert {"eu-west-1", "us-east-1"} <= set(table.regions)
    for meter, item in table.data["prices"].items():
        assert item["page"].startswith("https://aws.amazon.com/"), meter
        assert item["read"], meter
        for region in table.regions:
            entry = item["regions"][region]
            assert entry["price"] > 0 and entry["seen_in"], (meter, region)
    sagemaker = table.data["sagemaker"]
    assert sagemaker["page"].startswith("https://aws.amazon.com/") and sagemaker["read"]
    for use in ("hosting", "processing", "training"):
        for instance_type, by_region in sagemaker[use].items():
            for region in table.regions:
                assert by_region[region]["price"] > 0 and by_region[region]["seen_in"], (use, instance_type, region)


# --- assemblies -----------------------------------------------------------------------------------------


def write_assembly(directory: Path, artifacts: dict[str, Any], files: dict[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "manifest.json").write_text(json.dumps({"version": "55.0.0", "artifacts": artifacts}))
    for name, content in files.items():
        (directory / name).write_text(json.dumps(content))


def stack_artifact(template_file: str, account: str, name: str) -> dict[str, Any]:
    return {"type": "aws:cloudformation:stack", "environment": f"aws://{account}/eu-west-1", "displayName": name,
            "properties": {"templateFile": template_file, "stackName": name.lower().replace("/", "-")}}


def test_assembly_reads_nested_assemblies_and_nested_stacks(tmp_path: Path) -> None:
    def nested_stack(asset: str) -> dict[str, Any]:
        return {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": {"Fn::Join": ["", ["https://", "x"]]}},
                "Metadata": {"aws:asset:path": asset}}

    grandchild = {"Resources": {"Board": {"Type": "AWS::CloudWatch::Dashboard", "Properties": {}}}}
    nested_template = {"Resources": {"Api": vpc_endpoint("sagemaker.api", 2), "Deeper": nested_stack("Grandchild.nested.template.json")}}
    parent = {"Resources": {"Key": {"Type": "AWS::KMS::Key", "Properties": {}}, "Child": nested_stack("ChildStack.nested.template.json")}}
    write_assembly(tmp_path, {
        "Tooling": stack_artifact("Tooling.template.json", "111111111111", "Tooling"),
        "assembly-Dev": {"type": "cdk:cloud-assembly", "properties": {"directoryName": "assembly-Dev", "displayName": "Dev"}},
    }, {"Tooling.template.json": {"Resources": {}}})
    write_assembly(tmp_path / "assembly-Dev", {"DevNetwork": stack_artifact("DevNetwork.template.json", "222222222222", "Dev/Network")},
                   {"DevNetwork.template.json": parent, "ChildStack.nested.template.json": nested_template,
                    "Grandchild.nested.template.json": grandchild})
    stacks = assembly_usage(str(tmp_path))
    assert [(s.path, s.account) for s in stacks] == [("Tooling", "111111111111"), ("Dev/Network", "222222222222")]
    assert {u.resource: u.meter for u in stacks[1].usages} == {
        "Key": "kms_key", "Child/Api": "interface_endpoint", "Child/Deeper/Board": "dashboard"}
    [tooling, dev] = price_accounts(stacks, small_table())
    # the one dashboard is within the account's free tier
    assert (tooling.total, dev.total) == (0, pytest.approx(KEY_MONTH + 2 * ENDPOINT_HOUR * 730))
    assert sum(s.total for s in dev.stacks) == pytest.approx(KEY_MONTH + 2 * ENDPOINT_HOUR * 730 + DASHBOARD_MONTH)


def test_a_nested_stack_whose_template_is_missing_is_an_error(tmp_path: Path) -> None:
    parent = {"Resources": {"Child": {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": "https://x"}}}}
    write_assembly(tmp_path, {"S": stack_artifact("S.template.json", "111111111111", "Dev/S")}, {"S.template.json": parent})
    with pytest.raises(TemplateError, match=r"Dev/S: Child: nested stack's template not found"):
        assembly_usage(str(tmp_path))


def test_command_line_reports_an_unknown_region_plainly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_assembly(tmp_path, {"S": stack_artifact("S.template.json", "111111111111", "S")},
                   {"S.template.json": {"Resources": {"Key": {"Type": "AWS::KMS::Key", "Properties": {}}}}})
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["artifacts"]["S"]["environment"] = "aws://111111111111/ap-south-1"
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert cost.main(["--assembly", str(tmp_path)]) == 1
    assert "cost report: S Key: region: 'ap-south-1' has no prices in" in capsys.readouterr().err


# --- the default configuration --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def default_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("cost.out")
    cost.synthesize(str(REPO / "config" / "default.yaml"), str(outdir))
    return outdir


def templates_by_stack(directory: Path) -> dict[str, dict[str, Any]]:
    """Display name -> template, read here without stacks.cost_usage."""
    found: dict[str, dict[str, Any]] = {}
    manifest = json.loads((directory / "manifest.json").read_text())
    for artifact in manifest["artifacts"].values():
        if artifact["type"] == "cdk:cloud-assembly":
            found |= templates_by_stack(directory / artifact["properties"]["directoryName"])
        elif artifact["type"] == "aws:cloudformation:stack":
            found[artifact["displayName"]] = json.loads((directory / artifact["properties"]["templateFile"]).read_text())
    return found


def test_default_config_report_covers_every_account_and_stack_and_adds_up(default_assembly: Path, default_config: Any) -> None:
    table = PriceTable.load(PRICES_FILE)
    stacks = assembly_usage(str(default_assembly))
    templates = templates_by_stack(default_assembly)
    assert sorted(s.path for s in stacks) == sorted(templates)
    accounts = price_accounts(stacks, table)
    roles = default_config.accounts
    assert {a.account for a in accounts} == {roles.tooling, roles.dev, roles.staging, roles.prod}
    for account in accounts:
        assert account.total == pytest.approx(sum(s.total for s in account.stacks) + sum(f.monthly for f in account.free_tier))
        assert account.total == pytest.approx(account.always_on + account.scheduled)
        assert all(line.monthly >= 0 for s in account.stacks for line in s.lines)
    # every interface endpoint of every template is counted once per subnet, every key once
    for usage in stacks:
        resources = templates[usage.path]["Resources"].values()
        endpoint_zones = sum(len(r["Properties"]["SubnetIds"]) for r in resources
                             if r["Type"] == "AWS::EC2::VPCEndpoint" and r["Properties"].get("VpcEndpointType") == "Interface")
        assert sum(u.quantity for u in usage.usages if u.meter == "interface_endpoint") == endpoint_zones * HOURS_PER_MONTH, usage.path
        keys = sum(1 for r in resources if r["Type"] == "AWS::KMS::Key")
        assert sum(u.quantity for u in usage.usages if u.meter == "kms_key") == keys, usage.path
    # each stage's endpoint is counted with its configured instance type; the monitored ones have a drift job
    for stage in ("dev", "staging", "prod"):
        [endpoint] = [s for s in stacks if s.path.startswith(f"{stage.capitalize()}/") and s.path.endswith("/Endpoint")]
        hosting = [u for u in endpoint.usages if u.meter == "hosting"]
        assert [u.instance_type for u in hosting] == [default_config.stage(stage).endpoint.instance_type]
        monitored = stage in default_config.models[0].monitoring.stages
        assert any(u.meter == "processing_run" for u in endpoint.usages) == monitored, stage
    # the staging endpoint's off-hours scaling makes its average lower than its working-hours minimum
    [staging] = [s for s in stacks if s.path == "Staging/Release-churn/Endpoint"]
    [hosting] = [u for u in staging.usages if u.meter == "hosting"]
    assert 1 * HOURS_PER_MONTH < hosting.quantity < default_config.stage("staging").endpoint.instance_count * HOURS_PER_MONTH


def test_default_config_report_prints_accounts_totals_assumptions_and_exclusions(default_assembly: Path, default_config: Any,
                                                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert cost.main(["--assembly", str(default_assembly), "--config", str(REPO / "config" / "default.yaml")]) == 0
    out = capsys.readouterr().out
    roles = default_config.accounts
    for role in ("tooling", "dev", "staging", "prod"):
        assert f"Account {getattr(roles, role)} ({role}), eu-west-1" in out
    accounts = price_accounts(assembly_usage(str(default_assembly)), PriceTable.load(PRICES_FILE))
    grand = sum(a.total for a in accounts)
    assert "All 4 accounts" in out and cost.money(grand) in out.split("All 4 accounts", 1)[1].splitlines()[0]
    for heading in ("Assumptions", "Left out", "canary", "Storage and logs that grow", "Usage-priced services", "Data processing"):
        assert heading in out


def test_the_report_in_docs_cost_md_is_what_the_reader_prints_now(default_assembly: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """docs/cost.md quotes `make cost` of the default configuration: a change to the templates, the prices or the
    reader that changes the report must regenerate it (``python -m stacks.cost``), or the doc states a stale figure."""
    assert cost.main(["--assembly", str(default_assembly), "--config", str(REPO / "config" / "default.yaml")]) == 0
    printed = capsys.readouterr().out.replace(str(default_assembly), "config/default.yaml").rstrip("\n")
    doc = (REPO / "docs" / "cost.md").read_text()
    quoted = doc.split("## The default configuration's report", 1)[1].split("```\n", 2)[1].rstrip("\n")
    assert quoted == printed


def test_a_cheaper_table_changes_the_report(default_assembly: Path) -> None:
    """The report prices what the table says: halve the interface endpoint price, the network stacks halve."""
    table = PriceTable.load(PRICES_FILE)
    data = copy.deepcopy(table.data)
    data["prices"]["interface_endpoint"]["regions"]["eu-west-1"]["price"] /= 2
    cheaper = PriceTable(data)
    stacks = [s for s in assembly_usage(str(default_assembly)) if s.path.endswith("/Network")]
    for network in stacks:
        endpoints = lambda t: sum(l.monthly for l in price_stack(network, t).lines if l.usage.meter == "interface_endpoint")  # noqa: E731
        assert endpoints(cheaper) == pytest.approx(endpoints(table) / 2)


def test_default_config_counts_every_alarm_and_two_per_target_tracking_policy(default_assembly: Path) -> None:
    """Each stack's alarm metrics are its template's alarms and two per target tracking policy, counted here from the
    templates; the endpoints of every stage have such a policy."""
    stacks = assembly_usage(str(default_assembly))
    templates = templates_by_stack(default_assembly)
    for usage in stacks:
        resources = templates[usage.path]["Resources"].values()
        own = sum(sum(1 for m in r["Properties"]["Metrics"] if "MetricStat" in m) if r["Properties"].get("Metrics") else 1
                  for r in resources if r["Type"] == "AWS::CloudWatch::Alarm")
        policies = sum(1 for r in resources if r["Type"] == "AWS::ApplicationAutoScaling::ScalingPolicy"
                       and r["Properties"]["PolicyType"] == "TargetTrackingScaling")
        alarms = [u for u in usage.usages if u.meter in ("alarm_metric", "high_resolution_alarm_metric")]
        assert sum(u.quantity for u in alarms) == own + 2 * policies, usage.path
        assert sum(1 for u in alarms if u.created_by == AUTO_SCALING) == 2 * policies, usage.path
        if usage.path.endswith("/Endpoint"):
            assert policies == 1, usage.path
    # billed where the account's alarms exceed its free tier: the free tier takes off at most 10 alarm metrics
    table = PriceTable.load(PRICES_FILE)
    for account in price_accounts(stacks, table):
        used = sum(line.usage.quantity for s in account.stacks for line in s.lines if line.usage.meter == "alarm_metric")
        free = sum(f.units for f in account.free_tier if f.meter == "alarm_metric")
        assert free == min(used, table.free_per_account("alarm_metric")), account.account


def test_default_config_batch_runs_count_the_drift_check_each_starts(default_assembly: Path, default_config: Any) -> None:
    """A monitored batch-only model's drift job is priced once per run of the batch schedule of the config, in each
    stage its batch runs in; nowhere else."""
    stacks = {s.path: s for s in assembly_usage(str(default_assembly))}
    table = PriceTable.load(PRICES_FILE)
    checked = 0
    for model in default_config.models:
        if model.batch is None:
            continue
        for stage in model.batch.stages:
            batch = stacks[f"{stage.capitalize()}/Release-{model.name}/Batch"]
            drift = [u for u in batch.usages if u.meter == "processing_run" and "DriftJob" in u.detail]
            if not model.batch_drift_in(stage):
                assert drift == [], batch.path
                continue
            assert model.batch.schedule and model.monitoring is not None
            [usage] = drift
            assert usage.quantity == pytest.approx(runs_per_month(model.batch.schedule)), batch.path
            assert usage.instance_type == model.monitoring.instance_type
            [line] = [line for line in price_stack(batch, table).lines if line.usage is usage]
            price = table.price("processing_run", batch.region, usage.instance_type).value
            assert line.monthly == pytest.approx(usage.quantity * table.hours_per_run("processing_run") * price) and line.monthly > 0
            assert not line.always_on
            checked += 1
    assert checked == 2  # lead-scoring in staging and prod
