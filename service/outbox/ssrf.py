"""Webhook URLs may only reach the public internet: the guard against server-side request
forgery, when an endpoint is saved and again on every connection.

A webhook URL is chosen by whoever holds an API key, and the service that calls it sits
inside the customer's network, next to its database and the cloud's metadata service. So:

* **https only** (plain http only where a setting allows it, for local development);
  no user and password in the URL;
* **public addresses only**: loopback, private, link-local, shared (100.64/10),
  unique-local, multicast, unspecified and reserved addresses are refused, however they
  are spelt (``0x7f000001``, ``2130706433``, ``017700000001`` and ``127.1`` are all
  127.0.0.1, as the C resolver reads them), and IPv6 forms that carry an IPv4 address
  are judged by it (IPv4-mapped, 6to4) or refused outright (NAT64, whose gateway can
  reach anything);
* **checked twice**: :func:`check_url` when the endpoint is saved (every address the
  name resolves to must be public), and :class:`GuardedTransport` when connecting: it
  resolves the name itself, drops unsafe addresses and connects to a vetted address, so
  a name that resolves to 10.0.0.1 only by the time of the call (DNS rebinding) is
  refused there. TLS still checks the certificate against the name in the URL.

``allow_private`` switches the address check off entirely; it exists for a receiver on
the same machine (the demo's) and must never be set in production.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

_SHARED = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


class UnsafeUrlError(ValueError):
    """A webhook URL (or the address it led to) the service must not call."""


@dataclass(frozen=True, slots=True)
class UrlPolicy:
    allow_http: bool = False
    allow_private: bool = False


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, as the system resolver gives them."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_url(url: str, policy: UrlPolicy, resolve: Resolver = system_resolver) -> str:
    """``url`` if the service may call it (see the module doc); raises UnsafeUrlError."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrlError(f"not a URL: {exc}") from None
    if parts.scheme not in ("https", "http"):
        raise UnsafeUrlError("the URL must start with https://")
    if parts.scheme == "http" and not policy.allow_http:
        raise UnsafeUrlError("plain http is refused: use https")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrlError("credentials in the URL are refused: sign with the endpoint secret")
    host = parts.hostname
    if not host:
        raise UnsafeUrlError("the URL has no host")
    if policy.allow_private:
        return url
    literal = literal_address(host)
    if literal is not None:
        check_address(literal)
        return url
    try:
        addresses = resolve(host, port or (443 if parts.scheme == "https" else 80))
    except OSError as exc:
        raise UnsafeUrlError(f"{host} does not resolve: {exc}") from None
    except UnicodeError:  # the IDNA codec refuses empty or over-long labels ("a..b")
        raise UnsafeUrlError(f"{host} is not a valid host name") from None
    if not addresses:
        raise UnsafeUrlError(f"{host} does not resolve")
    for address in addresses:
        check_address(ipaddress.ip_address(address), host)
    return url


def literal_address(host: str) -> IPAddress | None:
    """``host`` as an address when it is one, in any spelling the resolver accepts:
    bracketed IPv6, and IPv4 in dotted, shortened, hexadecimal, octal or integer form."""
    bare = host.strip("[]")
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    if not bare or not all(c in "0123456789abcdefxABCDEFX." for c in bare):
        return None
    try:  # the C inet_aton: 127.1, 0x7f000001, 2130706433, 017700000001
        return ipaddress.IPv4Address(socket.inet_aton(bare))
    except OSError:
        return None


def check_address(address: IPAddress, host: str | None = None) -> None:
    """Raise UnsafeUrlError unless ``address`` is a public unicast address."""
    reason = unsafe_reason(address)
    if reason is not None:
        named = f"{host} resolves to {address}" if host else str(address)
        raise UnsafeUrlError(f"{named}: {reason} addresses are refused")


def unsafe_reason(address: IPAddress) -> str | None:
    """Why ``address`` may not be called, or None when it is public."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return unsafe_reason(address.ipv4_mapped)
        if any(address in network for network in _NAT64):
            return "NAT64"
        if address.sixtofour is not None:
            return unsafe_reason(address.sixtofour)
    checks = (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (isinstance(address, ipaddress.IPv4Address) and address in _SHARED, "shared"),
        (address.is_private, "private"),
        (address.is_reserved, "reserved"),
        (not address.is_global, "non-public"),
    )
    return next((reason for found, reason in checks if found), None)


# ------------------------------------------------------------------ at connect time


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's socket backend, connecting only to vetted addresses of the host."""

    def __init__(self, policy: UrlPolicy, resolve: Resolver = system_resolver) -> None:
        self._policy, self._resolve = policy, resolve
        self._sockets = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        errors: list[str] = []
        for address in self._addresses(host, port):
            try:
                return self._sockets.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                errors.append(f"{address}: {exc}")
        raise httpcore.ConnectError("; ".join(errors) or f"cannot connect to {host}")

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not webhook endpoints")

    def sleep(self, seconds: float) -> None:
        self._sockets.sleep(seconds)

    def _addresses(self, host: str, port: int) -> list[str]:
        if self._policy.allow_private:
            return [host]
        literal = literal_address(host)
        try:
            found = [str(literal)] if literal is not None else self._resolve(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"{host} does not resolve: {exc}") from None
        safe = [a for a in found if unsafe_reason(ipaddress.ip_address(a)) is None]
        if not safe:
            shown = ", ".join(found) or "nothing"
            raise UnsafeUrlError(f"{host} resolves to {shown} at connect time: refused")
        return safe


class GuardedTransport(httpx.BaseTransport):
    """An httpx transport over an httpcore pool with the :class:`GuardedBackend`: no
    proxies from the environment, no connection to an address the policy refuses."""

    def __init__(
        self,
        policy: UrlPolicy,
        resolve: Resolver = system_resolver,
        verify: bool | str = True,
    ) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            network_backend=GuardedBackend(policy, resolve),
            max_connections=20,
            keepalive_expiry=30.0,
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _mapped_errors(request):
            answer = self._pool.handle_request(core)
        return httpx.Response(
            status_code=answer.status,
            headers=answer.headers,
            stream=_Body(answer, request),
            extensions=answer.extensions,
            request=request,
        )

    def close(self) -> None:
        self._pool.close()


class _Body(httpx.SyncByteStream):
    """The response body as it arrives, so a caller can stop reading at a cap."""

    def __init__(self, answer: httpcore.Response, request: httpx.Request) -> None:
        self._answer, self._request = answer, request

    def __iter__(self) -> Iterator[bytes]:
        with _mapped_errors(self._request):
            yield from self._answer.iter_stream()

    def close(self) -> None:
        self._answer.close()


@contextmanager
def _mapped_errors(request: httpx.Request) -> Iterator[None]:
    """httpcore's errors as httpx's, so callers handle one family."""
    try:
        yield
    except httpcore.TimeoutException as exc:
        raise httpx.TimeoutException(str(exc), request=request) from exc
    except httpcore.ConnectError as exc:
        raise httpx.ConnectError(str(exc), request=request) from exc
    except httpcore.NetworkError as exc:
        raise httpx.NetworkError(str(exc), request=request) from exc
    except httpcore.ProtocolError as exc:
        raise httpx.RemoteProtocolError(str(exc), request=request) from exc
