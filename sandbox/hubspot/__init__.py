"""The fake HubSpot: a local server the unmodified hubspot-api-client 12 talks to.

Build a :class:`HubSpotState` (owners, teams, pipelines, objects through the import API),
issue a token, then serve it with :func:`build_hubspot_server` and
``sandbox.http.RunningServer``; point the client at it with
``HubSpot(access_token=token, host=running.url)``.
"""

from sandbox.hubspot.model import Pipeline, PipelineStage, default_pipelines
from sandbox.hubspot.properties import ASSOCIATION_TYPES, CALL_OUTCOMES, OBJECT_TYPES
from sandbox.hubspot.ratelimit import HubSpotLimits
from sandbox.hubspot.server import build_hubspot_server
from sandbox.hubspot.state import HubSpotState

__all__ = [
    "ASSOCIATION_TYPES",
    "CALL_OUTCOMES",
    "OBJECT_TYPES",
    "HubSpotLimits",
    "HubSpotState",
    "Pipeline",
    "PipelineStage",
    "build_hubspot_server",
    "default_pipelines",
]
