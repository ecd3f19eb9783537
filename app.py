#!/usr/bin/env python3
"""The platform's CDK app: every stage of one configuration file.

    npx cdk synth                          # config/default.yaml
    npx cdk synth -c config=config/acme.yaml
"""

from __future__ import annotations

import sys

import aws_cdk as cdk

from mlops_constructs.compliance import open_findings, read_report
from mlops_constructs.config import ConfigError, load_config
from mlops_constructs.errors import PropsError
from stacks import build_platform

DEFAULT_CONFIG = "config/default.yaml"


def main() -> int:
    app = cdk.App()
    path = app.node.try_get_context("config") or DEFAULT_CONFIG
    try:
        config = load_config(path)
        build_platform(app, config)
    except (ConfigError, PropsError) as err:
        print(err, file=sys.stderr)
        return 1
    try:
        app.synth()
    except RuntimeError as err:
        if "ValidationFailed" not in str(err):
            raise
    # Findings in a stage do not always interrupt synthesis (under the CDK CLI they are only
    # reported), so the report is the gate: any open finding fails the app, one line each.
    findings = open_findings(read_report(app.outdir))
    if findings:
        print(f"{len(findings)} unacknowledged finding(s); see {app.outdir}/validation-report.json", file=sys.stderr)
        for line in findings:
            print(line, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
