"""Integration test 2: the model registry's approval flow, as deployed.

Two versions of a model are registered (a tiny placeholder archive: nothing is served), then:

1. approving version 1 releases it: the approved-model parameter holds it;
2. approving version 2 releases version 2;
3. rejecting version 2, the released one, rolls back: the parameter holds version 1 again;
4. the release pipeline was started by the approval function three times, with the ``ModelPackageArn`` variable
   version 1, version 2, version 1 (a probe reads each execution's variables; CodePipeline's own execution on
   creation does not count).

The versions and the parameter are deleted with the stack, passed or failed, so that the group can be. Costs
cents per run (nine interface endpoints in one zone for well under an hour, one KMS key pending deletion); about
15 minutes.
"""

from __future__ import annotations

from _support import delete_versions_on_destroy, integ_app, integ_config, integ_stack, on_destroy, probe_function

import aws_cdk as cdk
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_iam as iam
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
    interface_endpoints=ModelRegistry.VPC_ENDPOINTS,  # what the registry says its function may call from the VPC
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
# How the approval function started the release pipeline, read after the last decision (it starts the pipeline
# before it writes the parameter, so every start is in by then): one execution per release, each with the package it
# released, in order. Anything else (no start, a second start for one event, another package) fails the assertion.
release_probe = probe_function(stack, "ReleaseProbe", "release_probe", PIPELINE=pipeline.pipeline_name)
release_probe.add_to_role_policy(iam.PolicyStatement(
    actions=["codepipeline:ListPipelineExecutions", "codepipeline:GetPipelineExecution"], resources=[pipeline.pipeline_arn]))
releases = calls.invoke_function(function_name=release_probe.function_name)
releases.expect(integ.ExpectedResult.object_like({
    "StatusCode": 200, "Payload": integ.Match.serialized_json({"released": [first_arn, second_arn, first_arn]}),
}))
(archive.next(first).next(second)
 .next(decide(first_arn, "Approved")).next(released(first_arn))
 .next(decide(second_arn, "Approved")).next(released(second_arn))
 .next(decide(second_arn, "Rejected")).next(released(first_arn))
 .next(releases))

app.synth()
