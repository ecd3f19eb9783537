"""The benchmark's floor: the smallest CDK app, one stack with one resource.

Synthesized through the same CDK CLI, Python (``python -O``, as cdk.json runs app.py) and Node as the
platform's app (see bench/run.py), and created with the same settings (``app_settings``: no built-in
template validation, no creation stack traces, no cyclic garbage collector, no interpreter teardown), it measures what every synthesis of the
platform pays before the platform's own code runs: the CLI, the Python interpreter, importing aws_cdk and
starting the jsii Node runtime that loads aws-cdk-lib.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root, for app_settings

import jsii_launcher  # noqa: E402
from app_settings import exit_after_synthesis, new_bare_app, tune_for_one_synthesis  # noqa: E402  (none of the platform's code)

tune_for_one_synthesis()  # before aws_cdk's import, as app.py
jsii_launcher.configure(preload="floor")  # the kernel started as the platform's app starts it, with its own memory

import aws_cdk as cdk  # noqa: E402

app = new_bare_app()
stack = cdk.Stack(app, "Empty")
cdk.CfnWaitConditionHandle(stack, "Placeholder")  # a core resource type: no further module to load
app.synth()
exit_after_synthesis(0)  # as app.py ends
