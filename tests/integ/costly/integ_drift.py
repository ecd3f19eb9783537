"""Integration test 5 (costly, opt-in: ``make integ INTEG_ARGS="--costly integ_drift"``): the drift check on
captured data with a known shift raises its alarm, and on unshifted data does not.

Two ``DriftMonitor`` s on one baseline (1,000 rows of three features: ``tenure``, ``spend``, ``plan``): one reads
captured requests whose ``spend`` mean moved by four standard deviations, the other a fresh draw of the baseline's
own distributions (500 rows each, pinned by a seed). No endpoint is created: a probe function writes the rows to S3
as SageMaker's data capture would have (``probes/drift_capture.py``: the hour a check reads is known only at run
time). The baseline is uploaded, and registered in version 1 of a model package group (``DriftBaselineS3Uri``, as
the training pipeline does); then one execution of each monitor's state machine runs the real job (the image
CDK builds from ``drift_job/Dockerfile``, in the isolated VPC with the interface endpoints the monitor says it
needs) and must succeed with:

- shifted: 500 captured rows, ``DriftedShare`` 1/3 (``spend`` alone), and the ``<name>-drift`` alarm in ALARM
  (threshold 0.3);
- unshifted: 500 rows, ``DriftedShare`` 0 published under the dimensions its alarm watches, and its alarm OK (with
  ``TreatMissingData: ignore`` an alarm that never sees a data point stays INSUFFICIENT_DATA, so OK is the check's
  verdict; the test waits for the data point first, so that a wait that fails says what was missing).

tests/test_integ.py runs the drift job's script offline on the data in this app's snapshot and checks it gives
those shares. The schedules are disabled: the checks are started by the test, and a scheduled one running during
the destroy would hold network interfaces in the subnets.

**Needs Docker** where it runs: the deployment builds the job's image (Python, Evidently, pandas, SciPy) and
pushes it to the account's CDK asset repository (synthesis, and so the snapshot, needs no Docker).

Cost per run (estimate, eu-west-1 list prices): two processing jobs on ml.m5.large (~5 minutes each with the image
pull: ~$0.02), four interface endpoints in one zone for under an hour (~$0.04 with the image's traffic), four KMS
keys, eight alarms, a few metrics and Step Functions transitions for that hour (under $0.01): about $0.07. The image,
a few hundred MB, stays in the CDK asset repository after the destroy, as every asset does (cents a month until
removed), and the jobs' logs in ``/aws/sagemaker/ProcessingJobs``. About 35 minutes, much of it building and pushing
the image.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/integ, for _support

from _support import TAG, integ_app, integ_config, integ_stack, probe_function  # noqa: E402

import aws_cdk as cdk  # noqa: E402
from aws_cdk import aws_cloudwatch as cloudwatch  # noqa: E402
from aws_cdk import aws_logs as logs  # noqa: E402
from aws_cdk import aws_sagemaker as sagemaker  # noqa: E402
from aws_cdk import aws_scheduler as scheduler  # noqa: E402
from aws_cdk import aws_sns as sns  # noqa: E402
from aws_cdk import integ_tests_alpha as integ  # noqa: E402

from mlops_constructs import ArtifactStore, DriftMonitor, IsolatedNetwork  # noqa: E402
from mlops_constructs.monitoring.drift_monitor import BASELINE_METADATA_KEY  # noqa: E402
from mlops_constructs.training.images import builtin_image_uri  # noqa: E402

app = integ_app()
config = integ_config()
stack = integ_stack(app, "drift", config)
group = "mlops-integ-drift"
CAPTURE_PREFIX = "data-capture/"
BASELINE_PREFIX = "baseline/"
THRESHOLD = 0.3
"""The drift alarm's threshold: one drifted feature of three (1/3) reaches it, none (0) does not."""

# -- the data: a baseline, a capture with a known shift in one feature, one without ------------------------------
rng = random.Random(3)  # the seed is pinned: tests/test_integ.py checks what the job makes of this data
PLANS = (("basic", 0.5), ("plus", 0.3), ("pro", 0.2))


def normal(mean: float, sd: float) -> float:
    """An (Irwin-Hall) normal draw from ``random()`` alone, whose sequence Python keeps across versions."""
    return mean + sd * (sum(rng.random() for _ in range(12)) - 6)


def plan() -> str:
    u = rng.random()
    for name, share in PLANS:
        if u < share:
            return name
        u -= share
    return PLANS[-1][0]


def rows(n: int, spend_shift_sd: float = 0.0) -> str:
    """``n`` CSV rows ``tenure,spend,plan``; ``spend``'s mean moved by ``spend_shift_sd`` standard deviations."""
    return "".join(f"{normal(36, 12):.1f},{normal(70 + 15 * spend_shift_sd, 15):.2f},{plan()}\n" for _ in range(n))


