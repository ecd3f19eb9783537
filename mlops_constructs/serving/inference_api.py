"""InferenceApi: an authenticated API Gateway REST API in front of a SageMaker real-time endpoint."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any, Literal

from aws_cdk import Aws, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from mlops_constructs._iam import service_principal
from mlops_constructs._keys import Key, allow_cloudwatch_logs, allow_log_delivery, deny_grants_except_for_aws_resources
from mlops_constructs._validate import check_choice, check_interface, check_pattern, check_range, check_type, is_token
from mlops_constructs.compliance import IAM5, acknowledge_each, acknowledge_log_retention, acknowledge_policy_resources, in_packs, skip_checkov
from mlops_constructs.errors import PropsError
from mlops_constructs.serving.canary_endpoint import EndpointBase

EndpointType = Literal["REGIONAL", "PRIVATE"]

RESOURCE_PATH = "invocations"
"""The API's one resource: clients ``POST`` to ``<url>invocations``, as to SageMaker's own runtime."""

STAGE_NAME = "v1"

SECURITY_POLICY = "SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09"
"""TLS 1.3 and 1.2 only, forward-secret ciphers. A regional REST API's default endpoint otherwise accepts
TLS 1.0 (its default policy is ``TLS_1_0``); an enhanced policy (``SecurityPolicy_...``) needs an endpoint
access mode, ``STRICT`` here
(https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-security-policies.html,
https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-security-policies-list.html).
aws-cdk-lib's ``RestApi`` has no prop for it: it is set on its ``CfnRestApi``."""

HANDLER_BINARY_MEDIA_TYPES = ("application/octet-stream", "application/x-npy", "application/x-recordio-protobuf")
"""The API's binary media types with a ``handler``, by default: requests of these types reach the function, and its
base64 answers reach a client that accepts one of them, as bytes. Without them API Gateway passes a binary answer on
as the base64 text the function returned
(https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-payload-encodings.html: a Lambda proxy
integration's binary payloads need the API's binaryMediaTypes)."""

WAF_BODY_LIMITS_KB = (16, 32, 48, 64)
"""How much of a body API Gateway forwards to AWS WAF: 16 KB by default, 32, 48 or 64 KB at an extra charge
(https://docs.aws.amazon.com/waf/latest/APIReference/API_AssociationConfig.html). ``max_body_kb`` can be at
most the largest: the size rule can only measure what WAF sees."""

MANAGED_RULE_GROUPS = ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet")
"""AWS managed rule groups of vendor ``AWS`` in the web ACL: the core rule set (OWASP-style checks) and known
bad inputs (Log4j and other exploit patterns)
(https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-list.html)."""

WAF_REDACTED_HEADERS = ("authorization", "x-amz-security-token")
"""Request headers written as ``REDACTED`` in the WAF logs: a Cognito token or SigV4 signature, and a temporary
credentials' session token."""

# The core rule set's own body size rule blocks bodies over 8 KB (SizeRestrictions_BODY); counted instead,
# as the body size is this API's own rule, from max_body_kb.
_COUNTED_CORE_RULES = ("SizeRestrictions_BODY",)

INVOKE_ACTION = "execute-api:Invoke"
"""What ``grant_invoke`` allows, on the API's one method
(https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonapigateway.html)."""

# SageMaker's InvokeEndpoint errors and their HTTP status codes, from its API reference
# (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpoint.html#API_runtime_InvokeEndpoint_Errors):
# ValidationError 400, ModelError 424 (the model container answered an error: OriginalStatusCode is its
# status), ModelNotReadyException 429, InternalFailure 500, ServiceUnavailable 503, InternalDependencyException 530.
# ThrottlingException is one of AWS's common errors, answered with HTTP 400
# (https://docs.aws.amazon.com/sagemaker/latest/APIReference/CommonErrors.html).
#
# For an AWS service integration, a selection pattern is matched against the HTTP status code of the service's
# answer; the response without a pattern is the default, taken when none matches
# (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-integration-settings-integration-response.html).
# So success is selected explicitly and the default is the generic 502: an unknown answer never passes through.
# Each error body carries only the request id and a fixed message; a template may change the status code with
# $context.responseOverride.status
# (https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-override-request-response-parameters.html).

_ERROR_BODY = '{"message": "%s", "requestId": "$context.requestId"}'

SUCCESS_PATTERN = r"2\d{2}"
CLIENT_ERROR_PATTERN = r"4(0\d|1\d|2[0-35-8]|[3-9]\d)"
"""Every 4xx but 424 (ModelError) and 429 (ModelNotReady/throttling)."""
MODEL_ERROR_PATTERN = "424"
THROTTLED_PATTERN = "429"

CLIENT_ERROR_TEMPLATE = (
    "#set($type = \"$!input.path('$.__type')$!input.path('$.code')\")\n"
    "#if($type.contains(\"Throttling\"))\n"
    "#set($context.responseOverride.status = 429)\n"
    + _ERROR_BODY % "Too many requests: retry later" + "\n"
    "#else\n"
    + _ERROR_BODY % "The request was not accepted by the model endpoint" + "\n"
    "#end"
)
"""SageMaker's 4xx (ValidationError: a body or content type the endpoint refuses): 400, or 429 for a
ThrottlingException (a 400 whose error type says so)."""

MODEL_ERROR_TEMPLATE = (
    "#set($original = \"$!input.path('$.OriginalStatusCode')\")\n"
    "#if($original.startsWith(\"4\"))\n"
    "#set($context.responseOverride.status = 400)\n"
    + _ERROR_BODY % "The model could not process the request" + "\n"
    "#else\n"
    + _ERROR_BODY % "The model failed to answer" + "\n"
    "#end"
)
"""ModelError (424): the model's own 4xx (``OriginalStatusCode``) becomes 400, anything else 502. The model's
message (``OriginalMessage``) and log stream are never returned."""

THROTTLED_TEMPLATE = _ERROR_BODY % "Too many requests: retry later"

GATEWAY_4XX_TEMPLATE = '{"message": $context.error.messageString, "requestId": "$context.requestId"}'
"""API Gateway's own 4xx (unauthorized, refused content type, ...): its message, which
``$context.error.messageString`` gives already quoted as a JSON string (``$context.error.message`` inside
quotes would break on a quote in it)
(https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-gateway-responses.responseTemplates.html).
A gateway response's template is not VTL: simple substitution only."""
SERVER_ERROR_TEMPLATE = _ERROR_BODY % "The model endpoint failed to answer"

