"""Integration test 3 (costly, opt-in: ``make integ INTEG_ARGS="--costly integ_training"``): the training
pipeline, end to end, on a tiny generated dataset with the cheapest instances it allows.

A 400-row CSV whose label is a clear function of the first feature is uploaded; one execution of the state
machine runs preprocessing, training (built-in XGBoost), evaluation and the gate (AUC >= 0.7), and must
succeed and leave version 1 in the model's package group, with the evaluation report as its model metrics.

Cost per run: three processing jobs and one training job on ml.m5.large (~15 minutes of instance time, about
$0.10 at eu-west-1 list prices) plus the pipeline's five interface endpoints (``TrainingPipeline.VPC_ENDPOINTS``) in
one zone for about an hour (~$0.05). About 30 minutes. The registered version is deleted with the stack (passed or failed) so that the group can be.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/integ, for _support

from _support import delete_versions_on_destroy, integ_app, integ_config, integ_stack  # noqa: E402

import aws_cdk as cdk  # noqa: E402
from aws_cdk import aws_logs as logs  # noqa: E402
from aws_cdk import aws_sagemaker as sagemaker  # noqa: E402
from aws_cdk import integ_tests_alpha as integ  # noqa: E402

from mlops_constructs import ArtifactStore, IsolatedNetwork, TrainingPipeline  # noqa: E402
from mlops_constructs.config import PROCESSING_FRAMEWORK  # noqa: E402
from mlops_constructs.training import Preprocessing  # noqa: E402
from mlops_constructs.training.images import builtin_image_uri  # noqa: E402

app = integ_app()
config = integ_config()
stack = integ_stack(app, "training", config)
group = "mlops-integ-training"
INSTANCE = "ml.m5.large"

network = IsolatedNetwork(
    stack, "Network", availability_zones=stack.availability_zones, cidr="10.252.0.0/24",
    # What the pipeline says its jobs need from inside the VPC, and no more (S3 is a gateway endpoint; the state
    # machine runs outside the VPC): a job that needs another fails the run.
    interface_endpoints=TrainingPipeline.VPC_ENDPOINTS,
    flow_log_retention=logs.RetentionDays.ONE_DAY, removal_policy=cdk.RemovalPolicy.DESTROY,
)
store = ArtifactStore(stack, "Store", removal_policy=cdk.RemovalPolicy.DESTROY, auto_delete_objects=True,
                      data_events_to_eventbridge=False, access_log_retention=cdk.Duration.days(1))
package_group = sagemaker.CfnModelPackageGroup(stack, "Group", model_package_group_name=group)
package_group.apply_removal_policy(cdk.RemovalPolicy.DESTROY)
pipeline = TrainingPipeline(
    stack, "Pipeline", model_name="integ", vpc=network.vpc, data_bucket=store.data_bucket, data_prefix="integ/raw/",
    artifact_bucket=store.artifact_bucket, encryption_key=store.encryption_key,
    training_image=builtin_image_uri("xgboost", "1.7-1", config.region),
    processing_image=builtin_image_uri(*PROCESSING_FRAMEWORK, config.region),
    model_package_group_name=group,
    hyperparameters={"objective": "binary:logistic", "num_round": "20", "max_depth": "3"},
    training_instance_type=INSTANCE, training_volume_size_gb=5, max_training_runtime=cdk.Duration.hours(1),
    processing_instance_type=INSTANCE, processing_volume_size_gb=5, max_processing_runtime=cdk.Duration.hours(1),
    preprocessing=Preprocessing(seed=7), metric_name="auc", metric_threshold=0.7,
    trigger_on_retrain_event=False, log_retention=logs.RetentionDays.ONE_DAY, removal_policy=cdk.RemovalPolicy.DESTROY,
)
pipeline.node.add_dependency(package_group)
# The version the run registers is deleted with the stack, passed or failed, so that the group can be.
delete_versions_on_destroy(stack, group, 1, before=package_group)

# label, then two features: the label is 1 exactly when the first feature is above 0.5 (deterministic data).
rows = random.Random(18)
data = "".join(
    f"{int(x > 0.5)},{x:.4f},{noise:.4f}\n" for x, noise in ((rows.random(), rows.random()) for _ in range(400))
)

test = integ.IntegTest(app, "Training", test_cases=[stack], regions=[config.region], diff_assets=True)
calls = test.assertions
upload = calls.aws_api_call("S3", "putObject", {"Bucket": store.data_bucket.bucket_name, "Key": "integ/raw/data.csv", "Body": data})
start = calls.aws_api_call("SFN", "startExecution", {"stateMachineArn": pipeline.state_machine.state_machine_arn})
finished = calls.aws_api_call("SFN", "describeExecution", {"executionArn": start.get_att_string("executionArn")})
# Only the status, not the whole response: expect() returns all of DescribeExecution's answer to CloudFormation,
# and with the run's output (its URIs, job names and evaluation report) that passes the 4,096 bytes a custom
# resource's response may have (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html).
# assert_at_path returns only the path asked for.
finished.assert_at_path("status", integ.ExpectedResult.exact("SUCCEEDED"))
# At most 55 minutes: the waiter answers CloudFormation only when it gives up, and CloudFormation stops waiting for a
# custom resource after an hour (ServiceTimeout, default and maximum 3600 s,
# https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-customresource.html);
# an hour of retries (60 x 60 s plus each attempt's own time) would fail the deploy with "did not receive a response"
# instead of the assertion's message.
finished.wait_for_assertions(interval=cdk.Duration.minutes(1), total_timeout=cdk.Duration.minutes(55))
# The assertion functions' own roles: the upload and the start encrypt with a customer managed key (S3 with the
# store's, https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html; Step Functions execution
# input with the pipeline's, and reading an execution decrypts it,
# https://docs.aws.amazon.com/step-functions/latest/dg/encryption-at-rest.html), as in costly/integ_drift.py.
upload.provider.add_to_role_policy({"Effect": "Allow", "Action": ["kms:GenerateDataKey"],
                                    "Resource": [store.encryption_key.key_arn, pipeline.key.key_arn]})
# describeExecution runs in the waiter's function, which has a role of its own.
assert isinstance(finished, integ.AwsApiCall) and finished.waiter_provider is not None
finished.waiter_provider.add_to_role_policy({"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [pipeline.key.key_arn]})
version = f"arn:{cdk.Aws.PARTITION}:sagemaker:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:model-package/{group}/1"
registered = calls.aws_api_call("SageMaker", "describeModelPackage", {"ModelPackageName": version})
registered.expect(integ.ExpectedResult.object_like({
    "ModelPackageGroupName": group,
    "ModelMetrics": integ.Match.object_like({"ModelQuality": integ.Match.object_like({"Statistics": integ.Match.object_like({
        "ContentType": "application/json"})})}),
}))
upload.next(start).next(finished).next(registered)

app.synth()
