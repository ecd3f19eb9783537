from mlops_constructs.monitoring.drift_monitor import BASELINE_METADATA_KEY, DRIFT_NAMESPACE, DriftMonitor

__all__ = ["BASELINE_METADATA_KEY", "DRIFT_NAMESPACE", "DriftMonitor"]
