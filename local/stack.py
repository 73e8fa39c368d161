"""The local stack (docs/design.md §8): moto, the template's resources and functions, the stand-ins, one HTTP server.

    stack = LocalStack(port=0)      # 0: a free port
    base_url = stack.start()
    ...
    stack.stop()

One stack per process: moto's backends and the handlers' environment are process-wide.
"""

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from werkzeug.serving import BaseWSGIServer
from werkzeug.test import Client
from zellify_tiktok.repositories import aws as aws_clients

from .apigw import HttpApi, Route
from .aws import MotoServer, create_provider_secret, create_resources, create_stripe_secret, peek_messages, use_endpoint
from .demo import demo_app
from .functions import LambdaFunction, Status, load_function
from .jwt_authorizer import JwtAuthorizer
from .oidc_standin import CAMPAIGNS_SCOPE, CONSOLE_CLIENT_ID, MACHINE_CLIENT_ID, MACHINE_CLIENT_SECRET, OidcStandIn
from .payment_secrets import LocalPaymentSecrets
from .pixel_standin import PixelStandIn
from .poller import SqsPoller, StreamPoller
from .server import LocalApp, make_http_server
from .shutdown import STOP_TIMEOUT_S
from .template import FunctionSpec, Resolver, Template, TemplateError, cfn_string
from .testevents import render as render_test_events
from .testevents import render_health
from .tiktok_standin import API_PATH, TikTokStandIn

# The functions' AWS read timeout in the local stack (1 s in AWS: zellify_tiktok/repositories/aws.py).
LOCAL_READ_TIMEOUT_S = 3.0

log = logging.getLogger("local")

LOCAL_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = LOCAL_DIR.parent
DEFAULT_ADMIN_TOKEN = "dev-admin-token"
DEFAULT_STRIPE_SIGNING_SECRET = "whsec_dev"
DEMO_CAMPAIGN_ID = "demo"
DEMO_SETTINGS = {
    "pixel_id": "CDEMO00000000000PIXEL",
    "access_token": "dev-tiktok-token",
    "enabled": True,
    "allowed_origins": None,
    "event_names": {},
    "limited_data_use": False,
    "require_consent": False,
    "report_renewals": False,
}


