"""Key policy statements the platform's keys carry, for keys of a team's own under the same packs and controls.

- :func:`allow_cloudwatch_logs`: CloudWatch Logs may use the key for log groups of its account and region
  (a KMS-encrypted log group, which the NIST 800-53, HIPAA and PCI packs ask for, needs it).
- :func:`deny_grants_except_for_aws_resources`: nobody hands the key on by a grant, except AWS services for
  their resources (Control Tower's CT.KMS.PR.3, checked by CloudFormation Guard).
- :func:`allow_dead_letters_and_alarms`: EventBridge may write undeliverable events to queues, and CloudWatch alarms
  publish to topics, encrypted with the key, on behalf of its account only (for EventBridge, when its request names
  an account).
- :func:`allow_alarms_to_publish`: a topic's policy lets its account's CloudWatch alarms publish (a topic policy
  replaces SNS's default one, which did).
"""

from mlops_constructs._keys import (
    allow_alarms_to_publish,
    allow_cloudwatch_logs,
    allow_dead_letters_and_alarms,
    deny_grants_except_for_aws_resources,
)

__all__ = ["allow_alarms_to_publish", "allow_cloudwatch_logs", "allow_dead_letters_and_alarms", "deny_grants_except_for_aws_resources"]
