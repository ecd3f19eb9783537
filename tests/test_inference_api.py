"""InferenceApi: what its template holds (authorization on every method, the WAF web ACL and its association,
logging, throttling, request validation, TLS), its props' errors, cdk-nag clean, and the direct integration's
error mapping rendered in process (tests/vtl.py) against SageMaker's answers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_

from mlops_constructs import CanaryEndpoint, InferenceApi, PropsError, add_compliance_checks
from mlops_constructs.compliance import open_findings, read_report
from mlops_constructs.serving import inference_api
from tests.conftest import resources
from tests.vtl import render

ACCOUNT, REGION = "333333333333", "eu-west-1"
ENDPOINT = "mlops-demo-staging-churn"
ENDPOINT_ARN = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":sagemaker:{REGION}:{ACCOUNT}:endpoint/{ENDPOINT}"]]}
POOL_ARN = f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{REGION}_AbCdEf123"


def build(outdir: Path | None = None, *, logging_role: bool = False, **props: Any) -> tuple[cdk.App, cdk.Stack, InferenceApi]:
    """An API in front of an imported endpoint; ``props`` may be callables of the stack (for constructs)."""
    app = cdk.App(outdir=str(outdir) if outdir else None)
    stack = cdk.Stack(app, "Api", env=cdk.Environment(account=ACCOUNT, region=REGION))
    endpoint = CanaryEndpoint.from_endpoint_name(stack, "Endpoint", ENDPOINT)
    values = {k: (v(stack) if callable(v) else v) for k, v in props.items()}
    api = InferenceApi(stack, "Inference", endpoint=endpoint, **values)
    if logging_role:
        InferenceApi.account_logging_role(stack, "ApiGatewayLogging")
    return app, stack, api


def template(**props: Any) -> dict[str, Any]:
    app, stack, _ = build(**props)
    return app.synth().get_stack_by_name(stack.stack_name).template


def one(t: dict[str, Any], type_: str) -> dict[str, Any]:
    (resource,) = resources(t, type_).values()
    return resource["Properties"]


@pytest.fixture(scope="module")
def default() -> dict[str, Any]:
    return template()


def vpc_endpoint(stack: cdk.Stack) -> ec2.IInterfaceVpcEndpoint:
    return ec2.InterfaceVpcEndpoint.from_interface_vpc_endpoint_attributes(stack, "Vpce", vpc_endpoint_id="vpce-0123456789abcdef0", port=443)


def user_pools(stack: cdk.Stack) -> list[cognito.IUserPool]:
    return [cognito.UserPool.from_user_pool_arn(stack, "Pool", POOL_ARN)]


# -- what it creates --------------------------------------------------------------------------------


def test_every_method_is_authorized_with_iam_by_default(default: dict[str, Any]) -> None:
    methods = [r["Properties"] for r in resources(default, "AWS::ApiGateway::Method").values()]
    assert [m["HttpMethod"] for m in methods] == ["POST"]  # no OPTIONS, no ANY: one method
    assert all(m["AuthorizationType"] == "AWS_IAM" for m in methods)


def test_cognito_or_an_authorizer_of_your_own_replaces_iam_and_nothing_is_ever_open() -> None:
    t = template(user_pools=user_pools, authorization_scopes=["churn/invoke"])
    (method,) = [r["Properties"] for r in resources(t, "AWS::ApiGateway::Method").values()]
    assert method["AuthorizationType"] == "COGNITO_USER_POOLS" and method["AuthorizationScopes"] == ["churn/invoke"]
    assert one(t, "AWS::ApiGateway::Authorizer")["ProviderARNs"] == [POOL_ARN]

    def token_authorizer(stack: cdk.Stack) -> Any:
        function = lambda_.Function.from_function_attributes(stack, "Jwt", function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:jwt",
                                                             same_environment=True)
        return cdk.aws_apigateway.TokenAuthorizer(stack, "JwtAuthorizer", handler=function)

    t = template(authorizer=token_authorizer)
    (method,) = [r["Properties"] for r in resources(t, "AWS::ApiGateway::Method").values()]
    assert method["AuthorizationType"] == "CUSTOM"
    assert all(r["Properties"]["AuthorizationType"] != "NONE" for r in resources(t, "AWS::ApiGateway::Method").values())


def test_the_web_acl_is_associated_with_the_stage_and_has_a_rate_rule_the_body_size_and_the_managed_rules(default: dict[str, Any]) -> None:
    association = one(default, "AWS::WAFv2::WebACLAssociation")
    (stage_id,) = resources(default, "AWS::ApiGateway::Stage")
    (acl_id,) = resources(default, "AWS::WAFv2::WebACL")
    assert association["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    assert stage_id in json.dumps(association["ResourceArn"])
    acl = one(default, "AWS::WAFv2::WebACL")
    assert acl["Scope"] == "REGIONAL" and acl["DefaultAction"] == {"Allow": {}}
    rules = {r["Name"]: r for r in acl["Rules"]}
    assert rules["RatePerClientIp"]["Statement"]["RateBasedStatement"] == {"Limit": 3000, "AggregateKeyType": "IP", "EvaluationWindowSec": 300}
    assert rules["RatePerClientIp"]["Action"] == {"Block": {}}
    size = rules["MaxBodySize"]["Statement"]["SizeConstraintStatement"]
    assert (size["ComparisonOperator"], size["Size"], size["FieldToMatch"]) == ("GT", 16 * 1024, {"Body": {"OversizeHandling": "MATCH"}})
    for group in ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"):
        statement = rules[group]["Statement"]["ManagedRuleGroupStatement"]
        assert (statement["VendorName"], statement["Name"], rules[group]["OverrideAction"]) == ("AWS", group, {"None": {}})
    # the core rule set's own 8 KB body rule counts: the size is this API's own rule
    assert rules["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"]["RuleActionOverrides"] == [
        {"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}}]
    assert "AssociationConfig" not in acl  # 16 KB: WAF's default inspection size
    logging = one(default, "AWS::WAFv2::LoggingConfiguration")
    assert logging["ResourceArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    waf_logs = [r["Properties"] for r in resources(default, "AWS::Logs::LogGroup").values()
                if r["Properties"].get("LogGroupName", "").startswith("aws-waf-logs-")]
    assert len(waf_logs) == 1 and "KmsKeyId" in waf_logs[0]


def test_a_larger_body_raises_waf_inspection_to_the_next_size() -> None:
    acl = one(template(max_body_kb=40), "AWS::WAFv2::WebACL")
    assert acl["AssociationConfig"] == {"RequestBody": {"API_GATEWAY": {"DefaultSizeInspectionLimit": "KB_48"}}}
    (size,) = [r["Statement"]["SizeConstraintStatement"]["Size"] for r in acl["Rules"] if r["Name"] == "MaxBodySize"]
    assert size == 40 * 1024


def test_the_stage_logs_access_to_an_encrypted_group_errors_without_payloads_traces_and_throttles(default: dict[str, Any]) -> None:
    stage = one(default, "AWS::ApiGateway::Stage")
    assert stage["StageName"] == "v1" and stage["TracingEnabled"] is True
    (access_logs_id,) = [i for i, r in resources(default, "AWS::Logs::LogGroup").items()
                         if r["Properties"]["LogGroupName"] == f"/aws/apigateway/{ENDPOINT}/access"]
    assert stage["AccessLogSetting"]["DestinationArn"] == {"Fn::GetAtt": [access_logs_id, "Arn"]}
    log_format = json.loads(stage["AccessLogSetting"]["Format"])
    assert {"requestId", "ip", "caller", "status", "tlsVersion", "wafStatus", "integrationStatus"} <= set(log_format)
    assert "KmsKeyId" in resources(default, "AWS::Logs::LogGroup")[access_logs_id]["Properties"]
    (settings,) = stage["MethodSettings"]
    assert settings == {"DataTraceEnabled": False, "HttpMethod": "*", "LoggingLevel": "ERROR", "MetricsEnabled": True,
                        "ResourcePath": "/*", "ThrottlingBurstLimit": 100, "ThrottlingRateLimit": 50}
    plan = one(default, "AWS::ApiGateway::UsagePlan")
    assert plan["Throttle"] == {"BurstLimit": 100, "RateLimit": 50} and "Quota" not in plan
    assert plan["ApiStages"][0]["Stage"] == {"Ref": next(iter(resources(default, "AWS::ApiGateway::Stage")))}


def test_execution_logs_are_delivered_to_an_encrypted_expiring_group_of_the_apis_own(default: dict[str, Any]) -> None:
    """Not to API-Gateway-Execution-Logs_<id>/v1, which API Gateway would create unencrypted and keep forever: a
    CloudWatch Logs delivery from the stage (created after it: the source needs execution logging on) to a group
    under /aws/vendedlogs/, encrypted with the API's log key and kept as long as its access logs."""
    groups = resources(default, "AWS::Logs::LogGroup")
    (execution_id,) = [i for i, r in groups.items() if r["Properties"]["LogGroupName"] == f"/aws/vendedlogs/apigateway/{ENDPOINT}/execution"]
    (access,) = [r["Properties"] for r in groups.values() if r["Properties"]["LogGroupName"].endswith("/access")]
    execution = groups[execution_id]["Properties"]
    assert execution["KmsKeyId"] == access["KmsKeyId"] and execution["RetentionInDays"] == access["RetentionInDays"] == 365
    (source_id, source), = resources(default, "AWS::Logs::DeliverySource").items()
    (stage_id,) = resources(default, "AWS::ApiGateway::Stage")
    (api_id,) = resources(default, "AWS::ApiGateway::RestApi")
    assert source["Properties"]["LogType"] == "EXECUTION_LOGS"
    assert source["Properties"]["ResourceArn"] == {"Fn::Join": ["", [
        "arn:", {"Ref": "AWS::Partition"}, f":apigateway:{REGION}:{ACCOUNT}:/restapis/", {"Ref": api_id}, "/stages/v1"]]}
    assert stage_id in source["DependsOn"]
    (destination_id, destination), = resources(default, "AWS::Logs::DeliveryDestination").items()
    assert destination["Properties"]["DestinationResourceArn"] == {"Fn::GetAtt": [execution_id, "Arn"]}
    assert destination["Properties"]["DeliveryDestinationType"] == "CWL"
    assert one(default, "AWS::Logs::Delivery") == {"DeliverySourceName": {"Ref": source_id},
                                                   "DeliveryDestinationArn": {"Fn::GetAtt": [destination_id, "Arn"]}}
    assert source["Properties"]["Name"] == destination["Properties"]["Name"] == f"{ENDPOINT}-execution-logs"


