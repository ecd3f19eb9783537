"""The benchmark's floor: the smallest CDK app, one stack with one resource.

Synthesized through the same CDK CLI, Python and Node as the platform's app (see bench/run.py), it
measures what every synthesis pays before the platform's own code runs: the CLI, the Python
interpreter, importing aws_cdk and starting the jsii Node runtime that loads aws-cdk-lib.
"""

import aws_cdk as cdk

app = cdk.App()
stack = cdk.Stack(app, "Empty")
cdk.CfnWaitConditionHandle(stack, "Placeholder")  # a core resource type: no further module to load
app.synth()
