from mlops_constructs.storage.artifact_store import ArtifactStore

__all__ = ["ArtifactStore"]
