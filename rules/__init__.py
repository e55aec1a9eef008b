"""The domain core: rule documents, metric catalogue, standards, drift and decisions.

Pure functions over plain data. Nothing here may import SQLAlchemy sessions, HTTP clients,
FastAPI, :mod:`connectors` or :mod:`service`; an import-boundary test enforces it.
"""
