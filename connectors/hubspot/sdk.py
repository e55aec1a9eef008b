"""The generated hubspot-api-client objects the connector calls, built once per token.

``HubSpot(...).crm.objects.basic_api`` builds a new API client, with a new urllib3
connection pool, on every attribute access: :class:`Apis` builds each one once, so calls
reuse their keep-alive connections. urllib3's own retries are off (``Retry(total=False)``):
every attempt is seen, paced and counted by :class:`connectors.hubspot.client.HubSpotClient`.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from hubspot import HubSpot
from hubspot.crm.associations.v4.exceptions import ApiException as AssociationsApiException
from hubspot.crm.objects.exceptions import ApiException as ObjectsApiException
from hubspot.crm.owners.exceptions import ApiException as OwnersApiException
from hubspot.crm.pipelines.exceptions import ApiException as PipelinesApiException
from hubspot.oauth.exceptions import ApiException as OAuthApiException
from urllib3.util.retry import Retry

from connectors.hubspot.config import HubSpotConfig

#: Each generated package has its own ApiException class (same shape, no common base
#: beyond OpenApiException, which also covers argument errors).
API_EXCEPTIONS: tuple[type[Exception], ...] = (
    ObjectsApiException,
    AssociationsApiException,
    OwnersApiException,
    PipelinesApiException,
    OAuthApiException,
)


class Apis:
    """The generated API objects for one token, built once (each holds a connection pool)."""

    def __init__(self, config: HubSpotConfig, token: str | None) -> None:
        options: dict[str, Any] = {"host": config.base_url.rstrip("/"), "retry": Retry(total=False)}
        if config.ca_bundle is not None:
            options["ssl_ca_cert"] = str(config.ca_bundle)
        self._client = HubSpot(access_token=token, **options)
        retry = config.retry
        self.timeout = (retry.connect_timeout_seconds, retry.read_timeout_seconds)

    @cached_property
    def objects(self) -> Any:
        return self._client.crm.objects.basic_api

    @cached_property
    def search(self) -> Any:
        return self._client.crm.objects.search_api

    @cached_property
    def batch(self) -> Any:
        return self._client.crm.objects.batch_api

    @cached_property
    def associations(self) -> Any:
        return self._client.crm.associations.v4.batch_api

    @cached_property
    def owners(self) -> Any:
        return self._client.crm.owners.owners_api

    @cached_property
    def pipelines(self) -> Any:
        return self._client.crm.pipelines.pipelines_api

    @cached_property
    def tokens(self) -> Any:
        return self._client.oauth.tokens_api
