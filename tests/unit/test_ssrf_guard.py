"""The webhook URL guard when an endpoint is saved: every spelling of an internal address
refused (connect time: ``tests/integration/test_ssrf_transport.py``)."""

from __future__ import annotations

import pytest

from service.outbox.ssrf import (
    UnsafeUrlError,
    UrlPolicy,
    check_url,
    literal_address,
)

STRICT = UrlPolicy()
PUBLIC = "93.184.215.14"

REFUSED = [
    "127.0.0.1", "localhost", "0x7f000001", "2130706433", "017700000001", "127.1",
    "[::1]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "10.0.0.1", "172.16.0.1",
    "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",  # noqa: S104 - to refuse
    "[fd00::1]", "[fe80::1]",
    "[64:ff9b::7f00:1]", "224.0.0.1", "[2002:7f00:1::]", "[::]", "240.0.0.1",
]  # fmt: skip


def resolver(table: dict[str, list[str]]):
    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError("unknown host")
        return table[host]

    return resolve


LOCAL_NAMES = resolver({"localhost": ["127.0.0.1", "::1"], "example.com": [PUBLIC]})


@pytest.mark.parametrize("host", REFUSED)
def test_internal_addresses_are_refused_in_every_spelling(host: str):
    with pytest.raises(UnsafeUrlError, match="refused"):
        check_url(f"https://{host}/hook", STRICT, LOCAL_NAMES)


def test_the_odd_spellings_are_the_loopback_address_the_resolver_would_use():
    for host in ("0x7f000001", "2130706433", "017700000001", "127.1"):
        assert str(literal_address(host)) == "127.0.0.1"
    assert literal_address("face.bad") is None  # a name made of hex letters is a name


def test_a_public_https_url_is_accepted():
    assert check_url("https://example.com/hook", STRICT, LOCAL_NAMES) == (
        "https://example.com/hook"
    )
    assert check_url(f"https://{PUBLIC}:8443/x", STRICT, LOCAL_NAMES)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://example.com/hook", "plain http is refused"),
        ("ftp://example.com/hook", "must start with https"),
        ("https://user:pw@example.com/hook", "credentials in the URL"),
        ("https:///hook", "no host"),
        ("https://nowhere.invalid/hook", "does not resolve"),
        ("https://example.com:99999/", "not a URL"),
    ],
)
def test_other_unsafe_or_broken_urls_say_why(url: str, message: str):
    with pytest.raises(UnsafeUrlError, match=message):
        check_url(url, STRICT, LOCAL_NAMES)


def test_a_name_with_any_internal_address_is_refused_when_saved():
    mixed = resolver({"mixed.example": [PUBLIC, "10.1.2.3"]})
    with pytest.raises(UnsafeUrlError, match=r"mixed\.example resolves to 10\.1\.2\.3"):
        check_url("https://mixed.example/", STRICT, mixed)


def test_development_settings_allow_http_and_this_machine():
    policy = UrlPolicy(allow_http=True, allow_private=True)
    assert check_url("http://127.0.0.1:8080/hook", policy) == "http://127.0.0.1:8080/hook"


def test_a_host_the_idna_codec_refuses_is_an_unsafe_url_not_a_crash():
    with pytest.raises(UnsafeUrlError, match="not a valid host name"):
        check_url("https://a..b/hook", STRICT)  # the system resolver: encoding fails first