class LocalStack:
    def __init__(self, port: int = 3000, root: Path = PROJECT_ROOT):
        self.port = port
        self.root = root
        # Read now: the handlers' environment is written into os.environ at start.
        self.admin_token = os.environ.get("DEV_ADMIN_TOKEN") or DEFAULT_ADMIN_TOKEN
        self.stripe_signing_secret = os.environ.get("STRIPE_WEBHOOK_SECRET") or DEFAULT_STRIPE_SIGNING_SECRET
        self.payment_secrets = LocalPaymentSecrets.from_environ()
        self._tiktok_api_base = os.environ.get("TIKTOK_API_BASE")
        self._pixel_sdk_url = os.environ.get("TIKTOK_PIXEL_SDK_URL")
        self.tiktok = TikTokStandIn()
        self.pixel = PixelStandIn(LOCAL_DIR / "pixel_sdk.js")
        self.oidc: OidcStandIn | None = None  # its issuer names the server's port, known at start
        self.base_url = ""
        self.aws_endpoint_url = ""
        self.handler_environment: dict[str, str] = {}
        self.functions: dict[str, LambdaFunction] = {}
        self.routes: list[Route] = []
        self.pollers: list[SqsPoller | StreamPoller] = []
        self.seeded: str | None = None
        self._moto: MotoServer | None = None
        self._http: BaseWSGIServer | None = None
        self._http_thread: threading.Thread | None = None
        self._app: LocalApp | None = None
        self._dynamodb: Any = None

    def start(self) -> str:
        """Bring everything up; answer the base URL. The handlers are imported once AWS points at moto."""
        # moto's server logs every AWS call through werkzeug's logger; our server logs through local.http.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._moto = MotoServer()
        self.aws_endpoint_url = self._moto.start()
        use_endpoint(self.aws_endpoint_url)
        # moto answers from this one process, which also runs every function and serves every request: under
        # load its answers take longer than AWS's, and the functions' 1 s read timeout (set for AWS) would turn
        # a busy moment into failures AWS would not have had (make loadtest saw beacons answered 503 and
        # ledger writes timing out). The timeouts' own behaviour is tested with injected faults.
        aws_clients.configure(Config(connect_timeout=aws_clients.CONNECT_TIMEOUT_S, read_timeout=LOCAL_READ_TIMEOUT_S,
                                     retries={"mode": "standard", "total_max_attempts": aws_clients.MAX_ATTEMPTS}))
        self._dynamodb = boto3.client("dynamodb", config=Config(connect_timeout=1, read_timeout=2,
                                                                retries={"max_attempts": 1}))
        template = Template(self.root / "template.yaml")
        resolver = Resolver(template, create_resources(template))
        # Bound before the handlers load: their environment names this server's port.
        self._http = make_http_server(self._dispatch, self.port)
        self.base_url = f"http://127.0.0.1:{self._http.port}"
        self.oidc = OidcStandIn(self.base_url)
        specs = template.functions()
        self.handler_environment = self._environment(template, specs, resolver)
        os.environ.update(self.handler_environment)
        if "STRIPE_SECRET_NAME" in self.handler_environment:
            create_stripe_secret(self.handler_environment["STRIPE_SECRET_NAME"], self.stripe_signing_secret)
        for variable, (provider, live, test) in self.payment_secrets.by_setting().items():
            if self.handler_environment.get(variable):
                create_provider_secret(self.handler_environment[variable], live, test, provider)
        served = {route.function for route in template.http_routes()}
        self.functions = {spec.name: load_function(spec, own_environment=spec.name not in served) for spec in specs}
        # A function whose handler failed to import keeps its routes, as the deployed API would: they answer 500.
        self.routes = [Route(spec, self.functions[spec.function]) for spec in template.http_routes()]
        self._app = LocalApp(
            api=HttpApi(self.routes, JwtAuthorizer(self.oidc.issuer, self.oidc.audience, self.oidc.jwks,
                                                   admin_token=self.admin_token),
                        template.throttling(resolver)),
            tiktok=self.tiktok,
            pixel=self.pixel,
            oidc=self.oidc,
            aws_endpoint_url=self.aws_endpoint_url,
            admin_token=self.admin_token,
            health=self.health,
            state=self.state,
            render_test_events=render_test_events,
            render_health=render_health,
            demo_app=demo_app,
        )
        self._seed()
        self._start_pollers(template, resolver)
        # Serving last: /healthz answers once everything above is done.
        self._http_thread = threading.Thread(target=self._http.serve_forever, name="local-http", daemon=True)
        self._http_thread.start()
        return self.base_url

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> bool:
        """Stop everything within about `timeout` seconds; answer whether every thread of the stack ended.

        Every poller is told at once and then given what is left of one shared deadline, so a poller in a
        slow invocation cannot hold up the rest; its daemon thread is left behind (local/shutdown.py).
        """
        deadline = time.monotonic() + timeout
        for poller in self.pollers:
            poller.request_stop()
        ended = True
        if self._http is not None:
            if self._http_thread is not None:  # shutdown() waits for serve_forever, so only when it runs
                self._http.shutdown()
            self._http.server_close()
            self._http = self._http_thread = None
        for poller in self.pollers:
            ended = poller.join(deadline - time.monotonic()) and ended
        self.pollers = []
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        return ended

    def _dispatch(self, environ: dict, start_response: Any) -> Any:
        # The server is bound before the app exists (the handlers need its port) and serves once it does.
        return self._app(environ, start_response)

    def _environment(self, template: Template, specs: list[FunctionSpec], resolver: Resolver) -> dict[str, str]:
        """Globals' environment, then each function's own, then what only makes sense locally.

        What only makes sense locally is not resolved from the template: it may name resources the
        local stack does not create (the Cognito user pool and clients behind the console's sign-in).
        """
        local = self._local_environment()

        def resolved(variables: dict) -> dict[str, str]:
            values = {name: resolver.resolve(value) for name, value in variables.items() if name not in local}
            return {name: cfn_string(value) for name, value in values.items() if value is not None}

        environment = resolved(template.global_environment)
        for spec in specs:
            for name, value in resolved(spec.environment).items():
                if environment.setdefault(name, value) != value:
                    log.warning("%s sets %s=%r, but in-process handlers share one environment: it stays %r",
                                spec.name, name, value, environment[name])
        environment.update(local)
        return environment

    def _local_environment(self) -> dict[str, str]:
        issuer = self.oidc.issuer
        return {
            "TIKTOK_API_BASE": self._tiktok_api_base or f"{self.base_url}/_dev/tiktok{API_PATH}",
            "TIKTOK_PIXEL_SDK_URL": self._pixel_sdk_url or f"{self.base_url}/_dev/pixel/sdk.js",
            "PUBLIC_BASE_URL": self.base_url,
            "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
            # Retries within seconds instead of Lambda's 30 s first backoff, so faults clear visibly.
            "RETRY_BACKOFF_BASE_S": os.environ.get("RETRY_BACKOFF_BASE_S", "2"),
            # The console signs in through the OIDC stand-in instead of Cognito's hosted UI.
            "CONSOLE_CLIENT_ID": CONSOLE_CLIENT_ID,
            "CONSOLE_AUTHORIZATION_ENDPOINT": f"{issuer}/authorize",
            "CONSOLE_TOKEN_ENDPOINT": f"{issuer}/token",
            "CONSOLE_LOGOUT_ENDPOINT": f"{issuer}/logout",
        }

    def _seed(self) -> None:
        """Configure the demo campaign through the real settings route, as the dashboard would."""
        response = Client(self._dispatch).put(
            f"/v1/campaigns/{DEMO_CAMPAIGN_ID}/tiktok",
            base_url=self.base_url,
            json=DEMO_SETTINGS,
            headers={"Authorization": f"Bearer {self.admin_token}"},
        )
        if response.status_code == 200:
            self.seeded = DEMO_CAMPAIGN_ID
        else:
            log.warning("campaign %r not seeded: PUT /v1/campaigns/%s/tiktok answered %s %s", DEMO_CAMPAIGN_ID,
                        DEMO_CAMPAIGN_ID, response.status_code, response.get_data(as_text=True)[:500])

    def _start_pollers(self, template: Template, resolver: Resolver) -> None:
        for event in template.sqs_events():
            arn = resolver.resolve(event.queue_arn)
            url = next((a["QueueUrl"] for a in resolver.attributes.values()
                        if a.get("Arn") == arn and "QueueUrl" in a), None)
            if url is None:
                raise TemplateError(f"{event.function}'s SQS event polls {arn}, a queue the template does not create")
            # A function that failed to import is polled too: its batches fail, as they would on Lambda.
            poller = SqsPoller(self.functions[event.function], event, url, arn)
            poller.start()
            self.pollers.append(poller)
        for stream in template.stream_events():
            poller = StreamPoller(self.functions[stream.function], stream, resolver.resolve(stream.stream_arn))
            poller.start()
            self.pollers.append(poller)

    def health(self) -> tuple[bool, dict]:
        try:
            tables = self._dynamodb.list_tables()["TableNames"]
            aws = "ok"
        except Exception as exc:
            tables, aws = [], f"{type(exc).__name__}: {exc}"
        failed = [f for f in self.functions.values() if f.status is Status.FAILED]
        ok = aws == "ok" and not failed
        return ok, {
            "status": "ok" if ok else "unavailable",
            "aws": aws,
            "tables": tables,
            "functions": {name: str(f.status) for name, f in self.functions.items()},
            "function_errors": {name: f.error for name, f in self.functions.items() if f.error},
            "pollers": [p.function.spec.name for p in self.pollers],
            "seeded_campaign": self.seeded,
        }

    def state(self) -> dict:
        return {
            "tiktok_requests": self.tiktok.records(),
            "pixel_requests": self.pixel.records(),
            "queued": peek_messages(self._queue_name("DELIVERY_QUEUE_URL")),
            "dead_lettered": peek_messages(self._queue_name("DEAD_LETTER_QUEUE_URL")),
        }

    def _queue_name(self, url_variable: str) -> str:
        return self.handler_environment.get(url_variable, "").rsplit("/", 1)[-1]

    def banner(self) -> str:
        base = self.base_url
        functions = ", ".join(f"{name} {f.status}" for name, f in self.functions.items())
        routes = ", ".join(route.spec.route_key for route in self.routes)
        tiktok = self.handler_environment["TIKTOK_API_BASE"]
        seeded = (f"{self.seeded} (pixel {DEMO_SETTINGS['pixel_id']}, with an Events API token)"
                  if self.seeded else "none (the settings PUT failed: see the warning above)")
        return "\n".join([
            "",
            "Local stack ready (no AWS account, nothing deployed)",
            f"  API base URL      {base}",
            f"  routes            {routes}",
            f"  functions         {functions}",
            f"  Console           {base}/console/  (sign in with any email address)",
            f"  OIDC issuer       {self.oidc.issuer}  (stand-in for Cognito; JWKS, authorization code + PKCE)",
            f"  Console client    {CONSOLE_CLIENT_ID}  (public, PKCE)",
            f"  Machine client    {MACHINE_CLIENT_ID} / secret {MACHINE_CLIENT_SECRET}  "
            f"(client credentials, scope {CAMPAIGNS_SCOPE}: POST {self.oidc.issuer}/token)",
            f"  Demo funnel       {base}/demo/",
            f"  Test Events page  {base}/_dev/",
            f"  TikTok stand-in   {base}/_dev/tiktok{API_PATH}/event/track/  "
            f"(recorded: {base}/_dev/tiktok/requests, faults: {base}/_dev/tiktok/faults, "
            f"token marks: {base}/_dev/tiktok/tokens)",
            f"  TIKTOK_API_BASE   {tiktok}" + ("" if tiktok.startswith(base) else "  (set by you: NOT the stand-in)"),
            f"  Pixel stand-in    {self.handler_environment['TIKTOK_PIXEL_SDK_URL']}  "
            f"(recorded: {base}/_dev/pixel/requests)",
            f"  AWS (moto)        {self.aws_endpoint_url}",
            f"  Stripe secret     {self.stripe_signing_secret}  "
            f"(POST {base}/v1/webhooks/stripe; test mode: livemode false)",
            *self.payment_secrets.banner_lines(base),
            f"  Admin token       Authorization: Bearer {self.admin_token}  (operator routes, local only)",
            f"  Seeded campaign   {seeded}",
            "  Ctrl-C stops it.",
            "",
        ])