def test_the_log_key_lets_cloudwatch_logs_and_this_accounts_log_deliveries_use_it(default: dict[str, Any]) -> None:
    statements = {s.get("Sid"): s for s in one(default, "AWS::KMS::Key")["KeyPolicy"]["Statement"]}
    delivery = statements["LogDeliveryOfThisAccount"]
    assert delivery["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
    assert sorted(delivery["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"] and delivery["Resource"] == "*"
    assert delivery["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert delivery["Condition"]["ArnLike"] == {"aws:SourceArn": {"Fn::Join": ["", [
        "arn:", {"Ref": "AWS::Partition"}, ":logs:", {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}, ":*"]]}}
    assert "CloudWatchLogsOfThisAccount" in statements


def test_delivery_names_fit_cloudwatch_logs_whatever_the_api_name() -> None:
    """Delivery sources and destinations are named with 1 to 60 of [A-Za-z0-9_-], unique in the account and region."""
    long_a, long_b = "churn-model-" + "x" * 60 + "-a", "churn-model-" + "x" * 60 + "-b"
    api_names = (long_a, long_b, "churn.v2", "churn v2", "churn-v2")
    names = {api_name: one(template(api_name=api_name), "AWS::Logs::DeliverySource")["Name"] for api_name in api_names}
    assert names["churn-v2"] == "churn-v2-execution-logs"  # a name that fits is kept as it is
    assert len(set(names.values())) == len(api_names), names
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,60}", name) for name in names.values()), names


