"""``driftcoach sandbox`` and ``driftcoach demo``: the fake CRMs, alone or in the whole cycle.

Both need the optional extra ``driftcoach[sandbox]``; without it they say how to install
it. These are the only commands that import the ``sandbox`` package.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from service.cli.support import fail, sandbox_missing, settings_of


def sandbox(
    seed: Annotated[int, typer.Option(help="Seed of the generated org.")] = 7,
    managers: Annotated[int, typer.Option(help="Sales managers (one team each).")] = 4,
    reps: Annotated[int, typer.Option(help="Account executives.")] = 24,
    months: Annotated[int, typer.Option(help="Months of history.")] = 12,
    drift_share: Annotated[float, typer.Option(help="Share of reps who drift.")] = 0.25,
    deal_scale: Annotated[float, typer.Option(help="Multiplies deal and activity volumes.")] = 1.0,
    as_of: Annotated[
        str | None, typer.Option(help="Last day of history (YYYY-MM-DD); default today.")
    ] = None,
    placement: Annotated[
        str, typer.Option(help="salesforce, hubspot, or split (teams across both).")
    ] = "split",
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    salesforce_port: Annotated[int, typer.Option(help="0 picks a free port.")] = 0,
    hubspot_port: Annotated[int, typer.Option(help="0 picks a free port.")] = 0,
    hubspot_tls: Annotated[bool, typer.Option(help="Serve HubSpot over HTTPS too.")] = False,
    data_dir: Annotated[
        Path | None, typer.Option(help="Where to write the CA bundle (default: a temp dir).")
    ] = None,
    salesforce_faults: Annotated[
        str | None, typer.Option(help="Faults as JSON, e.g. '{\"error_rate\": 0.05}'.")
    ] = None,
    hubspot_faults: Annotated[str | None, typer.Option(help="Faults as JSON.")] = None,
    salesforce_daily_allocation: Annotated[int, typer.Option(help="API calls per 24 h.")] = 100_000,
    hubspot_ten_second_budget: Annotated[int, typer.Option(help="Requests per 10 s.")] = 100,
    hubspot_searches_per_second: Annotated[int, typer.Option(help="Searches per second.")] = 5,
    hubspot_daily_budget: Annotated[int, typer.Option(help="Requests per day.")] = 250_000,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print connection details as JSON.")
    ] = False,
) -> None:
    """Run the fake Salesforce and HubSpot with a seeded sales org until Ctrl-C."""
    from pydantic import ValidationError as FaultsError

    try:
        from sandbox.faults import FaultConfig
        from sandbox.hubspot import HubSpotLimits
        from sandbox.org import OrgSpec
        from sandbox.runner import SandboxOptions
        from service.cli.sandbox_run import run_until_stopped
    except ImportError as missing:
        raise sandbox_missing(missing) from None

    if placement not in ("salesforce", "hubspot", "split"):
        raise fail("--placement must be salesforce, hubspot or split")
    try:
        spec = OrgSpec(
            seed=seed,
            managers=managers,
            reps=reps,
            months=months,
            drift_share=drift_share,
            deal_scale=deal_scale,
            as_of=date.fromisoformat(as_of) if as_of else date.today(),  # noqa: DTZ011
        )
    except ValueError as exc:
        raise fail(str(exc)) from None
    try:
        sf_faults = FaultConfig.model_validate_json(salesforce_faults or "{}")
        hs_faults = FaultConfig.model_validate_json(hubspot_faults or "{}")
    except FaultsError as exc:
        raise fail(f"invalid faults: {exc}") from None
    options = SandboxOptions(
        org=spec,
        placement=placement,  # type: ignore[arg-type]
        host=host,
        salesforce_port=salesforce_port,
        hubspot_port=hubspot_port,
        hubspot_tls=hubspot_tls,
        data_dir=data_dir,
        salesforce_faults=sf_faults,
        hubspot_faults=hs_faults,
        salesforce_daily_allocation=salesforce_daily_allocation,
        hubspot_limits=HubSpotLimits(
            ten_second_budget=hubspot_ten_second_budget,
            searches_per_second=hubspot_searches_per_second,
            daily_budget=hubspot_daily_budget,
        ),
    )
    run_until_stopped(options, typer.echo, as_json=json_output)


def demo(
    ctx: typer.Context,
    path: Annotated[
        Path, typer.Option(help="SQLite file for the demo store; replaced on every run.")
    ] = Path("driftcoach-demo.db"),
) -> None:
    """Run the whole cycle on a fresh SQLite store and print what it holds."""
    try:
        from service.cli import demo as demo_cycle
    except ImportError as missing:
        raise sandbox_missing(missing) from None
    report = demo_cycle.run(settings_of(ctx), path)
    typer.echo(report)
