"""The canonical SQL store: tables, engine and units of work, and migrations' entry points."""

from service.store.engine import Store, make_engine
from service.store.tables import Base

__all__ = ["Base", "Store", "make_engine"]
