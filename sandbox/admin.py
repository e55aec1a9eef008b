"""The admin endpoints every sandbox server exposes under ``/__sandbox/``.

They are never metered nor faulted: a benchmark reads the meter through them, and a
test must be able to switch faults off while they are on.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from pydantic import ValidationError

from sandbox.clock import SandboxClock
from sandbox.faults import FaultConfig, FaultInjector
from sandbox.http import HttpError, Request, Response, Router
from sandbox.meter import Meter


def add_admin_routes(
    router: Router,
    *,
    meter: Meter,
    faults: FaultInjector,
    clock: SandboxClock,
    reset: Callable[[], None],
) -> None:
    """``GET meter``, ``POST meter/reset``, ``GET|PUT faults``, ``POST clock``, ``POST reset``."""

    def get_meter(_: Request) -> Response:
        return Response.json(200, meter.snapshot())

    def reset_meter(_: Request) -> Response:
        meter.reset()
        return Response.json(200, meter.snapshot())

    def get_faults(_: Request) -> Response:
        return Response.json(200, faults.config.model_dump())

    def put_faults(request: Request) -> Response:
        try:
            config = FaultConfig.model_validate(request.json())
        except ValidationError as exc:
            raise HttpError(422, str(exc), "INVALID_FAULTS") from None
        faults.configure(config)
        return Response.json(200, config.model_dump())

    def move_clock(request: Request) -> Response:
        body = request.json()
        if not isinstance(body, dict):
            raise HttpError(400, "expected an object", "INVALID_CLOCK")
        if "now" in body:
            clock.set(datetime.fromisoformat(str(body["now"]).replace("Z", "+00:00")))
        else:
            clock.advance(timedelta(seconds=float(body.get("advance_seconds", 0))))
        return Response.json(200, {"now": clock.now().isoformat()})

    def reset_all(_: Request) -> Response:
        reset()
        clock.reset()
        meter.reset()
        faults.configure(FaultConfig())
        return Response.json(200, {"reset": True})

    router.add("GET", "/__sandbox/meter", "admin meter", get_meter)
    router.add("POST", "/__sandbox/meter/reset", "admin meter reset", reset_meter)
    router.add("GET", "/__sandbox/faults", "admin faults", get_faults)
    router.add("PUT", "/__sandbox/faults", "admin faults set", put_faults)
    router.add("POST", "/__sandbox/clock", "admin clock", move_clock)
    router.add("POST", "/__sandbox/reset", "admin reset", reset_all)