baseline = "tenure,spend,plan\n" + rows(1000)
captured = {"shifted": rows(500, spend_shift_sd=4.0), "steady": rows(500)}

# -- the stack ---------------------------------------------------------------------------------------------
network = IsolatedNetwork(
    stack, "Network", availability_zones=stack.availability_zones, cidr="10.253.0.0/24",
    interface_endpoints=DriftMonitor.VPC_ENDPOINTS,  # what the monitor says its job needs (S3 is a gateway endpoint)
    flow_log_retention=logs.RetentionDays.ONE_DAY, removal_policy=cdk.RemovalPolicy.DESTROY,
)
store = ArtifactStore(stack, "Store", removal_policy=cdk.RemovalPolicy.DESTROY, auto_delete_objects=True,
                      data_events_to_eventbridge=False, access_log_retention=cdk.Duration.days(1))
bucket = store.artifact_bucket  # the baseline, the capture and the reports, encrypted with the store's key
topic = sns.Topic(stack, "Notifications", enforce_ssl=True)
package_group = sagemaker.CfnModelPackageGroup(stack, "Group", model_package_group_name=group)
package_group.apply_removal_policy(cdk.RemovalPolicy.DESTROY)
# The version the monitors compare with: what the training pipeline registers, without a model to serve (nothing
# is deployed from it). Part of the stack, so that the destroy deletes it (then the group) whatever the outcome.
package = sagemaker.CfnModelPackage(
    stack, "Version", model_package_group_name=group, model_approval_status="Approved",
    model_package_description="integration test: the drift baseline's version",
    inference_specification=sagemaker.CfnModelPackage.InferenceSpecificationProperty(
        containers=[sagemaker.CfnModelPackage.ModelPackageContainerDefinitionProperty(
            image=builtin_image_uri("xgboost", "1.7-1", config.region))],
        supported_content_types=["text/csv"], supported_response_mime_types=["text/csv"],
    ),
    customer_metadata_properties={BASELINE_METADATA_KEY: f"s3://{bucket.bucket_name}/{BASELINE_PREFIX}"},
)
package.apply_removal_policy(cdk.RemovalPolicy.DESTROY)
package.node.add_dependency(package_group)
# A version in a group takes the group's tags and may not be given any: "If you supply ModelPackageGroupName ... you
# cannot supply a tag argument" (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateModelPackage.html).
cdk.Tags.of(package).remove(TAG)

monitors = {
    name: DriftMonitor(
        stack, name.title(), endpoint_name=f"mlops-integ-drift-{name}", model_package_arn=package.attr_model_package_arn,
        capture_bucket=bucket, capture_prefix=CAPTURE_PREFIX, baseline_bucket=bucket, vpc=network.vpc,
        encryption_key=store.encryption_key, notification_topic=topic, drift_threshold=THRESHOLD,
        log_retention=logs.RetentionDays.ONE_DAY, removal_policy=cdk.RemovalPolicy.DESTROY,
    )
    for name in captured
}
for monitor in monitors.values():
    schedule = monitor.check_schedule.node.default_child
    assert isinstance(schedule, scheduler.CfnSchedule)
    schedule.state = "DISABLED"  # the test starts each check once; see the docstring

capture_writer = probe_function(stack, "CaptureWriter", "drift_capture", BUCKET=bucket.bucket_name)
bucket.grant_put(capture_writer, f"{CAPTURE_PREFIX}*")

# -- the assertions ----------------------------------------------------------------------------------------
test = integ.IntegTest(app, "Drift", test_cases=[stack], regions=[config.region], diff_assets=True)
calls = test.assertions
upload = calls.aws_api_call("S3", "putObject", {"Bucket": bucket.bucket_name, "Key": f"{BASELINE_PREFIX}baseline.csv", "Body": baseline})
# The assertion functions' own roles: the upload and the starts encrypt with a customer managed key (S3 with the
# store's, https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html; Step Functions execution
# input with each monitor's, and reading an execution's output decrypts it,
# https://docs.aws.amazon.com/step-functions/latest/dg/encryption-at-rest.html).
machine_keys = [monitor.key.key_arn for monitor in monitors.values()]
upload.provider.add_to_role_policy({"Effect": "Allow", "Action": ["kms:GenerateDataKey"],
                                    "Resource": [store.encryption_key.key_arn, *machine_keys]})


def write_capture(name: str) -> integ.IApiCall:
    """The probe writes ``name``'s rows where its monitor's next check looks (and they are all read: 167 requests)."""
    monitor = monitors[name]
    call = calls.invoke_function(function_name=capture_writer.function_name, payload=json.dumps({
        "prefix": f"{CAPTURE_PREFIX}{monitor.endpoint_name}/AllTraffic/", "rows": captured[name]}))
    call.expect(integ.ExpectedResult.object_like({"Payload": integ.Match.serialized_json(
        integ.Match.object_like({"requests": 167, "rows": 500}))}))
    return call


