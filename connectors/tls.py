"""What both CRM clients need to know of TLS failures."""

from __future__ import annotations

import ssl

_VERIFY_FAILED = "CERTIFICATE_VERIFY_FAILED"


def certificate_refused(exc: BaseException) -> bool:
    """True when TLS refused the server's certificate (a CA bundle that does not match,
    the wrong host). requests and urllib3 wrap it as a connection error, which a client
    would retry; no retry can succeed, so the call fails at once instead."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError) or _VERIFY_FAILED in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