ERROR_TEMPLATES: dict[str, tuple[str | None, str, str]] = {
    # status code pattern (None: the default response) -> (pattern, method response status, template)
    "client": (CLIENT_ERROR_PATTERN, "400", CLIENT_ERROR_TEMPLATE),
    "model": (MODEL_ERROR_PATTERN, "502", MODEL_ERROR_TEMPLATE),
    "throttled": (THROTTLED_PATTERN, "429", THROTTLED_TEMPLATE),
    "default": (None, "502", SERVER_ERROR_TEMPLATE),
}
"""The direct integration's error responses, by name: (selection pattern, status, mapping template)."""

REQUEST_ID_HEADER = "X-Request-Id"
"""The direct integration's answers carry the request id (``$context.requestId``) in this header, besides API
Gateway's own ``x-amzn-RequestId``; every error body, API Gateway's own (gateway responses) included, carries it as
``requestId``. API Gateway's own answers cannot carry this header: a gateway response's headers map from the
request's parameters or static values only, not from ``$context``
(https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-gateway-responses.gatewayResponse.html)."""

_CONTENT_TYPE = re.compile(r"[a-z]+/[a-z0-9.+-]+")
_API_NAME = re.compile(r"[A-Za-z0-9._ -]{1,128}")
_DOMAIN = re.compile(r"([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
# WAF rate-based rules count requests per IP over the evaluation window; the limit is 10 to 2,000,000,000
# (https://docs.aws.amazon.com/waf/latest/APIReference/API_RateBasedStatement.html).
_RATE_MIN, _RATE_MAX = 10, 2_000_000_000


class InferenceApi(Construct):
    """An API Gateway REST API that invokes one SageMaker endpoint, authenticated and rate-limited.

    Creates:

    - a **REST API** (regional, or private behind an ``execute-api`` interface endpoint), TLS 1.2 or later
      only (:data:`SECURITY_POLICY`), with one method, ``POST /invocations``, whose **authorization** is IAM
      (SigV4) unless Cognito ``user_pools`` or an ``authorizer`` of yours is given: never open;
    - the **integration**: directly to SageMaker's ``InvokeEndpoint`` through a role allowed that on this
      endpoint only, with SageMaker's errors mapped (:data:`ERROR_TEMPLATES`: the model's 4xx and a refused
      request 400, throttling 429, model and other errors 502, each with only the request id and a fixed
      message), or to your ``handler`` (a Lambda proxy integration) when you name one;
    - **request validation**: the ``Content-Type`` header is required and must be one of
      ``content_types`` (others get 415), a JSON body must parse, and a body over ``max_body_kb`` is blocked
      by the web ACL (413 is not available to WAF: it answers 403);
    - a **WAF web ACL**: a rate-based rule per client IP (``waf_rate_limit`` per 5 minutes), the body size
      rule, and AWS's managed common and known-bad-inputs rules (:data:`MANAGED_RULE_GROUPS`), logged to a
      KMS-encrypted log group;
    - the **stage** ``v1``: throttling (``throttling_rate_limit``/``throttling_burst_limit``), X-Ray tracing,
      execution logging of errors (never of payloads) delivered to a KMS-encrypted log group of its own (not API
      Gateway's own unencrypted, never-expiring one), access logs to another, and a
      **usage plan** with the same throttling and an optional daily quota per API key, which applies only with
      ``api_key_required`` (then add your clients' keys to it);
    - optionally a **custom domain** (``domain_name`` with ``certificate``), TLS 1.2 or later.

    Execution and access logging need API Gateway's CloudWatch role set once per account and region:
    :meth:`account_logging_role` creates it.

    Example::

        api = InferenceApi(self, "ChurnApi", endpoint=endpoint)
        api.grant_invoke(client_role)   # execute-api:Invoke on POST /invocations, nothing else

    :param endpoint: the endpoint to invoke (a :class:`CanaryEndpoint` or an imported :class:`EndpointReference`).
    :param api_name: Default: the endpoint's name.
    :param endpoint_type: ``REGIONAL`` or ``PRIVATE``. Default: ``REGIONAL``.
    :param vpc_endpoint: the ``execute-api`` interface endpoint a private API is reached through; required
        with ``PRIVATE``, refused otherwise. The API's resource policy admits requests through it only.
    :param user_pools: authorize with these Cognito user pools' tokens (a Cognito authorizer) instead of IAM.
        Default: IAM.
    :param authorization_scopes: OAuth scopes a Cognito access token must carry. Default: an ID token suffices.
    :param authorizer: an authorizer of your own instead of IAM, e.g. an ``apigw.TokenAuthorizer`` that
        verifies JWTs of another issuer (REST APIs have no JWT authorizer: that is HTTP APIs'). Not with ``user_pools``.
    :param handler: a Lambda function between the API and the endpoint (pre/post-processing), invoked as a
        proxy integration; it is granted invoke on the endpoint and maps its own errors. Default: the direct integration.
    :param content_types: the request content types accepted. Default: ``text/csv`` and ``application/json``.
    :param binary_media_types: with a ``handler``: the media types API Gateway passes as bytes (base64 to and from the
        function; an answer is converted when the request's ``Accept`` is one of them). Not text types: a JSON body
        would reach the function base64-encoded too. Default: :data:`HANDLER_BINARY_MEDIA_TYPES`. The direct
        integration's mapping is text only: a model that answers in bytes needs a handler.
    :param max_body_kb: the largest request body, 1 to 64 KB (:data:`WAF_BODY_LIMITS_KB`). Default: 16.
    :param throttling_rate_limit: requests per second, steady state, for the stage. Default: 50.
    :param throttling_burst_limit: Default: 100.
    :param quota_per_day: requests per day per API key of the usage plan; with ``api_key_required`` only. Default: no quota.
    :param api_key_required: ``POST /invocations`` also requires an API key (``x-api-key``) of the usage plan, so that the
        plan's throttling and quota apply to each key. Default: ``False``: the usage plan then meters nothing (a plan
        meters only requests that carry an API key on methods that require one), and the stage's throttling
        (``throttling_rate_limit``/``throttling_burst_limit``, shared by every caller) is what limits IAM and Cognito callers.
    :param waf_rate_limit: requests per client IP per 5 minutes before WAF blocks it, 10 to 2,000,000,000.
        Default: 3000.
    :param domain_name: a custom domain for the API (``certificate`` required), ``REGIONAL`` only. Default: none, the
        ``execute-api`` URL only.
    :param certificate: the ACM certificate of ``domain_name``, in the API's region.
    :param encryption_key: encrypts the access, execution and WAF log groups; its key policy must let CloudWatch Logs
        use it, and the log delivery service (``delivery.logs.amazonaws.com``: ``kms:GenerateDataKey*`` and ``kms:Decrypt``
        for the account's own log deliveries) for the execution logs. Default: a key with rotation is created.
    :param log_retention: of the access, execution and WAF logs. Default: one year.
    :param removal_policy: of the log groups and the key. Default: ``RemovalPolicy.RETAIN``, which they take as
        ``RETAIN_ON_UPDATE_OR_DELETE`` (CloudFormation's ``RetainExceptOnCreate``): the log groups have fixed names,
        so, retained after a failed first create, they would make the next deploy fail.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        endpoint: EndpointBase,
        api_name: str | None = None,
        endpoint_type: EndpointType = "REGIONAL",
        vpc_endpoint: ec2.IVpcEndpoint | None = None,
        user_pools: Sequence[cognito.IUserPool] = (),
        authorization_scopes: Sequence[str] = (),
        authorizer: apigw.IAuthorizer | None = None,
        handler: lambda_.IFunction | None = None,
        content_types: Sequence[str] = ("text/csv", "application/json"),
        binary_media_types: Sequence[str] | None = None,
        max_body_kb: int = 16,
        throttling_rate_limit: float = 50,
        throttling_burst_limit: int = 100,
        quota_per_day: int | None = None,
        api_key_required: bool = False,
        waf_rate_limit: int = 3000,
        domain_name: str | None = None,
        certificate: acm.ICertificate | None = None,
        encryption_key: kms.IKey | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        name = type(self).__name__
        check_interface(name, "endpoint", endpoint, "endpoint_arn", "must be an endpoint of this library (CanaryEndpoint or EndpointReference)")
        if not isinstance(endpoint, EndpointBase):
            raise PropsError(name, "endpoint", endpoint, "must be an endpoint of this library (CanaryEndpoint or EndpointReference)")
        api_name = api_name if api_name is not None else endpoint.endpoint_name
        self._validate(name, api_name=api_name, endpoint_type=endpoint_type, vpc_endpoint=vpc_endpoint, user_pools=user_pools,
                       authorization_scopes=authorization_scopes, authorizer=authorizer, handler=handler, content_types=content_types,
                       max_body_kb=max_body_kb, throttling_rate_limit=throttling_rate_limit, throttling_burst_limit=throttling_burst_limit,
                       quota_per_day=quota_per_day, api_key_required=api_key_required, waf_rate_limit=waf_rate_limit,
                       domain_name=domain_name, certificate=certificate,
                       encryption_key=encryption_key, log_retention=log_retention, removal_policy=removal_policy)
        if binary_media_types is not None and handler is None:
            raise PropsError(name, "binary_media_types", binary_media_types, "must be given with a handler only: the direct integration maps text")
        if binary_media_types is None and handler is not None:
            binary_media_types = HANDLER_BINARY_MEDIA_TYPES
        for index, media_type in enumerate(binary_media_types or ()):
            check_pattern(name, f"binary_media_types[{index}]", media_type, _CONTENT_TYPE, "must be a media type like application/x-npy")
        stack = Stack.of(self)
        self.endpoint = endpoint
        """The endpoint the API invokes."""
        self.endpoint_type: EndpointType = endpoint_type
        """``REGIONAL`` or ``PRIVATE``."""
        self.content_types: tuple[str, ...] = tuple(content_types)
        """The request content types accepted."""
        self.max_body_kb = max_body_kb
        """The largest request body, in KB (1,024 bytes)."""
        self.api_key_required = api_key_required
        """Whether ``POST /invocations`` requires an API key (``x-api-key``) of the usage plan besides its authorization."""

        retention_policy = _retained_except_on_create(removal_policy)
        self.encryption_key: kms.IKey = encryption_key or self._key(api_name, retention_policy)
        """Encrypts the access, execution and WAF log groups."""
        # Under /aws/apigateway/, where account_logging_role() lets API Gateway write.
        self.access_log_group = logs.LogGroup(self, "AccessLogs", log_group_name=f"/aws/apigateway/{_log_name(api_name)}/access",
                                              encryption_key=self.encryption_key, retention=log_retention, removal_policy=retention_policy)
        """The stage's access logs: one JSON line per request (:meth:`access_log_format`)."""
        acknowledge_log_retention(self.access_log_group)

        private = endpoint_type == "PRIVATE"
        self.rest_api = apigw.RestApi(
            self,
            "Resource",
            rest_api_name=api_name,
            description=f"Invokes SageMaker endpoint {endpoint.endpoint_name}",
            endpoint_configuration=apigw.EndpointConfiguration(
                types=[apigw.EndpointType.PRIVATE if private else apigw.EndpointType.REGIONAL],
                vpc_endpoints=[vpc_endpoint] if private and vpc_endpoint is not None else None,
            ),
            policy=self._resource_policy(vpc_endpoint, iam_authorized=not user_pools and authorizer is None) if private else None,
            cloud_watch_role=False,  # account-wide: account_logging_role(), once per account and region
            deploy=True,
            deploy_options=apigw.StageOptions(
                stage_name=STAGE_NAME,
                throttling_rate_limit=throttling_rate_limit,
                throttling_burst_limit=throttling_burst_limit,
                tracing_enabled=True,
                metrics_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # never log request or response bodies
                access_log_destination=apigw.LogGroupLogDestination(self.access_log_group),
                access_log_format=self.access_log_format(),
            ),
            # A custom domain only: the execute-api URL stays, so that SigV4 callers and the smoke test reach it.
            disable_execute_api_endpoint=False,
            binary_media_types=list(binary_media_types) if binary_media_types else None,
        )
        """The REST API."""
        cfn_api: apigw.CfnRestApi = self.rest_api.node.default_child  # type: ignore[assignment]
        cfn_api.security_policy = SECURITY_POLICY
        cfn_api.endpoint_access_mode = "STRICT"
        self.stage: apigw.Stage = self.rest_api.deployment_stage
        """The stage ``v1``, which every deployment updates."""

        self._method_authorization = self._authorization(user_pools, authorization_scopes, authorizer)
        self.role: iam.Role | None = None
        """The direct integration's role (``None`` with a ``handler``): ``sagemaker:InvokeEndpoint`` on the
        endpoint, nothing else."""
        integration = self._lambda_integration(handler) if handler is not None else self._direct_integration(endpoint)
        self._add_gateway_responses()
        validator = self.rest_api.add_request_validator("Validator", validate_request_body=True, validate_request_parameters=True)
        json_types = [t for t in content_types if t == "application/json" or t.endswith("+json")]
        body_model = self.rest_api.add_model(
            "JsonBody", content_type="application/json",
            schema=apigw.JsonSchema(schema=apigw.JsonSchemaVersion.DRAFT4, title="JsonBody", type=[apigw.JsonSchemaType.OBJECT, apigw.JsonSchemaType.ARRAY]),
        ) if json_types else None
        resource = self.rest_api.root.add_resource(RESOURCE_PATH)
        self.method = resource.add_method(
            "POST",
            integration,
            request_validator=validator,
            request_parameters={"method.request.header.Content-Type": True},
            request_models={t: body_model for t in json_types} if body_model is not None else None,
            method_responses=self._method_responses() if handler is None else None,
            # Only a method that requires an API key has its requests metered by the usage plan (throttle, quota)
            # (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-api-usage-plans.html).
            api_key_required=api_key_required,
            **self._method_authorization,
        )
        """``POST /invocations``."""

        self.usage_plan = self.rest_api.add_usage_plan(
            "UsagePlan",
            name=f"{api_name}-plan",
            description=f"Throttling{' and quota' if quota_per_day else ''} of API keys of {api_name}",
            throttle=apigw.ThrottleSettings(rate_limit=throttling_rate_limit, burst_limit=throttling_burst_limit),
            quota=apigw.QuotaSettings(limit=quota_per_day, period=apigw.Period.DAY) if quota_per_day else None,
            api_stages=[apigw.UsagePlanPerApiStage(api=self.rest_api, stage=self.stage)],
        )
        """Throttles (and with ``quota_per_day`` caps) each API key added to it (``usage_plan.add_api_key``), with
        ``api_key_required`` only: a plan meters only requests that carry an API key, on methods that require one.
        Without it the plan limits nothing, and the stage's throttling is what limits IAM and Cognito callers."""

        self.execution_log_group = self._execution_logs(api_name, log_retention, retention_policy)
        """The stage's execution logs (errors only, never payloads), delivered here instead of the group API Gateway would
        otherwise create, unencrypted and kept forever (:meth:`_execution_logs`)."""

        self.web_acl, self.waf_log_group = self._web_acl(api_name, max_body_kb, waf_rate_limit, log_retention, retention_policy)
        self.web_acl_association = wafv2.CfnWebACLAssociation(self, "WebAclAssociation", resource_arn=self.stage.stage_arn,
                                                              web_acl_arn=self.web_acl.attr_arn)
        """Puts the web ACL in front of the stage."""

        self.domain: apigw.DomainName | None = None
        """The custom domain, when ``domain_name`` is given."""
        if domain_name is not None and certificate is not None:
            self.domain = self.rest_api.add_domain_name(
                "Domain", domain_name=domain_name, certificate=certificate,
                endpoint_type=apigw.EndpointType.PRIVATE if private else apigw.EndpointType.REGIONAL,
                security_policy=apigw.SecurityPolicy.TLS_1_2,
            )
        self._acknowledge(stack)

    # ------------------------------------------------------------------------------------------------
    # The resource model
    # ------------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``https://<api>.execute-api.<region>.amazonaws.com/v1/invocations``: where clients ``POST``."""
        return f"{self.rest_api.url}{RESOURCE_PATH}"

    @property
    def invoke_arn(self) -> str:
        """The ARN of ``POST /invocations`` on the stage, what ``execute-api:Invoke`` is granted on."""
        return self.rest_api.arn_for_execute_api("POST", f"/{RESOURCE_PATH}", STAGE_NAME)

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` call the API (IAM authorization): ``execute-api:Invoke`` on ``POST /invocations`` of
        the stage, nothing else."""
        check_interface(type(self).__name__, "grantee", grantee, "grant_principal", "must be an iam.IGrantable")
        return iam.Grant.add_to_principal(grantee=grantee, actions=[INVOKE_ACTION], resource_arns=[self.invoke_arn])

    def metric(self, metric_name: str, **props: Any) -> cloudwatch.Metric:
        """The stage's metric ``metric_name`` in ``AWS/ApiGateway`` (dimensions ``ApiName`` and ``Stage``).
        Default: Sum over 1 minute; ``props`` are ``cloudwatch.Metric``'s."""
        return self.stage.metric(metric_name, **{"statistic": "Sum", "period": _minute(), **props})

    def metric_count(self, **props: Any) -> cloudwatch.Metric:
        """``Count``: requests. Default: Sum over 1 minute."""
        return self.metric("Count", **props)

    def metric_client_errors(self, **props: Any) -> cloudwatch.Metric:
        """``4XXError``: requests answered 4xx (refused, unauthorized, throttled, the model's 4xx). Default: Sum over 1 minute."""
        return self.metric("4XXError", **props)

    def metric_server_errors(self, **props: Any) -> cloudwatch.Metric:
        """``5XXError``: requests answered 5xx (502: the model or endpoint failed). Default: Sum over 1 minute."""
        return self.metric("5XXError", **props)

    def metric_latency(self, **props: Any) -> cloudwatch.Metric:
        """``Latency`` in milliseconds, from request to answer. Default: p99 over 1 minute."""
        return self.metric("Latency", **{"statistic": "p99", **props})

    def metric_integration_latency(self, **props: Any) -> cloudwatch.Metric:
        """``IntegrationLatency`` in milliseconds: the endpoint's (or handler's) share. Default: p99 over 1 minute."""
        return self.metric("IntegrationLatency", **{"statistic": "p99", **props})

    def metric_blocked_requests(self, **props: Any) -> cloudwatch.Metric:
        """``BlockedRequests`` of the web ACL (namespace ``AWS/WAFV2``): requests WAF blocked. Default: Sum over 1 minute."""
        options = {"statistic": "Sum", "period": _minute(),
                   "dimensions_map": {"WebACL": self._web_acl_name, "Region": Aws.REGION, "Rule": "ALL"}, **props}
        return cloudwatch.Metric(namespace="AWS/WAFV2", metric_name="BlockedRequests", **options)

    @staticmethod
    def access_log_format() -> apigw.AccessLogFormat:
        """One JSON object per request: the request id, caller, route, status, latencies, TLS version and WAF verdict."""
        fields = {
            "requestId": "$context.requestId", "extendedRequestId": "$context.extendedRequestId", "ip": "$context.identity.sourceIp",
            "caller": "$context.identity.caller", "user": "$context.identity.user", "userArn": "$context.identity.userArn",
            "requestTime": "$context.requestTime", "httpMethod": "$context.httpMethod", "resourcePath": "$context.resourcePath",
            "status": "$context.status", "protocol": "$context.protocol", "responseLength": "$context.responseLength",
            "responseLatency": "$context.responseLatency", "integrationStatus": "$context.integration.status",
            "integrationLatency": "$context.integration.latency", "errorType": "$context.error.responseType",
            "tlsVersion": "$context.tlsVersion", "wafStatus": "$context.waf.status", "xrayTraceId": "$context.xrayTraceId",
        }
        return apigw.AccessLogFormat.custom(json.dumps(fields, separators=(",", ":")))

    @staticmethod
    def account_logging_role(scope: Construct, id: str) -> iam.Role:
        """API Gateway's CloudWatch role of the stack's account and region (``AWS::ApiGateway::Account``), which
        execution and access logging need: set once per account and region, by one stack, replacing any role
        set before. Its policy is the managed ``AmazonAPIGatewayPushToCloudWatchLogs``'s actions as a customer
        managed policy on API Gateway's log groups only.

        The role and its policy are kept when they leave the stack: the account's setting outlives the stack
        ("When you delete a stack containing this resource, API Gateway can still assume the provided IAM role",
        https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-apigateway-account.html),
        so deleting them would leave every REST API of the account and region logging through a role that no longer
        exists, until someone sets another."""
        stack = Stack.of(scope)
        role = iam.Role(scope, id, assumed_by=_apigateway_principal(),
                        description="API Gateway writes the account's REST API execution and access logs")
        logs_arn = f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:"
        execution, access = f"{logs_arn}API-Gateway-Execution-Logs_*", f"{logs_arn}/aws/apigateway/*"
        log_groups = [execution, f"{execution}:*", access, f"{access}:*"]
        policy = iam.ManagedPolicy(scope, f"{id}Policy", description="API Gateway's execution and access logs", roles=[role], statements=[
            # https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html (the managed policy's actions)
            iam.PolicyStatement(actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents",
                                         "logs:GetLogEvents", "logs:FilterLogEvents"], resources=log_groups),
            # DescribeLogGroups lists; it supports only Resource "*"
            # (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html).
            iam.PolicyStatement(actions=["logs:DescribeLogGroups"], resources=["*"]),
        ])
        acknowledge_policy_resources(policy, IAM5, {
            execution: "API Gateway's execution log groups, which it names after each API id and stage.",
            f"{execution}:*": "The log streams of API Gateway's execution log groups.",
            access: "Access log groups named under /aws/apigateway/ (an InferenceApi's are CDK-named and given to the stage).",
            f"{access}:*": "The log streams of those access log groups.",
            "*": "logs:DescribeLogGroups only, which lists log groups and supports no resource but *.",
        }, stack=stack)
        apigw.CfnAccount(scope, f"{id}Account", cloud_watch_role_arn=role.role_arn).node.add_dependency(policy)
        role.apply_removal_policy(RemovalPolicy.RETAIN)
        policy.apply_removal_policy(RemovalPolicy.RETAIN)
        return role

    # ------------------------------------------------------------------------------------------------

    def _key(self, api_name: str, removal_policy: RemovalPolicy) -> kms.Key:
        key = Key(self, "LogKey", description=f"Encrypts the access, execution and WAF logs of API {api_name}", enable_key_rotation=True,
                      removal_policy=removal_policy)
        allow_cloudwatch_logs(key)
        allow_log_delivery(key)  # the execution logs arrive through a delivery (_execution_logs)
        deny_grants_except_for_aws_resources(key)
        return key

    def _resource_policy(self, vpc_endpoint: ec2.IVpcEndpoint | None, *, iam_authorized: bool) -> iam.PolicyDocument:
        """A private API admits requests through its VPC endpoint only
        (https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-resource-policies-examples.html#apigateway-resource-policies-source-vpc-example).
        With IAM authorization the allow names the account, so a caller also needs an identity policy allowing
        it (``grant_invoke``); with a token authorizer there is no AWS principal to name."""
        assert vpc_endpoint is not None
        resource = "execute-api:/*"
        condition = {"aws:SourceVpce": vpc_endpoint.vpc_endpoint_id}
        return iam.PolicyDocument(statements=[
            iam.PolicyStatement(sid="ThroughTheVpcEndpoint", principals=[iam.AccountRootPrincipal() if iam_authorized else iam.AnyPrincipal()],
                                actions=[INVOKE_ACTION], resources=[resource], conditions={"StringEquals": condition}),
            iam.PolicyStatement(sid="NothingElse", effect=iam.Effect.DENY, principals=[iam.AnyPrincipal()], actions=[INVOKE_ACTION],
                                resources=[resource], conditions={"StringNotEquals": condition}),
        ])

    def _authorization(self, user_pools: Sequence[cognito.IUserPool], scopes: Sequence[str], authorizer: apigw.IAuthorizer | None) -> dict[str, Any]:
        if user_pools:
            cognito_authorizer = apigw.CognitoUserPoolsAuthorizer(self, "Authorizer", cognito_user_pools=list(user_pools))
            return {"authorization_type": apigw.AuthorizationType.COGNITO, "authorizer": cognito_authorizer,
                    "authorization_scopes": list(scopes) or None}
        if authorizer is not None:
            return {"authorization_type": apigw.AuthorizationType.CUSTOM, "authorizer": authorizer}
        return {"authorization_type": apigw.AuthorizationType.IAM}

    def _direct_integration(self, endpoint: EndpointBase) -> apigw.Integration:
        self.role = iam.Role(self, "IntegrationRole", assumed_by=_apigateway_principal(),
                             description=f"API Gateway invokes SageMaker endpoint {endpoint.endpoint_name}")
        policy = iam.ManagedPolicy(self, "IntegrationPolicy", description=f"Invoke endpoint {endpoint.endpoint_name}", roles=[self.role],
                                   statements=[iam.PolicyStatement(actions=["sagemaker:InvokeEndpoint"], resources=[endpoint.endpoint_arn])])
        self._integration_policy = policy
        request_id = {f"method.response.header.{REQUEST_ID_HEADER}": "context.requestId"}
        responses = [apigw.IntegrationResponse(
            selection_pattern=SUCCESS_PATTERN, status_code="200",
            response_parameters={**request_id, "method.response.header.Content-Type": "integration.response.header.Content-Type"},
        )]
        # A response template is picked by the request's Accept header (application/json when it has none), so each
        # error template is registered for JSON and for every accepted content type: a client that asks for
        # text/csv gets the same mapped error, never SageMaker's own body. API Gateway's guide, as quoted in
        # https://github.com/serverless/serverless/issues/2046: "The response mapping template ... is selected by the
        # value of the "Accept" header sent in the client request"; and in https://github.com/localstack/localstack/pull/10381:
        # "When the Accept header is not specified in the request, API Gateway assumes that its default value is
        # application/json".
        accepted = tuple(dict.fromkeys(("application/json", *self.content_types)))
        for pattern, status, template in ERROR_TEMPLATES.values():
            responses.append(apigw.IntegrationResponse(
                selection_pattern=pattern, status_code=status, response_parameters=request_id,
                response_templates=dict.fromkeys(accepted, template),
            ))
        return apigw.AwsIntegration(
            # https://docs.aws.amazon.com/apigateway/latest/developerguide/integration-request-basic-setup.html (AWS
            # service integration: arn:aws:apigateway:<region>:runtime.sagemaker:path/endpoints/<name>/invocations)
            service="runtime.sagemaker",
            path=f"endpoints/{endpoint.endpoint_name}/invocations",
            integration_http_method="POST",
            options=apigw.IntegrationOptions(
                credentials_role=self.role,
                # NEVER: a content type without a template below is refused with 415 Unsupported Media Type
                # (https://docs.aws.amazon.com/apigateway/latest/developerguide/integration-passthrough-behaviors.html).
                passthrough_behavior=apigw.PassthroughBehavior.NEVER,
                request_templates={content_type: "$input.body" for content_type in self.content_types},
                request_parameters={
                    "integration.request.header.Content-Type": "method.request.header.Content-Type",
                    "integration.request.header.Accept": "'*/*'",
                },
                integration_responses=responses,
            ),
        )

    def _lambda_integration(self, handler: lambda_.IFunction) -> apigw.Integration:
        self.endpoint.grant_invoke(handler)
        return apigw.LambdaIntegration(handler, proxy=True)

    def _method_responses(self) -> list[apigw.MethodResponse]:
        headers = {f"method.response.header.{REQUEST_ID_HEADER}": True}
        statuses = ["200", *dict.fromkeys(status for _, status, _ in ERROR_TEMPLATES.values())]
        return [apigw.MethodResponse(status_code=status, response_parameters={**headers, "method.response.header.Content-Type": True}
                                     if status == "200" else headers) for status in statuses]

    def _add_gateway_responses(self) -> None:
        """API Gateway's own answers (unauthorized, refused content type, invalid body, WAF block, throttled,
        integration failure) in the same form as the integration's: a fixed message and the request id
        (https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html)."""
        for id_, type_, body in (
            ("Default4xx", apigw.ResponseType.DEFAULT_4_XX, GATEWAY_4XX_TEMPLATE),
            ("Default5xx", apigw.ResponseType.DEFAULT_5_XX, _ERROR_BODY % "The API failed to answer"),
            ("BadRequestBody", apigw.ResponseType.BAD_REQUEST_BODY, _ERROR_BODY % "Invalid request body"),
            ("Throttled", apigw.ResponseType.THROTTLED, _ERROR_BODY % "Too many requests: retry later"),
        ):
            self.rest_api.add_gateway_response(id_, type=type_, templates={"application/json": body})

    def _web_acl(self, api_name: str, max_body_kb: int, rate_limit: int, retention: logs.RetentionDays,
                 removal_policy: RemovalPolicy) -> tuple[wafv2.CfnWebACL, logs.LogGroup]:
        metric_name = re.sub(r"[^A-Za-z0-9]", "", api_name)[:100] or "InferenceApi"

        def visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
            return wafv2.CfnWebACL.VisibilityConfigProperty(cloud_watch_metrics_enabled=True, metric_name=f"{metric_name}{name}",
                                                            sampled_requests_enabled=True)

        inspection_kb = next(kb for kb in WAF_BODY_LIMITS_KB if kb >= max_body_kb)
        block = wafv2.CfnWebACL.RuleActionProperty(block={})
        rules = [
            wafv2.CfnWebACL.RuleProperty(
                name="RatePerClientIp", priority=0, action=block, visibility_config=visibility("RatePerClientIp"),
                statement=wafv2.CfnWebACL.StatementProperty(rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                    limit=rate_limit, aggregate_key_type="IP", evaluation_window_sec=300)),
            ),
            wafv2.CfnWebACL.RuleProperty(
                name="MaxBodySize", priority=1, action=block, visibility_config=visibility("MaxBodySize"),
                statement=wafv2.CfnWebACL.StatementProperty(size_constraint_statement=wafv2.CfnWebACL.SizeConstraintStatementProperty(
                    field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(body=wafv2.CfnWebACL.BodyProperty(oversize_handling="MATCH")),
                    comparison_operator="GT", size=max_body_kb * 1024,
                    text_transformations=[wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")])),
            ),
        ]
        for priority, group in enumerate(MANAGED_RULE_GROUPS, start=2):
            counted = _COUNTED_CORE_RULES if group == "AWSManagedRulesCommonRuleSet" else ()
            rules.append(wafv2.CfnWebACL.RuleProperty(
                name=group, priority=priority, override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}), visibility_config=visibility(group),
                statement=wafv2.CfnWebACL.StatementProperty(managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                    vendor_name="AWS", name=group,
                    rule_action_overrides=[wafv2.CfnWebACL.RuleActionOverrideProperty(
                        name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})) for rule in counted] or None)),
            ))
        acl = wafv2.CfnWebACL(
            self, "WebAcl", name=metric_name, scope="REGIONAL", default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            description=f"Rate limit, body size and AWS managed rules of API {api_name}", visibility_config=visibility("WebAcl"),
            rules=rules,
            association_config=wafv2.CfnWebACL.AssociationConfigProperty(request_body={
                "API_GATEWAY": wafv2.CfnWebACL.RequestBodyAssociatedResourceTypeConfigProperty(default_size_inspection_limit=f"KB_{inspection_kb}"),
            }) if inspection_kb > WAF_BODY_LIMITS_KB[0] else None,
        )
        self._web_acl_name = metric_name
        # WAF logs to CloudWatch only into log groups whose names start with aws-waf-logs-
        # (https://docs.aws.amazon.com/waf/latest/developerguide/logging-cw-logs.html).
        log_group = logs.LogGroup(self, "WafLogs", log_group_name=f"aws-waf-logs-{_log_name(api_name)}",
                                  encryption_key=self.encryption_key, retention=retention, removal_policy=removal_policy)
        acknowledge_log_retention(log_group)
        wafv2.CfnLoggingConfiguration(
            self, "WafLogging", resource_arn=acl.attr_arn, log_destination_configs=[log_group.log_group_arn],
            # WAF logs every header of a request; these carry credentials (a Cognito JWT, a session token) and are
            # written as REDACTED instead (https://docs.aws.amazon.com/waf/latest/APIReference/API_LoggingConfiguration.html).
            # (SingleHeader is typed as JSON here, so written as CloudFormation spells it.)
            redacted_fields=[wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": header})
                             for header in WAF_REDACTED_HEADERS],
        )
        return acl, log_group

    def _execution_logs(self, api_name: str, retention: logs.RetentionDays, removal_policy: RemovalPolicy) -> logs.LogGroup:
        """A CloudWatch Logs delivery of the stage's execution logs to a log group of the API's own, encrypted with its
        key and kept as long as its access logs.

        Without one, API Gateway writes execution logs to a group it creates and manages itself,
        ``API-Gateway-Execution-Logs_{rest-api-id}/{stage_name}``: not encrypted with a key of the account and never
        expiring. While a delivery exists, it writes them to the delivery's destination instead
        (https://docs.aws.amazon.com/apigateway/latest/developerguide/rest-api-create-log-delivery.html, and
        rest-api-delete-log-delivery.html: deleting the delivery resumes the managed group). The source is the stage,
        with log type ``EXECUTION_LOGS``, and needs execution logging on (the stage's ``loggingLevel``), so it is created
        after the stage. When the delivery is created, CloudWatch Logs gives the log delivery service write access to
        the group with a resource policy of the group's own, which the deploying role creates (the CloudFormation
        execution policy allows ``logs:*`` in the region;
        https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/AWS-logs-infrastructure-V2-CloudWatchLogs.html). The
        group is under ``/aws/vendedlogs/``, the prefix AWS suggests for groups that receive vended logs
        (https://docs.aws.amazon.com/step-functions/latest/dg/bp-cwl.html)."""
        stack = Stack.of(self)
        log_group = logs.LogGroup(self, "ExecutionLogs", log_group_name=f"/aws/vendedlogs/apigateway/{_log_name(api_name)}/execution",
                                  encryption_key=self.encryption_key, retention=retention, removal_policy=removal_policy)
        acknowledge_log_retention(log_group)
        name = _delivery_name(api_name)
        source = logs.CfnDeliverySource(
            self, "ExecutionLogsSource", name=name, log_type="EXECUTION_LOGS",
            # The stage's ARN as the log delivery documentation spells it, with the account (API Gateway's own ARNs have none).
            resource_arn=f"arn:{stack.partition}:apigateway:{stack.region}:{stack.account}:/restapis/{self.rest_api.rest_api_id}/stages/{STAGE_NAME}",
        )
        source.node.add_dependency(self.stage)
        destination = logs.CfnDeliveryDestination(self, "ExecutionLogsDestination", name=name, delivery_destination_type="CWL",
                                                  destination_resource_arn=log_group.log_group_arn)
        logs.CfnDelivery(self, "ExecutionLogsDelivery", delivery_source_name=source.ref, delivery_destination_arn=destination.attr_arn)
        return log_group

    def _acknowledge(self, stack: Stack) -> None:
        stage = self.stage.node.default_child
        assert stage is not None
        no_cache = ("Inference answers are not cached: every request is a new prediction (a POST, which API Gateway does not "
                    "cache), and a cache would keep predictions outside the KMS-encrypted stores.")
        skip_checkov(stage, "CKV_AWS_120", no_cache)
        acknowledge_each(stage, {
            **in_packs("APIGWCacheEnabledAndEncrypted", no_cache),
            **in_packs("APIGWSSLEnabled", "A client certificate authenticates API Gateway to an HTTP backend; this API's backend is "
                       "SageMaker's runtime (an AWS service integration signed with SigV4 over TLS) or a Lambda function, which take none."),
        })
        if self._method_authorization["authorization_type"] != apigw.AuthorizationType.COGNITO:
            method = self.method.node.default_child
            assert method is not None
            acknowledge_each(method, {
                "AwsSolutions::AwsSolutions-COG4": "Authorized with IAM (SigV4) or the caller's own authorizer: the callers are AWS "
                                                   "principals granted execute-api:Invoke on this method only, not Cognito users.",
            })

    @staticmethod
    def _validate(name: str, *, api_name: Any, endpoint_type: Any, vpc_endpoint: Any, user_pools: Any, authorization_scopes: Any,
                  authorizer: Any, handler: Any, content_types: Any, max_body_kb: Any, throttling_rate_limit: Any, throttling_burst_limit: Any,
                  quota_per_day: Any, api_key_required: Any, waf_rate_limit: Any, domain_name: Any, certificate: Any, encryption_key: Any,
                  log_retention: Any, removal_policy: Any) -> None:
        check_pattern(name, "api_name", api_name, _API_NAME, "must be 1-128 letters, digits, spaces and . _ -")
        check_choice(name, "endpoint_type", endpoint_type, ("REGIONAL", "PRIVATE"))
        check_interface(name, "vpc_endpoint", vpc_endpoint, "vpc_endpoint_id", "must be an ec2.IVpcEndpoint (the execute-api interface endpoint)",
                        optional=True)
        if endpoint_type == "PRIVATE" and vpc_endpoint is None:
            raise PropsError(name, "vpc_endpoint", None, "is required with endpoint_type PRIVATE: the execute-api interface endpoint clients come through")
        if endpoint_type != "PRIVATE" and vpc_endpoint is not None:
            raise PropsError(name, "vpc_endpoint", vpc_endpoint, "must not be given with endpoint_type REGIONAL: only a private API is reached through one")
        check_type(name, "user_pools", user_pools, list, tuple)
        for index, pool in enumerate(user_pools):
            check_interface(name, f"user_pools[{index}]", pool, "user_pool_arn", "must be a cognito.IUserPool")
        check_type(name, "authorization_scopes", authorization_scopes, list, tuple)
        if authorization_scopes and not user_pools:
            raise PropsError(name, "authorization_scopes", list(authorization_scopes), "must be given with user_pools only: they are Cognito OAuth scopes")
        check_interface(name, "authorizer", authorizer, "authorizer_id", "must be an apigw.IAuthorizer", optional=True)
        if authorizer is not None and user_pools:
            raise PropsError(name, "authorizer", authorizer, "must not be given with user_pools: choose one way to authorize")
        check_interface(name, "handler", handler, "function_arn", "must be a lambda_.IFunction", optional=True)
        if isinstance(content_types, str) or not isinstance(content_types, (list, tuple)) or not content_types:
            raise PropsError(name, "content_types", content_types, "must be a non-empty list of media types like text/csv")
        for index, content_type in enumerate(content_types):
            check_pattern(name, f"content_types[{index}]", content_type, _CONTENT_TYPE, "must be a media type like text/csv, without parameters")
        check_range(name, "max_body_kb", max_body_kb, 1, WAF_BODY_LIMITS_KB[-1], unit="KB")
        if is_token(max_body_kb):
            raise PropsError(name, "max_body_kb", max_body_kb, "must be known at synthesis: it chooses the WAF inspection size")
        check_range(name, "throttling_rate_limit", throttling_rate_limit, 0, integer=False)
        check_range(name, "throttling_burst_limit", throttling_burst_limit, 0)
        if quota_per_day is not None:
            check_range(name, "quota_per_day", quota_per_day, 1)
        check_type(name, "api_key_required", api_key_required, bool)
        if quota_per_day is not None and not api_key_required:
            raise PropsError(name, "quota_per_day", quota_per_day, "must be given with api_key_required=True only: a usage plan's quota "
                             "counts requests that carry an API key, on methods that require one")
        check_range(name, "waf_rate_limit", waf_rate_limit, _RATE_MIN, _RATE_MAX)
        check_pattern(name, "domain_name", domain_name, _DOMAIN, "must be a lowercase DNS name like api.example.com", optional=True)
        check_interface(name, "certificate", certificate, "certificate_arn", "must be an acm.ICertificate", optional=True)
        if domain_name is not None and certificate is None:
            raise PropsError(name, "certificate", None, "is required with domain_name: the ACM certificate of the domain, in the API's region")
        if certificate is not None and domain_name is None:
            raise PropsError(name, "certificate", certificate, "must be given with domain_name only")
        if domain_name is not None and endpoint_type == "PRIVATE":
            # A private API's custom domain is another resource (AWS::ApiGateway::DomainNameV2, with a base path
            # mapping V2 and a domain name access association for the VPC endpoint), which this construct does not build
            # (https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-private-custom-domains-cfn.html).
            raise PropsError(name, "domain_name", domain_name, "must not be given with endpoint_type PRIVATE: a custom domain is "
                             "built for a REGIONAL API only (a private API's needs AWS::ApiGateway::DomainNameV2)")
        check_interface(name, "encryption_key", encryption_key, "key_arn", "must be a kms.IKey", optional=True)
        check_type(name, "log_retention", log_retention, logs.RetentionDays)
        check_type(name, "removal_policy", removal_policy, RemovalPolicy)


def _apigateway_principal() -> iam.IPrincipal:
    """API Gateway's service principal, with no ``aws:SourceAccount`` condition, for both roles it assumes here.

    API Gateway does not set ``aws:SourceAccount`` when it assumes an integration's credentials role, so a trust
    policy conditioned on it denies the AssumeRole and every request is answered 500 ("API Gateway does not have
    permission to assume the provided role"): found and fixed in
    https://github.com/aws-solutions-library-samples/accelerated-intelligent-document-processing-on-aws/pull/479.
    AWS's own trust policy for the account's CloudWatch role (``AWS::ApiGateway::Account``) has no condition
    either (https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html). Either role is
    only usable by whoever can name it to API Gateway in this account (``iam:PassRole``), and each allows one
    narrow thing: InvokeEndpoint on one endpoint, or writing API Gateway's log groups.
    """
    return service_principal("apigateway.amazonaws.com")


def _retained_except_on_create(policy: RemovalPolicy) -> RemovalPolicy:
    """``RETAIN`` as CloudFormation's ``RetainExceptOnCreate``, any other policy as given.

    The access and WAF log groups have fixed names (the WAF one must start with ``aws-waf-logs-``). Were they
    retained when the stack's first create fails and rolls back, the next deploy would fail creating them again
    (AlreadyExists). ``RetainExceptOnCreate`` deletes a resource when the operation that created it rolls back and
    retains it on every other delete or replacement
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-deletionpolicy.html);
    the key that encrypts them goes with them, as it then encrypted nothing.
    """
    return RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE if policy == RemovalPolicy.RETAIN else policy


def _minute() -> Any:
    from mlops_constructs import _durations

    return _durations.minutes(1)


def _delivery_name(api_name: str) -> str:
    """The name of the execution logs' delivery source and destination: 1 to 60 letters, digits, ``_`` and ``-``
    (CloudWatch Logs' ``PutDeliverySource``/``PutDeliveryDestination``), unique in the account and region for each API
    name: an API name that had to be changed or shortened to fit (``a.b``, ``a b``) gets a digest of itself."""
    readable = re.sub(r"[^A-Za-z0-9_-]", "-", api_name)
    name = f"{readable}-execution-logs"
    if readable == api_name and len(name) <= 60:
        return name
    return f"{name[:51]}-{hashlib.sha256(api_name.encode()).hexdigest()[:8]}"


def _log_name(api_name: str) -> str:
    """``api_name`` in the characters a log group name may have."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", api_name)
