"""The fake Salesforce REST API server: routes, authentication, limits and error shapes.

Every response under ``/services/data/vXX.X/`` carries ``Sforce-Limit-Info:
api-usage=N/M``; every authenticated call counts against the org's rolling 24-hour
allocation and is refused with 403 ``REQUEST_LIMIT_EXCEEDED`` once it is used up.
Errors are JSON lists of ``{message, errorCode}`` as the real API sends them.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable

from sandbox.admin import add_admin_routes
from sandbox.faults import FaultDecision, FaultInjector, FaultKind
from sandbox.http import HttpError, Request, Response, Router, SandboxHttpServer
from sandbox.meter import Meter
from sandbox.salesforce.oauth import token_endpoint
from sandbox.salesforce.query_api import QueryApi
from sandbox.salesforce.schema import find_object
from sandbox.salesforce.sobjects_api import SObjectsApi
from sandbox.salesforce.state import API_VERSIONS, RELEASE_LABELS, SalesforceState
from sandbox.salesforce.tree_import import import_tree

DATA = "/services/data/{version}"
AuthedHandler = Callable[[Request, str], Response]


class SalesforceBehaviour:
    """Salesforce's error bodies, injected-fault renderings and limit header."""

    def __init__(self, state: SalesforceState, faults: FaultInjector) -> None:
        self.state, self.faults = state, faults

    def error_response(self, error: HttpError) -> Response:
        body = [{"message": error.message, "errorCode": error.code or "UNKNOWN_EXCEPTION"}]
        return Response.json(error.status, body)

    def fault_response(self, decision: FaultDecision) -> Response:
        if decision.kind is FaultKind.THROTTLE:
            # Salesforce does not send 429s from the REST API; it refuses with a 403 when
            # too many long-running requests are in flight.
            message = "ConcurrentPerOrgLongTxn Limit exceeded."
            return self.error_response(HttpError(403, message, "REQUEST_LIMIT_EXCEEDED"))
        code = "SERVER_UNAVAILABLE" if decision.status == 503 else "UNKNOWN_EXCEPTION"
        message = "An unexpected error occurred. Please include this ErrorId if you contact support"
        return self.error_response(HttpError(decision.status, message, code))

    def finish(self, request: Request, response: Response) -> Response:
        if request.path.startswith("/services/data"):
            usage = self.state.auth.usage()
            allocation = self.state.auth.allocation(self.faults.config.daily_budget)
            response.headers["Sforce-Limit-Info"] = f"api-usage={usage}/{allocation}"
        return response


