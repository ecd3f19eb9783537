"""Integration test 2: the model registry's approval flow, as deployed.

Two versions of a model are registered (a tiny placeholder archive: nothing is served), then:

1. approving version 1 releases it: the approved-model parameter holds it and the release pipeline has an
   execution started by the approval function (not only the one CodePipeline starts on creation);
2. approving version 2 releases version 2;
3. rejecting version 2, the released one, rolls back: the parameter holds version 1 again.

The versions and the parameter are deleted with the stack, passed or failed, so that the group can be. Costs
cents per run (five interface endpoints in one zone for well under an hour, one KMS key pending deletion); about
15 minutes.
"""

from __future__ import annotations

from _support import delete_versions_on_destroy, integ_app, integ_config, integ_stack, on_destroy

import aws_cdk as cdk
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import custom_resources as cr
from aws_cdk import integ_tests_alpha as integ

from mlops_constructs import IsolatedNetwork, ModelRegistry
from mlops_constructs.training.images import builtin_image_uri

app = integ_app()
config = integ_config()
stack = integ_stack(app, "registry-approval", config)
group = "mlops-integ-approval"

network = IsolatedNetwork(
    stack, "Network", availability_zones=stack.availability_zones, cidr="10.251.0.0/24",
    # What the approval function calls from the VPC (ModelRegistry's vpc parameter lists them).
    interface_endpoints=("sagemaker-api", "ssm", "codepipeline", "sns", "xray"),
    flow_log_retention=logs.RetentionDays.ONE_DAY, removal_policy=cdk.RemovalPolicy.DESTROY,
)
# The test's own bucket: the placeholder model archive and the release pipeline's artifacts.
bucket = s3.Bucket(
    stack, "Bucket", enforce_ssl=True, versioned=True, block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
    encryption=s3.BucketEncryption.S3_MANAGED, removal_policy=cdk.RemovalPolicy.DESTROY, auto_delete_objects=True,
)
# A stand-in for a model's release pipeline: started with the ModelPackageArn variable, it waits for a person
# (its source object does not exist, so an execution stops at the source; the test only looks at how it started).
source = codepipeline.Artifact("Source")
pipeline = codepipeline.Pipeline(
    stack, "Release", pipeline_type=codepipeline.PipelineType.V2, artifact_bucket=bucket,
    variables=[codepipeline.Variable(variable_name="ModelPackageArn", default_value="none")],
    stages=[
        codepipeline.StageProps(stage_name="Source", actions=[actions.S3SourceAction(
            action_name="Source", bucket=bucket, bucket_key="release/source.zip", output=source, trigger=actions.S3Trigger.NONE)]),
        codepipeline.StageProps(stage_name="Hold", actions=[actions.ManualApprovalAction(action_name="Hold")]),
    ],
)
registry = ModelRegistry(
    stack, "Registry", model_package_group_name=group, vpc=network.vpc, release_pipeline=pipeline,
    log_retention=logs.RetentionDays.ONE_DAY, removal_policy=cdk.RemovalPolicy.DESTROY,
)
# Clean-up with the stack, passed or failed: the two versions the assertions register (the group can be deleted only
# once they are), and the parameter the approval function writes, which is not in the stack (left over, it would
# hold an ARN the next run's versions have again, and the first check could pass on it).
delete_versions_on_destroy(stack, group, 2, before=registry)
on_destroy(stack, "DeleteParameterOnDestroy", cr.AwsSdkCall(
    service="SSM", action="deleteParameter", parameters={"Name": registry.approved_model_parameter_name},
    ignore_error_codes_matching="ParameterNotFound",
), [stack.format_arn(service="ssm", resource="parameter", resource_name=registry.approved_model_parameter_name.lstrip("/"))], registry)

test = integ.IntegTest(app, "RegistryApproval", test_cases=[stack], regions=[config.region], diff_assets=True)
calls = test.assertions
archive = calls.aws_api_call("S3", "putObject", {"Bucket": bucket.bucket_name, "Key": "model/model.tar.gz", "Body": "placeholder"})


def register(version: int) -> integ.IApiCall:
    return calls.aws_api_call("SageMaker", "createModelPackage", {
        "ModelPackageGroupName": group,
        "ModelPackageDescription": f"integration test version {version}",
        "ModelApprovalStatus": "PendingManualApproval",
        "InferenceSpecification": {
            "Containers": [{"Image": builtin_image_uri("xgboost", "1.7-1", config.region),
                            "ModelDataUrl": f"s3://{bucket.bucket_name}/model/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"],
        },
    })


def decide(arn: str, status: str) -> integ.IApiCall:
    return calls.aws_api_call("SageMaker", "updateModelPackage", {"ModelPackageArn": arn, "ModelApprovalStatus": status})


def released(arn: str) -> integ.IApiCall:
    """The approved-model parameter comes to hold ``arn`` within five minutes."""
    check = calls.aws_api_call("SSM", "getParameter", {"Name": registry.approved_model_parameter_name})
    check.expect(integ.ExpectedResult.object_like({"Parameter": {"Value": arn}}))
    check.wait_for_assertions(interval=cdk.Duration.seconds(15), total_timeout=cdk.Duration.minutes(5))
    return check


first, second = register(1), register(2)
# get_att_string adds the ``apiCallResponse.`` prefix (and the output path) itself: the path is the response's own
# (integ-tests-alpha lib/assertions/api-call-base.ts; "apiCallResponse.ModelPackageArn" would ask CloudFormation for
# the attribute apiCallResponse.apiCallResponse.ModelPackageArn, which the response does not have, and fail the deploy).
first_arn, second_arn = (v.get_att_string("ModelPackageArn") for v in (first, second))
started_by_function = calls.aws_api_call("CodePipeline", "listPipelineExecutions", {"pipelineName": pipeline.pipeline_name})
started_by_function.expect(integ.ExpectedResult.object_like({"pipelineExecutionSummaries": integ.Match.array_with([
    integ.Match.object_like({"trigger": integ.Match.object_like({"triggerType": "StartPipelineExecution"})}),
])}))
(archive.next(first).next(second)
 .next(decide(first_arn, "Approved")).next(released(first_arn)).next(started_by_function)
 .next(decide(second_arn, "Approved")).next(released(second_arn))
 .next(decide(second_arn, "Rejected")).next(released(first_arn)))

app.synth()
