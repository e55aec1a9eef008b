"""driftcoach's I/O and wiring: the store, sync, API, scheduler, settings and CLI.

The domain lives in :mod:`rules` and the CRM adapters in :mod:`connectors`; this package is
the only one allowed to import both and to touch databases or the network.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("driftcoach")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
