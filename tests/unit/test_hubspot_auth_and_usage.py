"""Tokens renewed ahead of expiry, the daily-budget rule, and the client's failure sorting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from urllib3.exceptions import NewConnectionError, ProtocolError, ReadTimeoutError

from connectors.hubspot.auth import TokenSource
from connectors.hubspot.client import never_sent
from connectors.hubspot.config import OAuthAuth, PrivateAppAuth
from connectors.hubspot.errors import ApiLimitReached, HubSpotAuthError
from connectors.hubspot.usage import OAUTH_ENDPOINT, UsageTracker

T = datetime(2026, 3, 1, 12, tzinfo=UTC)
OAUTH = OAuthAuth(
    client_id="app", client_secret=SecretStr("s3cret"), refresh_token=SecretStr("na1-r")
)


def test_a_private_app_token_is_always_current_and_never_renewed():
    tokens = TokenSource(PrivateAppAuth(access_token=SecretStr("pat-na1-x")))
    tokens.forget()
    current = tokens.current(T + timedelta(days=400))
    assert current is not None
    assert current.get_secret_value() == "pat-na1-x"
    with pytest.raises(HubSpotAuthError):
        tokens.refresh_form()


def test_an_oauth_token_is_renewed_five_minutes_before_it_expires():
    tokens = TokenSource(OAUTH)
    assert tokens.current(T) is None  # none fetched yet
    assert tokens.refresh_form() == {
        "grant_type": "refresh_token",
        "client_id": "app",
        "client_secret": "s3cret",
        "refresh_token": "na1-r",
    }
    tokens.accept({"access_token": "CO1", "expires_in": 1800}, T)
    assert tokens.current(T + timedelta(minutes=24, seconds=59)) is not None
    assert tokens.current(T + timedelta(minutes=25)) is None
    tokens.accept({"access_token": "CO2", "expires_in": 1800}, T)
    tokens.forget()  # refused by HubSpot: fetch another before the next call
    assert tokens.current(T) is None


def test_a_short_lived_token_is_used_for_half_its_life_before_renewal():
    tokens = TokenSource(OAUTH)
    tokens.accept({"access_token": "CO1", "expires_in": 120}, T)
    assert tokens.current(T + timedelta(seconds=59)) is not None
    assert tokens.current(T + timedelta(seconds=60)) is None


def test_a_token_answer_without_a_token_is_an_auth_error():
    with pytest.raises(HubSpotAuthError, match="without an access token"):
        TokenSource(OAUTH).accept({"expires_in": 1800}, T)


def test_a_run_stops_at_its_share_of_the_daily_allowance_but_write_back_goes_on():
    usage = UsageTracker(budget_share=0.01)
    usage.before_call("GET /crm/v3/owners", budgeted=True)  # unknown allowance: allowed
    usage.observe(daily=500, daily_remaining=400)  # 100 used, 1% of 500 = 5 calls
    for _ in range(4):
        usage.before_call("GET /crm/v3/objects/calls", budgeted=True)
    with pytest.raises(ApiLimitReached, match="budget is spent: 5 calls of 5"):
        usage.before_call("GET /crm/v3/objects/calls", budgeted=True)
    usage.before_call("POST /crm/v3/objects/tasks/batch/create", budgeted=False)
    assert usage.daily_used() == 105  # 100 seen used, plus the 5 calls made since


def test_nothing_is_ever_sent_past_the_accounts_daily_allowance():
    usage = UsageTracker(budget_share=1.0)
    usage.observe(daily=10, daily_remaining=1)
    usage.before_call("GET /crm/v3/owners", budgeted=False)
    with pytest.raises(ApiLimitReached, match="used up"):
        usage.before_call("POST /crm/v3/objects/tasks/batch/create", budgeted=False)


def test_token_requests_are_counted_but_are_not_api_calls():
    usage = UsageTracker(budget_share=0.1)
    usage.before_call(OAUTH_ENDPOINT, budgeted=False)
    usage.before_call("GET /crm/v3/owners", budgeted=True)
    assert (usage.api_calls, usage.snapshot().calls) == (1, 2)


def test_only_a_connection_that_was_never_made_proves_a_request_was_not_sent():
    assert never_sent(NewConnectionError(None, "Connection refused"))  # type: ignore[arg-type]
    assert not never_sent(ReadTimeoutError(None, "/", "Read timed out."))  # type: ignore[arg-type]
    assert not never_sent(ProtocolError("Connection broken: IncompleteRead"))
    assert not never_sent(ConnectionResetError())
