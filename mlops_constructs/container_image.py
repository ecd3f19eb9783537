"""The image a SageMaker job or model runs in, and what its role needs to pull it.

Modelled on aws-sagemaker-alpha's ``ContainerImage``: one type for the three ways an image arrives, so a
construct takes an image rather than a URI string, and grants the pull it needs itself.

    ContainerImage.from_ecr_repository(store.repository, "1.4.2")   # a repository of yours (pull granted)
    ContainerImage.from_asset(self, "Image", "docker/")             # built from a Dockerfile by CDK (pull granted)
    ContainerImage.from_registry(builtin_image_uri("xgboost", "1.7-1", "eu-west-1"))   # SageMaker's own images

SageMaker pulls a job's or a model's image with that job's or model's execution role
(https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html): an image in your own ECR repository
needs ``ecr:BatchGetImage`` and ``ecr:GetDownloadUrlForLayer`` on it, and ``ecr:GetAuthorizationToken``,
which has no resource-level permissions. SageMaker's own images need no grant.
"""

from __future__ import annotations

import re

from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam

from constructs import Construct

from mlops_constructs._assets import IMAGE_BUILD_EXCLUDES
from mlops_constructs._dockerfiles import ECR_IMAGE, ecr_base_images
from mlops_constructs._validate import check_interface, check_pattern, check_type, is_token
from mlops_constructs.errors import PropsError

__all__ = ["PULL_ACTIONS", "ContainerImage", "ecr_base_images"]

_TAG_OR_DIGEST = re.compile(r"[\w][\w.-]{0,127}|sha256:[0-9a-f]{64}")
PULL_ACTIONS = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability")
"""What pulling an image from a repository takes, besides the registry login (``ecr:GetAuthorizationToken``)."""


class ContainerImage:
    """A container image for a SageMaker job or model. Create one with a ``from_`` method."""

    def __init__(self, image_uri: str, repository: ecr.IRepository | None = None) -> None:
        self.image_uri = image_uri
        """The image's URI (a token for a repository or an asset)."""
        self.repository = repository
        """The ECR repository the role must be allowed to pull from, or ``None`` when no grant is needed
        (SageMaker's own images, or an image given by URI)."""

    @staticmethod
    def from_registry(image_uri: str) -> ContainerImage:
        """An image by its URI: ``<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>`` (or
        ``@sha256:<digest>``), as SageMaker accepts it; a token is taken as it is. No pull is granted: for
        SageMaker's own images none is needed; for one of your repositories, use :meth:`from_ecr_repository`."""
        check_pattern("ContainerImage", "image_uri", image_uri, ECR_IMAGE,
                      "must be an ECR image URI, <account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag> or @sha256:<digest>")
        if not is_token(image_uri) and ":" not in image_uri.split("/", 1)[1] and "@" not in image_uri:
            raise PropsError("ContainerImage", "image_uri", image_uri, "must name a tag (:<tag>) or a digest (@sha256:<digest>)")
        return ContainerImage(image_uri)

    @staticmethod
    def from_ecr_repository(repository: ecr.IRepository, tag_or_digest: str = "latest") -> ContainerImage:
        """The image ``tag_or_digest`` (a tag, or ``sha256:<digest>``) of ``repository``; the role that runs it
        is granted the pull. Default tag: ``latest`` (with immutable tags, name the version instead)."""
        check_interface("ContainerImage", "repository", repository, "repository_uri_for_tag", "must be an ecr.IRepository")
        check_pattern("ContainerImage", "tag_or_digest", tag_or_digest, _TAG_OR_DIGEST,
                      "must be an image tag (up to 128 letters, digits, '_', '.', '-') or sha256:<64 hex digits>")
        digest = tag_or_digest.startswith("sha256:")
        uri = repository.repository_uri_for_digest(tag_or_digest) if digest else repository.repository_uri_for_tag(tag_or_digest)
        return ContainerImage(uri, repository)

    @staticmethod
    def from_docker_image_asset(asset: ecr_assets.DockerImageAsset) -> ContainerImage:
        """The image CDK builds from a Dockerfile and publishes (``cdk deploy``, or the delivery pipeline's
        asset step); the role that runs it is granted the pull."""
        check_type("ContainerImage", "asset", asset, ecr_assets.DockerImageAsset)
        return ContainerImage(asset.image_uri, asset.repository)

    @staticmethod
    def from_asset(scope: Construct, id: str, directory: str, *, file: str | None = None) -> ContainerImage:
        """The image CDK builds from the Dockerfile in ``directory`` (or ``file``, relative to it), for
        ``linux/amd64`` as SageMaker runs it, leaving out Python's bytecode caches (they would change the
        image's hash with no change to the code). At synthesis the folder is only copied and hashed: no Docker
        is needed until the asset is published. The role that runs it is granted the pull."""
        check_type("ContainerImage", "directory", directory, str)
        check_type("ContainerImage", "file", file, str, optional=True)
        asset = ecr_assets.DockerImageAsset(scope, id, directory=directory, file=file, platform=ecr_assets.Platform.LINUX_AMD64,
                                            exclude=IMAGE_BUILD_EXCLUDES)
        return ContainerImage.from_docker_image_asset(asset)

    @staticmethod
    def of(image: str | ContainerImage | ecr_assets.DockerImageAsset, construct: str, prop: str) -> ContainerImage:
        """``image`` as a ``ContainerImage``: a URI (:meth:`from_registry`), an image asset or an image."""
        if isinstance(image, ContainerImage):
            return image
        if isinstance(image, ecr_assets.DockerImageAsset):
            return ContainerImage.from_docker_image_asset(image)
        if isinstance(image, str):
            try:
                return ContainerImage.from_registry(image)
            except PropsError as err:
                raise PropsError(construct, prop, image, err.allowed) from None
        raise PropsError(construct, prop, image, "must be a ContainerImage, an ecr_assets.DockerImageAsset or an ECR image URI")

    def grant_pull(self, grantee: iam.IGrantable) -> iam.Grant | None:
        """Let ``grantee`` pull the image: the repository's pull actions and the registry login. ``None``
        when the image needs no grant."""
        if self.repository is None:
            return None
        grant = iam.Grant.add_to_principal(grantee=grantee, actions=list(PULL_ACTIONS), resource_arns=[self.repository.repository_arn])
        # GetAuthorizationToken has no resource-level permissions
        # (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerregistry.html).
        iam.Grant.add_to_principal(grantee=grantee, actions=["ecr:GetAuthorizationToken"], resource_arns=["*"])
        return grant
