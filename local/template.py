"""template.yaml as the local stack reads it: short tags, intrinsic functions, SAM functions and events.

Everything the stack creates or routes comes from here, so the local stack follows the template as
it changes instead of a hard-coded copy of it.
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

STACK_NAME = "zellify-tiktok-local"
REGION = "us-east-1"
# moto's default account: ARNs built here match the ones moto hands out.
ACCOUNT_ID = "123456789012"

PSEUDO_PARAMETERS = {
    "AWS::StackName": STACK_NAME,
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT_ID,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{STACK_NAME}/local",
    "AWS::NoValue": None,
}


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns CloudFormation short tags into their long form (`!Ref X` → `{"Ref": X}`)."""


def _construct_short_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix in ("Ref", "Condition"):
        return {tag_suffix: value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_short_tag)


class TemplateError(Exception):
    """The template uses something the local stack cannot reproduce."""


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    code_uri: Path
    handler: str
    memory_mb: int
    timeout_s: int
    # The function's own Environment.Variables (unresolved); Globals' are Template.global_environment.
    environment: dict[str, Any]


@dataclass(frozen=True)
class RouteSpec:
    function: str
    method: str  # upper case; ANY matches every method
    path: str  # "$default" for the catch-all route
    # The JWT authorizer guarding the route (None: public), and the scopes of which a token needs one.
    authorizer: str | None = None
    authorization_scopes: tuple[str, ...] = ()

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass(frozen=True)
class SqsEventSpec:
    function: str
    queue_arn: Any  # unresolved (usually !GetAtt Queue.Arn)
    batch_size: int
    report_batch_item_failures: bool
    # How long Lambda gathers messages before invoking with less than a full batch.
    batching_window_s: float = 0.0


@dataclass(frozen=True)
class StreamEventSpec:
    function: str
    stream_arn: Any  # unresolved (usually !GetAtt Table.StreamArn)
    batch_size: int
    batching_window_s: int
    # FilterCriteria patterns (EventBridge pattern syntax, as Lambda applies them).
    filters: list[dict[str, Any]]


class Template:
    def __init__(self, path: Path):
        self.path = path
        self.root = path.parent
        self.doc = yaml.load(path.read_text(), Loader=_CfnLoader)  # a SafeLoader subclass: no arbitrary objects

    @property
    def parameters(self) -> dict[str, dict]:
        return self.doc.get("Parameters") or {}

    @property
    def resources(self) -> dict[str, dict]:
        return self.doc.get("Resources") or {}

    @property
    def conditions(self) -> dict[str, Any]:
        return self.doc.get("Conditions") or {}

    def resources_of_type(self, resource_type: str) -> dict[str, dict]:
        """Logical id → Properties of every resource of that type the stack would create, in template order."""
        # Conditions depend on parameters only, so they are known before any resource exists.
        conditions = Resolver(self, {})
        return {
            logical_id: resource.get("Properties") or {}
            for logical_id, resource in self.resources.items()
            if resource.get("Type") == resource_type
            and ("Condition" not in resource or conditions.condition(resource["Condition"]))
        }

    def _function_globals(self) -> dict:
        return (self.doc.get("Globals") or {}).get("Function") or {}

    @property
    def global_environment(self) -> dict[str, Any]:
        return (self._function_globals().get("Environment") or {}).get("Variables") or {}

    def functions(self) -> list[FunctionSpec]:
        specs = []
        for name, props in self.resources_of_type("AWS::Serverless::Function").items():
            merged = {**self._function_globals(), **props}
            specs.append(FunctionSpec(
                name=name,
                code_uri=self.root / merged.get("CodeUri", "."),
                handler=merged["Handler"],
                # SAM's defaults when neither the function nor Globals say.
                memory_mb=int(merged.get("MemorySize", 128)),
                timeout_s=int(merged.get("Timeout", 3)),
                environment=(props.get("Environment") or {}).get("Variables") or {},
            ))
        return specs

    def _events(self, event_type: str) -> list[tuple[str, dict]]:
        return [
            (name, event.get("Properties") or {})
            for name, props in self.resources_of_type("AWS::Serverless::Function").items()
            for event in (props.get("Events") or {}).values()
            if event.get("Type") == event_type
        ]

    def _api_auth(self, api_id: Any) -> dict:
        # An event without ApiId belongs to SAM's implicit API, configured under Globals.HttpApi.
        if isinstance(api_id, dict) and "Ref" in api_id:
            api_props = (self.resources.get(api_id["Ref"]) or {}).get("Properties") or {}
        else:
            api_props = (self.doc.get("Globals") or {}).get("HttpApi") or {}
        return api_props.get("Auth") or {}

    def http_routes(self) -> list[RouteSpec]:
        routes = []
        for function, props in self._events("HttpApi"):
            api_auth, route_auth = self._api_auth(props.get("ApiId")), props.get("Auth") or {}
            authorizers = api_auth.get("Authorizers") or {}
            authorizer = route_auth.get("Authorizer") or api_auth.get("DefaultAuthorizer")
            if authorizer == "NONE":
                authorizer = None
            if authorizer is not None and authorizer not in authorizers:
                raise TemplateError(f"{function}: authorizer {authorizer} is not a JWT authorizer of its API")
            # SAM: the route's own scopes, else its authorizer's.
            scopes = route_auth.get("AuthorizationScopes") or (
                authorizers[authorizer].get("AuthorizationScopes") if authorizer else None
            )
            method = str(props.get("Method", "ANY")).upper()
            routes.append(RouteSpec(
                function=function,
                method="ANY" if method in ("*", "X-AMAZON-APIGATEWAY-ANY-METHOD") else method,
                path=props.get("Path", "$default"),
                authorizer=authorizer,
                authorization_scopes=tuple(scopes or ()),
            ))
        return routes

    def throttling(self, resolver: "Resolver") -> tuple[tuple[float, float] | None, dict[str, tuple[float, float]]]:
        """(rate per second, burst) of the HTTP API: the default, and per route key where set."""

        def limits(settings: dict | None) -> tuple[float, float] | None:
            if not settings or "ThrottlingRateLimit" not in settings:
                return None
            rate = float(resolver.resolve(settings["ThrottlingRateLimit"]))
            return rate, float(resolver.resolve(settings.get("ThrottlingBurstLimit", rate)))

        default, per_route = None, {}
        for props in self.resources_of_type("AWS::Serverless::HttpApi").values():
            default = limits(props.get("DefaultRouteSettings")) or default
            for route_key, settings in (props.get("RouteSettings") or {}).items():
                route_limits = limits(settings)
                if route_limits:
                    per_route[route_key] = route_limits
        return default, per_route

    def sqs_events(self) -> list[SqsEventSpec]:
        return [
            SqsEventSpec(
                function=function,
                queue_arn=props["Queue"],
                batch_size=int(props.get("BatchSize", 10)),
                report_batch_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
                batching_window_s=float(props.get("MaximumBatchingWindowInSeconds", 0)),
            )
            for function, props in self._events("SQS")
        ]

    def stream_events(self) -> list[StreamEventSpec]:
        return [
            StreamEventSpec(
                function=function,
                stream_arn=props["Stream"],
                batch_size=int(props.get("BatchSize", 100)),
                batching_window_s=int(props.get("MaximumBatchingWindowInSeconds", 0)),
                filters=[json.loads(f["Pattern"]) for f in (props.get("FilterCriteria") or {}).get("Filters", [])],
            )
            for function, props in self._events("DynamoDB")
        ]