def start(name: str) -> integ.IApiCall:
    # StartExecution's input is optional; the check reads none of it (its window comes from the start time).
    # https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html
    return calls.aws_api_call("SFN", "startExecution", {"stateMachineArn": monitors[name].state_machine.state_machine_arn})


def finished(execution: integ.IApiCall, drifted_share: float) -> integ.IApiCall:
    """The execution succeeds, and its output (the state, ending with the ``metric_data.json`` the job wrote and the
    machine published, under ``metrics.data``) has 500 captured rows and the drifted share expected.
    DescribeExecution's ``output`` is a JSON string, set only when the execution succeeded:
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeExecution.html"""
    check = calls.aws_api_call("SFN", "describeExecution", {"executionArn": execution.get_att_string("executionArn")})
    check.expect(integ.ExpectedResult.object_like({
        "status": "SUCCEEDED",
        "output": integ.Match.serialized_json(integ.Match.object_like({"metrics": {"data": integ.Match.array_with([
            integ.Match.object_like({"MetricName": "CapturedRows", "Value": 500}),
            integ.Match.object_like({"MetricName": "DriftedShare", "Value": drifted_share}),
        ])}})),
    }))
    # The job's image pull and Evidently's import take minutes. At most 55 minutes: the waiter answers CloudFormation
    # only when it gives up, and CloudFormation stops waiting for a custom resource after an hour (ServiceTimeout,
    # default and maximum 3600 s, https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-customresource.html);
    # an hour of retries (60 x 60 s plus each attempt's time) would fail with "did not receive a response" instead.
    check.wait_for_assertions(interval=cdk.Duration.minutes(1), total_timeout=cdk.Duration.minutes(55))
    return check


def alarm_state(name: str, state: str) -> integ.IApiCall:
    """The monitor's drift alarm reaches ``state``. Its period is an hour, but an alarm's window slides: it is evaluated
    again as data points arrive, not at the hour's end
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-evaluation-window.html).
    DescribeAlarms answers ``MetricAlarms``, each with its ``StateValue``:
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html"""
    alarm = monitors[name].drift_alarm
    check = calls.aws_api_call("CloudWatch", "describeAlarms", {"AlarmNames": [alarm.alarm_name]})
    check.expect(integ.ExpectedResult.object_like({"MetricAlarms": [
        integ.Match.object_like({"AlarmName": alarm.alarm_name, "StateValue": state})]}))
    check.wait_for_assertions(interval=cdk.Duration.seconds(30), total_timeout=cdk.Duration.minutes(15))
    return check


def published(name: str) -> integ.IApiCall:
    """CloudWatch has a recent ``DriftedShare`` for exactly the dimensions of the monitor's drift alarm: the alarm sees
    the check's value, so its state is the value's verdict (without one it would stay INSUFFICIENT_DATA: the alarm
    keeps its state when data is missing). ``RecentlyActive: PT3H`` lists only metrics with data points in the past three hours, and a new
    metric can take up to 15 minutes to be listed
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_ListMetrics.html)."""
    metric = monitors[name].drift_alarm.metric
    assert isinstance(metric, cloudwatch.Metric) and metric.dimensions is not None
    dimensions = [{"Name": key, "Value": value} for key, value in sorted(metric.dimensions.items())]
    check = calls.aws_api_call("CloudWatch", "listMetrics", {
        "Namespace": metric.namespace, "MetricName": metric.metric_name, "Dimensions": dimensions, "RecentlyActive": "PT3H"})
    check.expect(integ.ExpectedResult.object_like({"Metrics": [
        {"Namespace": metric.namespace, "MetricName": metric.metric_name, "Dimensions": dimensions}]}))
    check.wait_for_assertions(interval=cdk.Duration.seconds(30), total_timeout=cdk.Duration.minutes(20))
    return check


shifted_start, steady_start = start("shifted"), start("steady")
shifted_done, steady_done = finished(shifted_start, 1 / 3), finished(steady_start, 0)
# The waiting calls share one function, with a role of its own.
assert isinstance(shifted_done, integ.AwsApiCall) and shifted_done.waiter_provider is not None
shifted_done.waiter_provider.add_to_role_policy({"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": machine_keys})
(upload.next(write_capture("shifted")).next(write_capture("steady"))
 .next(shifted_start).next(steady_start)  # both checks run at once
 .next(shifted_done).next(steady_done)
 .next(alarm_state("shifted", "ALARM"))
 # The unshifted check published 0 (above) before the shifted alarm went off: its alarm has had as long to see it.
 .next(published("steady")).next(alarm_state("steady", "OK")))

app.synth()
