"""Lists what the approval function released through a pipeline: the ``ModelPackageArn`` variable of each execution
started by ``StartPipelineExecution``, oldest first.

Returns ``{"released": [<arn>, ...]}`` for the integration test's assertion to compare with the decisions it made.
Executions are ordered by their start time here: AWS's API reference says ListPipelineExecutions returns "the most
recent executions" without promising an order
(https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_ListPipelineExecutions.html), and a summary has no
variables, which GetPipelineExecution returns as ``variables[].resolvedValue``
(https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_GetPipelineExecution.html).
"""

from __future__ import annotations

import os

import boto3

VARIABLE = "ModelPackageArn"


def handler(event: dict, context: object) -> dict:
    pipeline = os.environ["PIPELINE"]
    codepipeline = boto3.client("codepipeline", region_name=os.environ["AWS_REGION"])
    summaries = [
        summary
        for page in codepipeline.get_paginator("list_pipeline_executions").paginate(pipelineName=pipeline)
        for summary in page["pipelineExecutionSummaries"]
        # Not the execution CodePipeline starts when the pipeline is created (CreatePipeline).
        if (summary.get("trigger") or {}).get("triggerType") == "StartPipelineExecution"
    ]
    released = []
    for summary in sorted(summaries, key=lambda s: s["startTime"]):
        execution = codepipeline.get_pipeline_execution(pipelineName=pipeline, pipelineExecutionId=summary["pipelineExecutionId"])
        variables = {v["name"]: v.get("resolvedValue") for v in execution["pipelineExecution"].get("variables") or []}
        released.append(variables.get(VARIABLE))
    return {"released": released}