_SUB_VARIABLE = re.compile(r"\$\{([^}]+)\}")


class Resolver:
    """Resolves intrinsic functions against the parameters' defaults and the resources created locally.

    Ref, Fn::GetAtt, Fn::Sub, Fn::Join and the condition functions (Fn::If, Fn::Equals, Fn::Not,
    Fn::And, Fn::Or, Condition); anything else is refused loudly rather than guessed.

    `attributes` maps a logical id to what it resolves to: {"Ref": ..., "Arn": ..., ...}; it is
    filled as resources are created, so a later resource may refer to an earlier one.
    """

    def __init__(self, template: Template, attributes: dict[str, dict[str, str]]):
        self.template = template
        self.attributes = attributes

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self._ref(argument)
            if key == "Fn::GetAtt":
                return self._get_att(*argument)
            if key == "Fn::Sub":
                return self._sub(argument)
            if key == "Fn::Join":
                delimiter, items = argument
                return delimiter.join(str(self.resolve(item)) for item in self.resolve(items))
            if key == "Fn::If":
                condition, if_true, if_false = argument
                return self.resolve(if_true if self.condition(condition) else if_false)
            if key == "Condition":
                return self.condition(argument)
            if key == "Fn::Equals":
                first, second = (cfn_string(self.resolve(item)) for item in argument)
                return first == second
            if key == "Fn::Not":
                return not self.resolve(argument[0])
            if key == "Fn::And":
                return all(self.resolve(item) for item in argument)
            if key == "Fn::Or":
                return any(self.resolve(item) for item in argument)
            if key.startswith("Fn::"):
                raise TemplateError(f"{key} is not supported by the local stack")
        if isinstance(value, dict):
            return {key: self.resolve(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        return value

    def condition(self, name: str) -> bool:
        if name not in self.template.conditions:
            raise TemplateError(f"condition {name} is not defined")
        return bool(self.resolve(self.template.conditions[name]))

    def _ref(self, name: str) -> Any:
        if name in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[name]
        if name in self.template.parameters:
            return self.template.parameters[name].get("Default")
        if name in self.attributes:
            return self.attributes[name]["Ref"]
        raise TemplateError(f"Ref {name}: no such parameter, or a resource the local stack does not create")

    def _get_att(self, logical_id: str, attribute: str) -> str:
        try:
            return self.attributes[logical_id][attribute]
        except KeyError:
            raise TemplateError(f"GetAtt {logical_id}.{attribute} is not available locally") from None

    def _sub(self, argument: str | list) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument

        def substitute(match: re.Match) -> str:
            name = match.group(1)
            if name.startswith("!"):  # ${!Literal} is CloudFormation's escape for a literal ${Literal}
                return "${" + name[1:] + "}"
            if name in variables:
                return str(self.resolve(variables[name]))
            if "." in name:
                return str(self._get_att(*name.split(".", 1)))
            return str(self._ref(name))

        return _SUB_VARIABLE.sub(substitute, text)


def cfn_string(value: Any) -> str:
    """A scalar as CloudFormation passes it on (environment values, queue attributes): booleans in lower case."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
