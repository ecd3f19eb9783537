"""A directory of scripts as the ``sourcedir.tar.gz`` SageMaker's framework containers run in script mode.

The SageMaker Python SDK ships a script-mode ``source_dir`` as a gzipped tar archive, and the training
toolkit in the framework containers unpacks ``sagemaker_submit_directory`` with ``tarfile.open(mode="r:gz")``
(https://github.com/aws/sagemaker-training-toolkit/blob/master/src/sagemaker_training/files.py,
``download_and_extract``). CDK's directory assets are ZIP files, so the archive is made here by CDK local
bundling, in Python and without Docker: one deterministic ``.tar.gz`` (sorted entries, no timestamps,
owners or modes of the machine that synthesizes), so the same sources give the same asset hash.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, BundlingOutput, DockerImage, ILocalBundling
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

ARCHIVE_NAME = "sourcedir.tar.gz"
"""The archive's file name in the bundling output (its asset object key ends with ``.gz``)."""
NOT_SHIPPED = ("__pycache__", ".pytest_cache", ".git", ".venv", ".DS_Store")
"""Names (files or directories, at any depth) left out of the archive, besides ``*.pyc``."""


def write_archive(source_dir: str | Path, target: str | Path) -> None:
    """Write ``source_dir``'s files (relative names, sorted; symlinks followed) as a reproducible ``.tar.gz`` to ``target``."""
    root = Path(source_dir)
    files = sorted(
        path for path in root.rglob("*")
        if path.is_file() and path.suffix != ".pyc" and not any(part in NOT_SHIPPED for part in path.relative_to(root).parts)
    )
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path in files:
            info = tarfile.TarInfo(path.relative_to(root).as_posix())
            data = path.read_bytes()
            info.size, info.mtime, info.uid, info.gid, info.uname, info.gname = len(data), 0, 0, 0, "", ""
            info.mode = 0o755 if os.access(path, os.X_OK) else 0o644
            archive.addfile(info, io.BytesIO(data))
    with open(target, "wb") as out, gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as zipped:
        zipped.write(buffer.getvalue())


@jsii.implements(ILocalBundling)
class _TarGzBundling:
    def __init__(self, source_dir: str) -> None:
        self._source_dir = source_dir

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_: object) -> bool:  # noqa: ARG002 - the Docker image is never used
        write_archive(self._source_dir, Path(output_dir) / ARCHIVE_NAME)
        return True


def source_archive(scope: Construct, id: str, source_dir: str) -> s3_assets.Asset:
    """An asset holding ``source_dir`` as ``sourcedir.tar.gz``, hashed from the sources at synth.

    :param source_dir: the directory to ship; resolved against the working directory of the synthesis.
    """
    return s3_assets.Asset(
        scope, id,
        path=str(source_dir),
        asset_hash_type=AssetHashType.SOURCE,
        exclude=[*NOT_SHIPPED, "*.pyc"],
        bundling=BundlingOptions(
            # Never pulled: local bundling always succeeds. CDK requires an image all the same.
            image=DockerImage.from_registry("local-bundling-only"),
            local=_TarGzBundling(str(source_dir)),
            output_type=BundlingOutput.SINGLE_FILE,
        ),
    )
