"""The HTTP API for sales ops and integrators (FastAPI): ``create_app`` builds it."""