def test_throttling_and_quota_come_from_the_props() -> None:
    t = template(throttling_rate_limit=5, throttling_burst_limit=10, quota_per_day=1000, api_key_required=True)
    (settings,) = one(t, "AWS::ApiGateway::Stage")["MethodSettings"]
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (5, 10)
    assert one(t, "AWS::ApiGateway::UsagePlan")["Quota"] == {"Limit": 1000, "Period": "DAY"}


def test_the_usage_plan_meters_requests_only_when_the_method_requires_an_api_key(default: dict[str, Any]) -> None:
    # a plan throttles and counts only requests carrying an API key, on methods that require one
    assert one(default, "AWS::ApiGateway::Method").get("ApiKeyRequired", False) is False
    assert one(template(api_key_required=True), "AWS::ApiGateway::Method")["ApiKeyRequired"] is True


def test_log_groups_and_key_are_retained_except_when_their_first_create_rolls_back(default: dict[str, Any]) -> None:
    """RETAIN becomes RetainExceptOnCreate: a failed first create must not leave the fixed-name log groups behind."""
    retained = [*resources(default, "AWS::Logs::LogGroup").values(), *resources(default, "AWS::KMS::Key").values()]
    assert len(retained) == 4  # access, execution and WAF logs, and their key
    assert {(r["DeletionPolicy"], r["UpdateReplacePolicy"]) for r in retained} == {("RetainExceptOnCreate", "Retain")}
    destroyed = template(removal_policy=cdk.RemovalPolicy.DESTROY)
    gone = [*resources(destroyed, "AWS::Logs::LogGroup").values(), *resources(destroyed, "AWS::KMS::Key").values()]
    assert {(r["DeletionPolicy"], r["UpdateReplacePolicy"]) for r in gone} == {("Delete", "Delete")}


