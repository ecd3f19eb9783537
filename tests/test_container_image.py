"""ContainerImage: the three ways an image arrives, the pull each needs, and token-aware validation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template

from mlops_constructs.container_image import ContainerImage
from mlops_constructs.errors import PropsError
from tests.conftest import CDK_CONTEXT

ROOT = Path(__file__).resolve().parents[1]


def stack() -> cdk.Stack:
    return cdk.Stack(cdk.App(context=CDK_CONTEXT), "S", env=cdk.Environment(account="111111111111", region="eu-west-1"))


def test_an_image_of_your_repository_is_pulled_by_tag_or_digest_with_a_grant() -> None:
    s = stack()
    repository = ecr.Repository(s, "Repo")
    role = iam.Role(s, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    image = ContainerImage.from_ecr_repository(repository, "1.4.2")
    assert s.resolve(image.image_uri)["Fn::Join"][1][-1] == ":1.4.2"
    digest = "sha256:" + "ab" * 32
    assert s.resolve(ContainerImage.from_ecr_repository(repository, digest).image_uri)["Fn::Join"][1][-1] == "@" + digest
    assert image.grant_pull(role) is not None
    Template.from_stack(s).has_resource_properties("AWS::IAM::Policy", {"PolicyDocument": {"Statement": [
        {"Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], "Effect": "Allow",
         "Resource": {"Fn::GetAtt": [Match.string_like_regexp("^Repo"), "Arn"]}},
        {"Action": "ecr:GetAuthorizationToken", "Effect": "Allow", "Resource": "*"},
    ]}})


def test_an_image_by_uri_needs_no_grant_and_a_token_uri_is_taken_as_it_is() -> None:
    s = stack()
    role = iam.Role(s, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    sagemaker_image = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    image = ContainerImage.from_registry(sagemaker_image)
    assert image.image_uri == sagemaker_image and image.grant_pull(role) is None
    token_uri = ecr.Repository(s, "Repo").repository_uri_for_tag("7")
    assert ContainerImage.from_registry(token_uri).image_uri == token_uri  # validated at deploy time, not here


def test_an_image_built_from_a_dockerfile_is_an_amd64_asset_without_bytecode_caches(tmp_path: Path) -> None:
    app = cdk.App(context=CDK_CONTEXT, outdir=str(tmp_path))
    s = cdk.Stack(app, "S", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    image = ContainerImage.from_asset(s, "Image", str(ROOT / "examples" / "byo_regression" / "docker"))
    assert image.repository is not None
    cdk.CfnWaitConditionHandle(s, "Placeholder")
    app.synth()
    (asset,) = json.loads((tmp_path / "S.assets.json").read_text())["dockerImages"].values()
    assert asset["source"]["platform"] == "linux/amd64"
    assert (tmp_path / asset["source"]["directory"] / "Dockerfile").is_file()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda s: ContainerImage.from_registry("nginx:latest"), "ContainerImage: image_uri: must be an ECR image URI"),
        (lambda s: ContainerImage.from_registry("111111111111.dkr.ecr.eu-west-1.amazonaws.com/x"), "must name a tag"),
        (lambda s: ContainerImage.from_registry(42), "ContainerImage: image_uri: must be an ECR image URI"),
        (lambda s: ContainerImage.from_ecr_repository("my-repo"), "ContainerImage: repository: must be an ecr.IRepository (got 'my-repo')"),
        (lambda s: ContainerImage.from_ecr_repository(ecr.Repository(s, "R"), "two words"), "tag_or_digest: must be an image tag"),
        (lambda s: ContainerImage.of(3, "TrainingPipeline", "training_image"),
         "TrainingPipeline: training_image: must be a ContainerImage, an ecr_assets.DockerImageAsset or an ECR image URI (got 3)"),
        (lambda s: ContainerImage.of("docker.io/x:1", "TrainingPipeline", "training_image"), "TrainingPipeline: training_image: must be an ECR image URI"),
    ],
)
def test_a_wrong_image_names_the_field_the_value_and_what_is_allowed(make, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PropsError, match=re.escape(message)):
        make(stack())
