"""Rules of SageMaker serving that both the configuration and the constructs check, in one place (no CDK here: the
configuration loads without it)."""

from __future__ import annotations

JOINABLE = {"text/csv": "text/csv", "application/json": "application/jsonlines", "application/jsonlines": "application/jsonlines"}
"""Input content types SageMaker joins with their predictions (``DataProcessing.JoinSource`` ``Input``), and the format
the joined output then has: a CSV row followed by the prediction is CSV, a JSON record gains a ``SageMakerOutput``
attribute (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DataProcessing.html, JoinSource)."""


def joined_output_problem(join_source: str, content_type: str, accept: str) -> tuple[str, str, str] | None:
    """``(prop, value, what is allowed)`` when a batch transform joined with its input (``join_source`` ``Input``)
    would write output the results table, which reads ``accept``, cannot read; ``None`` otherwise."""
    if join_source != "Input":
        return None
    joined = JOINABLE.get(content_type)
    if joined is None:
        return ("content_type", content_type,
                "must be text/csv, application/json or application/jsonlines with join_source Input: SageMaker joins CSV and JSON input only")
    if accept != joined:
        return ("accept", accept, f"must be {joined} with join_source Input and content_type {content_type}: the joined output keeps the "
                                  "input's format, which the results table reads")
    return None


def gradual_deployment_problem(instance_type: str, strategy: str) -> str | None:
    """Why ``instance_type`` cannot take a ``strategy`` (CANARY, LINEAR) deployment, or ``None``: SageMaker deploys to
    ml.inf1 instances all at once, without a final baking period
    (https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-exclusions.html)."""
    if strategy != "ALL_AT_ONCE" and instance_type.startswith("ml.inf1."):
        return (f"cannot be used with deployment {strategy}: SageMaker deploys to ml.inf1 instances all at once, without a "
                "canary or linear steps and without a final baking period; use ml.inf2, or deployment ALL_AT_ONCE knowingly")
    return None