def test_waf_logs_redact_the_credential_headers(default: dict[str, Any]) -> None:
    logging = one(default, "AWS::WAFv2::LoggingConfiguration")
    assert logging["RedactedFields"] == [{"SingleHeader": {"Name": "authorization"}}, {"SingleHeader": {"Name": "x-amz-security-token"}}]


def test_requests_are_validated_content_type_required_and_only_the_configured_types_pass(default: dict[str, Any]) -> None:
    validator = one(default, "AWS::ApiGateway::RequestValidator")
    assert validator["ValidateRequestBody"] is True and validator["ValidateRequestParameters"] is True
    method = one(default, "AWS::ApiGateway::Method")
    assert method["RequestValidatorId"] == {"Ref": next(iter(resources(default, "AWS::ApiGateway::RequestValidator")))}
    assert method["RequestParameters"] == {"method.request.header.Content-Type": True}
    assert set(method["RequestModels"]) == {"application/json"}  # a JSON body must parse as an object or array
    model = one(default, "AWS::ApiGateway::Model")
    assert model["Schema"]["type"] == ["object", "array"]
    integration = method["Integration"]
    # NEVER: a content type without a template is refused with 415 before SageMaker is called
    assert integration["PassthroughBehavior"] == "NEVER"
    assert integration["RequestTemplates"] == {"text/csv": "$input.body", "application/json": "$input.body"}
    assert integration["RequestParameters"]["integration.request.header.Content-Type"] == "method.request.header.Content-Type"