class SalesforceServer:
    """Builds the router over one org's state."""

    def __init__(self, state: SalesforceState, faults: FaultInjector) -> None:
        self.state, self.faults = state, faults
        self.queries = QueryApi(state)
        self.sobjects = SObjectsApi(state)

    def router(self, meter: Meter, reset: Callable[[], None]) -> Router:
        router = Router()
        router.add("POST", "/services/oauth2/token", "oauth token", self._token)
        router.add("GET", "/services/data", "versions", self._versions)
        router.add("GET", DATA, "resources", self._authed(self._resources))
        self._add_query_routes(router)
        self._add_sobject_routes(router)
        router.add(
            "POST",
            f"{DATA}/composite/sobjects",
            "composite sobjects create",
            self._authed(self.sobjects.collection_create),
        )
        router.add(
            "PATCH",
            f"{DATA}/composite/sobjects",
            "composite sobjects update",
            self._authed(self.sobjects.collection_update),
        )
        router.add("GET", f"{DATA}/limits", "limits", self._authed(self._limits))
        router.add(
            "POST",
            f"{DATA}/actions/standard/customNotificationAction",
            "custom notification action",
            self._authed(self.state.notifications.invoke),
        )
        router.add("GET", "/__sandbox/notifications", "admin notifications", self._notifications)
        router.add("POST", "/__sandbox/import", "admin import", self._import)
        router.add("POST", "/__sandbox/purge", "admin purge", self._purge)
        add_admin_routes(
            router, meter=meter, faults=self.faults, clock=self.state.clock, reset=reset
        )
        return router

    def _add_query_routes(self, router: Router) -> None:
        def query(request: Request, _: str) -> Response:
            return self.queries.query(request, include_deleted=False)

        def query_all(request: Request, _: str) -> Response:
            return self.queries.query(request, include_deleted=True)

        def more(request: Request, _: str) -> Response:
            return self.queries.more(request)

        router.add("GET", f"{DATA}/query", "query", self._authed(query))
        router.add("GET", f"{DATA}/queryAll", "queryAll", self._authed(query_all))
        router.add("GET", f"{DATA}/query/{{locator}}", "query more", self._authed(more))
        router.add("GET", f"{DATA}/queryAll/{{locator}}", "queryAll more", self._authed(more))

    def _add_sobject_routes(self, router: Router) -> None:
        base = f"{DATA}/sobjects"
        api = self.sobjects
        reads: dict[str, Callable[[Request], Response]] = {
            f"{base}": api.describe_global,
            f"{base}/{{sobject}}": api.basic_info,
            f"{base}/{{sobject}}/describe": api.describe,
            f"{base}/{{sobject}}/updated": api.updated,
            f"{base}/{{sobject}}/deleted": api.deleted,
        }
        for template, handler in reads.items():
            name = "sobjects " + template.removeprefix(base).replace("{sobject}", "*").strip("/")
            router.add("GET", template, name.strip(), self._authed(_ignore_user(handler)))
        router.add("POST", f"{base}/{{sobject}}", "sobject create", self._authed(api.create))
        router.add(
            "GET",
            f"{base}/{{sobject}}/{{id}}",
            "sobject read",
            self._authed(_ignore_user(api.read)),
        )
        router.add(
            "PATCH", f"{base}/{{sobject}}/{{id}}", "sobject update", self._authed(api.update)
        )
        router.add(
            "DELETE", f"{base}/{{sobject}}/{{id}}", "sobject delete", self._authed(api.delete)
        )

    # ---------------------------------------------------------------- plumbing

    def _authed(self, handler: AuthedHandler) -> Callable[[Request], Response]:
        def wrapper(request: Request) -> Response:
            _check_version(request)
            header = request.header("authorization") or ""
            token = header[7:].strip() if header.lower().startswith("bearer ") else header.strip()
            session = self.state.auth.authenticate(token, self.faults.config.token_ttl_calls)
            if session is None:
                raise HttpError(401, "Session expired or invalid", "INVALID_SESSION_ID")
            if not self.state.auth.count_call(self.faults.config.daily_budget):
                raise HttpError(403, "TotalRequests Limit exceeded.", "REQUEST_LIMIT_EXCEEDED")
            return handler(request, session.user_id)

        return wrapper

    def _token(self, request: Request) -> Response:
        return token_endpoint(self.state, request)

    def _versions(self, _: Request) -> Response:
        body = [
            {"label": RELEASE_LABELS[v], "url": f"/services/data/v{v}", "version": v}
            for v in API_VERSIONS
        ]
        return Response.json(200, body)

    def _resources(self, request: Request, _: str) -> Response:
        prefix = f"/services/data/{request.params['version']}"
        names = ("sobjects", "query", "queryAll", "limits", "composite")
        return Response.json(200, {name: f"{prefix}/{name}" for name in names})

    def _limits(self, _: Request, __: str) -> Response:
        allocation = self.state.auth.allocation(self.faults.config.daily_budget)
        used = self.state.auth.usage()
        body = {
            "DailyApiRequests": {"Max": allocation, "Remaining": max(0, allocation - used)},
            "DailyBulkV2QueryJobs": {"Max": 10_000, "Remaining": 10_000},
            "ConcurrentAsyncGetReportInstances": {"Max": 200, "Remaining": 200},
        }
        return Response.json(200, body)

    def _notifications(self, _: Request) -> Response:
        """The custom notifications sent so far, oldest first: a test's read-back."""
        sent = [notification.as_json() for notification in self.state.notifications.sent()]
        return Response.json(200, {"notifications": sent})

    def _import(self, request: Request) -> Response:
        return import_tree(self.state, request.json())

    def _purge(self, request: Request) -> Response:
        """Hard-delete records (emptied recycle bin, Bulk API hardDelete): they vanish from
        queryAll and only Get Deleted still reports them, which is what syncs miss."""
        body = request.json()
        spec = find_object(str(body.get("sobject", ""))) if isinstance(body, dict) else None
        if spec is None:
            raise HttpError(400, "expected {sobject, ids}", "INVALID_TYPE")
        purged = []
        for record_id in body.get("ids", []):
            if self.state.records.get(spec.name, str(record_id)) is not None:
                self.state.records.purge(spec.name, str(record_id))
                purged.append(str(record_id))
        return Response.json(200, {"purged": purged})


def _check_version(request: Request) -> None:
    version = request.params.get("version", "")
    if not version.startswith("v") or version[1:] not in API_VERSIONS:
        raise HttpError(404, "The requested resource does not exist", "NOT_FOUND")


def _ignore_user(handler: Callable[[Request], Response]) -> AuthedHandler:
    def wrapper(request: Request, _: str) -> Response:
        return handler(request)

    return wrapper


def build_salesforce_server(
    state: SalesforceState,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    meter: Meter | None = None,
    faults: FaultInjector | None = None,
    tls: ssl.SSLContext | None = None,
) -> SandboxHttpServer:
    """A server for ``state``; sets ``state.instance_url`` to the address it bound."""
    faults = faults or FaultInjector()
    meter = meter or Meter()
    app = SalesforceServer(state, faults)
    baseline = state.records.snapshot()

    def reset() -> None:
        state.records.restore(baseline)
        state.auth.reset_usage()
        state.notifications.clear()

    server = SandboxHttpServer(
        (host, port),
        app.router(meter, reset),
        SalesforceBehaviour(state, faults),
        meter=meter,
        faults=faults,
        tls=tls,
    )
    state.instance_url = server.url
    return server