def test_tls_1_2_or_later_only_on_the_api_and_its_custom_domain() -> None:
    t = template(domain_name="churn.api.example.com",
                 certificate=lambda s: acm.Certificate.from_certificate_arn(
                     s, "Cert", f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/00000000-0000-0000-0000-000000000000"))
    api = one(t, "AWS::ApiGateway::RestApi")
    assert (api["SecurityPolicy"], api["EndpointAccessMode"]) == ("SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09", "STRICT")
    assert api["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    domain = one(t, "AWS::ApiGateway::DomainName")
    assert (domain["DomainName"], domain["SecurityPolicy"]) == ("churn.api.example.com", "TLS_1_2")


def test_the_direct_integration_invokes_the_one_endpoint_through_a_role_allowed_that_only(default: dict[str, Any]) -> None:
    integration = one(default, "AWS::ApiGateway::Method")["Integration"]
    assert integration["Type"] == "AWS" and integration["IntegrationHttpMethod"] == "POST"
    uri = json.dumps(integration["Uri"])
    assert f":runtime.sagemaker:path/endpoints/{ENDPOINT}/invocations" in uri
    (role_id,) = resources(default, "AWS::IAM::Role")
    assert integration["Credentials"] == {"Fn::GetAtt": [role_id, "Arn"]}
    policy = one(default, "AWS::IAM::ManagedPolicy")
    assert policy["Roles"] == [{"Ref": role_id}]
    assert policy["PolicyDocument"]["Statement"] == [{"Action": "sagemaker:InvokeEndpoint", "Effect": "Allow", "Resource": ENDPOINT_ARN}]


def test_api_gateway_assumes_its_roles_through_a_trust_policy_without_source_account() -> None:
    """API Gateway sets no aws:SourceAccount when it assumes an integration's credentials role: a condition on it
    would answer every request 500. The account's CloudWatch role has none in AWS's own example either."""
    t = template(logging_role=True)
    (account,) = resources(t, "AWS::ApiGateway::Account").values()
    logging_role_id = account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]
    integration_role_id = one(t, "AWS::ApiGateway::Method")["Integration"]["Credentials"]["Fn::GetAtt"][0]
    roles = resources(t, "AWS::IAM::Role")
    assert set(roles) == {logging_role_id, integration_role_id}
    for role in roles.values():
        assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
            {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"}}]


def test_the_accounts_logging_role_and_its_policy_outlive_the_stack() -> None:
    """The account keeps pointing at the role after its stack is gone (or a stage switches to a role of its own):
    deleted, every REST API of the account would log through a role that no longer exists."""
    t = template(logging_role=True)
    (account,) = resources(t, "AWS::ApiGateway::Account").values()
    logging_role_id = account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]
    (policy,) = [r for r in resources(t, "AWS::IAM::ManagedPolicy").values() if r["Properties"].get("Roles") == [{"Ref": logging_role_id}]]
    for resource in (t["Resources"][logging_role_id], policy):
        assert (resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy")) == ("Retain", "Retain")
    assert "DeletionPolicy" not in account


def test_every_answer_carries_the_request_id(default: dict[str, Any]) -> None:
    method = one(default, "AWS::ApiGateway::Method")
    for response in method["Integration"]["IntegrationResponses"]:
        assert response["ResponseParameters"]["method.response.header.X-Request-Id"] == "context.requestId"
        # the template is picked by the request's Accept header: every accepted type maps the error the same way
        if "ResponseTemplates" in response:
            templates = response["ResponseTemplates"]
            assert set(templates) == {"application/json", "text/csv"} and len(set(templates.values())) == 1
    assert {r["StatusCode"] for r in method["MethodResponses"]} == {"200", "400", "429", "502"}
    gateway = [r["Properties"] for r in resources(default, "AWS::ApiGateway::GatewayResponse").values()]
    assert {g["ResponseType"] for g in gateway} == {"DEFAULT_4XX", "DEFAULT_5XX", "BAD_REQUEST_BODY", "THROTTLED"}
    for response in gateway:
        assert '"requestId": "$context.requestId"' in response["ResponseTemplates"]["application/json"]


def test_a_private_api_is_reached_through_its_vpc_endpoint_only() -> None:
    t = template(endpoint_type="PRIVATE", vpc_endpoint=vpc_endpoint)
    api = one(t, "AWS::ApiGateway::RestApi")
    assert api["EndpointConfiguration"] == {"Types": ["PRIVATE"], "VpcEndpointIds": ["vpce-0123456789abcdef0"]}
    allow, deny = api["Policy"]["Statement"]
    assert allow["Effect"] == "Allow" and allow["Condition"] == {"StringEquals": {"aws:SourceVpce": "vpce-0123456789abcdef0"}}
    assert "AWS" in allow["Principal"] and allow["Principal"] != {"AWS": "*"}  # IAM: the account, callers still need an identity policy
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"StringNotEquals": {"aws:SourceVpce": "vpce-0123456789abcdef0"}}


def test_grant_invoke_allows_execute_api_invoke_on_the_one_method_of_the_stage() -> None:
    app, stack, api = build()
    role = iam.Role(stack, "Client", assumed_by=iam.AccountRootPrincipal())
    api.grant_invoke(role)
    t = app.synth().get_stack_by_name(stack.stack_name).template
    (policy,) = [r["Properties"] for r in resources(t, "AWS::IAM::Policy").values()]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Action"] == "execute-api:Invoke"
    assert json.dumps(statement["Resource"]).endswith('"/v1/POST/invocations"]]}')


def test_a_handler_is_a_lambda_proxy_integration_granted_invoke_on_the_endpoint() -> None:
    app, stack, api = build(handler=lambda s: lambda_.Function(
        s, "Pre", runtime=lambda_.Runtime.PYTHON_3_12, handler="index.handler", code=lambda_.Code.from_inline("def handler(e, c): pass")))
    t = app.synth().get_stack_by_name(stack.stack_name).template
    integration = one(t, "AWS::ApiGateway::Method")["Integration"]
    assert integration["Type"] == "AWS_PROXY"
    assert api.role is None
    statements = [s for r in resources(t, "AWS::IAM::Policy").values() for s in r["Properties"]["PolicyDocument"]["Statement"]]
    assert {"Action": ["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream"], "Effect": "Allow", "Resource": ENDPOINT_ARN} in statements
    # the function's base64 answers of these types reach clients as bytes (and requests of them reach it as base64)
    assert one(t, "AWS::ApiGateway::RestApi")["BinaryMediaTypes"] == ["application/octet-stream", "application/x-npy", "application/x-recordio-protobuf"]


def test_binary_media_types_are_the_handlers_only() -> None:
    app, stack, _ = build()
    assert "BinaryMediaTypes" not in one(app.synth().get_stack_by_name(stack.stack_name).template, "AWS::ApiGateway::RestApi")
    with pytest.raises(PropsError, match=r"InferenceApi: binary_media_types: must be given with a handler only: the direct integration maps text"):
        build(binary_media_types=["application/x-npy"])
    with pytest.raises(PropsError, match=r"InferenceApi: binary_media_types\[0\]: must be a media type like application/x-npy \(got 'npy'\)"):
        build(binary_media_types=["npy"], handler=lambda s: lambda_.Function(
            s, "Pre", runtime=lambda_.Runtime.PYTHON_3_12, handler="index.handler", code=lambda_.Code.from_inline("def handler(e, c): pass")))


def test_metrics_are_the_stages(default: dict[str, Any]) -> None:
    _, _, api = build()
    assert api.metric_client_errors().metric_name == "4XXError" and api.metric_server_errors().metric_name == "5XXError"
    assert api.metric_latency().statistic == "p99" and api.metric_count().statistic == "Sum"
    assert api.metric_blocked_requests().namespace == "AWS/WAFV2"


@pytest.mark.parametrize("variant", ["iam", "cognito", "private"])
def test_passes_every_compliance_pack(tmp_path: Path, variant: str) -> None:
    props: dict[str, Any] = {"iam": {}, "cognito": {"user_pools": user_pools},
                             "private": {"endpoint_type": "PRIVATE", "vpc_endpoint": vpc_endpoint}}[variant]
    app, _, _ = build(tmp_path, logging_role=True, **props)
    add_compliance_checks(app)
    app.synth()
    assert open_findings(read_report(tmp_path)) == []


# -- props' errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("props", "match"),
    [
        ({"endpoint_type": "EDGE"}, "InferenceApi: endpoint_type: must be one of REGIONAL, PRIVATE (got 'EDGE')"),
        ({"endpoint_type": "PRIVATE"}, "InferenceApi: vpc_endpoint: is required with endpoint_type PRIVATE"),
        ({"vpc_endpoint": vpc_endpoint}, "InferenceApi: vpc_endpoint: must not be given with endpoint_type REGIONAL"),
        ({"content_types": "text/csv"}, "InferenceApi: content_types: must be a non-empty list of media types"),
        ({"content_types": ["text/csv; charset=utf-8"]}, r"InferenceApi: content_types\[0\]: must be a media type like text/csv, without parameters"),
        ({"max_body_kb": 65}, "InferenceApi: max_body_kb: must be from 1 to 64 KB (got 65)"),
        ({"max_body_kb": 0}, "InferenceApi: max_body_kb: must be from 1 to 64 KB (got 0)"),
        ({"waf_rate_limit": 5}, "InferenceApi: waf_rate_limit: must be from 10 to 2000000000 (got 5)"),
        ({"throttling_burst_limit": -1}, "InferenceApi: throttling_burst_limit: must be at least 0 (got -1)"),
        ({"quota_per_day": 0}, "InferenceApi: quota_per_day: must be at least 1 (got 0)"),
        ({"quota_per_day": 1000}, "InferenceApi: quota_per_day: must be given with api_key_required=True only"),
        ({"api_key_required": "yes"}, "InferenceApi: api_key_required: "),
        ({"endpoint_type": "PRIVATE", "vpc_endpoint": vpc_endpoint, "domain_name": "churn.api.example.com",
          "certificate": lambda s: acm.Certificate.from_certificate_arn(
              s, "Cert", f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/00000000-0000-0000-0000-000000000000")},
         "InferenceApi: domain_name: must not be given with endpoint_type PRIVATE: a custom domain is built for a REGIONAL API only"),
        ({"authorization_scopes": ["a/b"]}, "InferenceApi: authorization_scopes: must be given with user_pools only"),
        ({"user_pools": user_pools, "authorizer": lambda s: cdk.aws_apigateway.TokenAuthorizer(
            s, "A", handler=lambda_.Function.from_function_arn(s, "F", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f"))},
         "InferenceApi: authorizer: must not be given with user_pools: choose one way to authorize"),
        ({"domain_name": "api.example.com"}, "InferenceApi: certificate: is required with domain_name"),
        ({"domain_name": "API.example"}, "InferenceApi: domain_name: must be a lowercase DNS name"),
        ({"api_name": "churn/api"}, "InferenceApi: api_name: must be 1-128 letters, digits, spaces and . _ -"),
        ({"handler": "arn:aws:lambda:eu-west-1:333333333333:function:f"}, "InferenceApi: handler: must be a lambda_.IFunction"),
    ],
)
def test_invalid_props_name_the_prop_the_value_and_what_is_allowed(props: dict[str, Any], match: str) -> None:
    with pytest.raises(PropsError, match=re.escape(match) if "\\" not in match else match):
        build(**props)


def test_the_endpoint_must_be_one_of_this_librarys() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "S")
    with pytest.raises(PropsError, match=re.escape("InferenceApi: endpoint: must be an endpoint of this library")):
        InferenceApi(stack, "Api", endpoint=ENDPOINT)  # type: ignore[arg-type]


# -- the direct integration's error mapping, in process ---------------------------------------------


REQUEST_ID = "c0ffee00-1234-4abc-9def-000000000001"
LOG_STREAM = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/sagemaker/Endpoints/{ENDPOINT}"
SECRET = "Traceback (most recent call last): File /opt/ml/model/code/inference.py line 12 KeyError: 'tenure'"


def sagemaker_error(code: str, message: str, **fields: Any) -> str:
    """An InvokeEndpoint error body as SageMaker's runtime answers it (restJson1: the error type and the
    modeled members; https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpoint.html)."""
    return json.dumps({"__type": code, "message": message, **fields})


def answer(status: int, body: str) -> tuple[int, str]:
    """What API Gateway answers the client for SageMaker's (``status``, ``body``): the integration response
    whose selection pattern matches the status code (Java's String.matches, a full match), else the default,
    rendered; its status, or the template's override."""
    integration = one(template(), "AWS::ApiGateway::Method")["Integration"]
    responses = integration["IntegrationResponses"]
    chosen = next((r for r in responses if "SelectionPattern" in r and re.fullmatch(r["SelectionPattern"], str(status))), None)
    chosen = chosen or next(r for r in responses if "SelectionPattern" not in r)
    templates = chosen.get("ResponseTemplates")
    if templates is None:  # pass-through: the model's answer
        return int(chosen["StatusCode"]), body
    rendered = render(templates["application/json"], body=body, context={"requestId": REQUEST_ID})
    return rendered.status_override or int(chosen["StatusCode"]), rendered.body


@pytest.mark.parametrize(
    ("status", "body", "expected_status", "expected_message"),
    [
        (200, "0.87", 200, None),
        (400, sagemaker_error("ValidationError", "1 validation error detected: Value at 'contentType' failed"), 400,
         "The request was not accepted by the model endpoint"),
        (400, sagemaker_error("ThrottlingException", "Rate exceeded"), 429, "Too many requests: retry later"),
        (429, sagemaker_error("ModelNotReadyException", "Model is loading"), 429, "Too many requests: retry later"),
        (424, sagemaker_error("ModelError", "Received client error (400) from primary", OriginalStatusCode=400,
                              OriginalMessage=SECRET, LogStreamArn=LOG_STREAM), 400, "The model could not process the request"),
        (424, sagemaker_error("ModelError", "Received server error (500) from primary", OriginalStatusCode=500,
                              OriginalMessage=SECRET, LogStreamArn=LOG_STREAM), 502, "The model failed to answer"),
        (424, sagemaker_error("ModelError", "no status"), 502, "The model failed to answer"),
        (500, sagemaker_error("InternalFailure", "internal"), 502, "The model endpoint failed to answer"),
        (503, sagemaker_error("ServiceUnavailable", "unavailable"), 502, "The model endpoint failed to answer"),
        (530, sagemaker_error("InternalDependencyException", "dependency"), 502, "The model endpoint failed to answer"),
        (403, sagemaker_error("AccessDeniedException", "not authorized to perform sagemaker:InvokeEndpoint"), 400,
         "The request was not accepted by the model endpoint"),
        (302, "<html>moved</html>", 502, "The model endpoint failed to answer"),  # nothing unknown passes through
    ],
)
def test_sagemaker_answers_map_to_the_api_status_with_only_the_request_id_and_a_fixed_message(
    status: int, body: str, expected_status: int, expected_message: str | None
) -> None:
    got_status, got_body = answer(status, body)
    assert got_status == expected_status
    if expected_message is None:
        assert got_body == body
        return
    assert json.loads(got_body) == {"message": expected_message, "requestId": REQUEST_ID}
    for leaked in (SECRET, LOG_STREAM, "primary", "sagemaker:InvokeEndpoint"):
        assert leaked not in got_body


def test_the_selection_patterns_cover_every_status_once_with_the_default_last_resort() -> None:
    patterns = {name: pattern for name, (pattern, _, _) in inference_api.ERROR_TEMPLATES.items()}
    for code in range(200, 600):
        matching = [name for name, p in patterns.items() if p is not None and re.fullmatch(p, str(code))]
        if re.fullmatch(inference_api.SUCCESS_PATTERN, str(code)):
            matching.append("success")
        assert len(matching) <= 1, code
        expected = ("success" if 200 <= code < 300 else "model" if code == 424 else "throttled" if code == 429
                    else "client" if 400 <= code < 500 else None)
        assert (matching or [None])[0] == expected, code


def test_the_gateway_responses_render_to_the_same_form() -> None:
    # $context.error.messageString is the message already quoted as a JSON string, as API Gateway substitutes it
    message = 'Unsupported Media Type: "text/xml"'
    for response in resources(template(), "AWS::ApiGateway::GatewayResponse").values():
        rendered = render(response["Properties"]["ResponseTemplates"]["application/json"],
                          context={"requestId": REQUEST_ID, "error": {"message": message, "messageString": json.dumps(message)}})
        body = json.loads(rendered.body)
        assert set(body) == {"message", "requestId"} and body["requestId"] == REQUEST_ID
        if response["Properties"]["ResponseType"] == "DEFAULT_4XX":
            assert body["message"] == message
