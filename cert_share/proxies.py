"""Which reverse proxies are believed about the client: TRUSTED_PROXIES, applied with Werkzeug's ProxyFix.

Behind a proxy, the TCP peer is the proxy. The client's address arrives in X-Forwarded-For, which
anyone can also write: it is believed only from a trusted proxy. Once believed,
``request.remote_addr`` is the client's, and so is everything keyed by it (the sign-in rate
limit, the sign-in throttle, the audit log's address, the web session's binding).

    unset / 0        no proxy: the peer is the client, X-Forwarded-* is ignored
    a count N        N proxies, each appending to X-Forwarded-For: the client is the Nth
                     address from the right. The app must be reachable only through them.
    addresses/CIDRs  only a request whose peer is one of them is believed; then the client is
                     the rightmost X-Forwarded-For address that is not a listed proxy (so a chain
                     of listed proxies is walked through). From any other peer the X-Forwarded-*
                     headers are removed before the app sees them.

X-Forwarded-Proto is taken from the nearest proxy (whether the client came over HTTPS).
X-Forwarded-Host is not used: every link the app writes starts with BASE_URL, never the Host.
"""
from __future__ import annotations

import ipaddress

from flask import Flask
from werkzeug.http import parse_list_header
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import ProxyNetwork, SettingError, trusted_proxies

FORWARDED_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST",
                     "HTTP_X_FORWARDED_PORT", "HTTP_X_FORWARDED_PREFIX", "HTTP_FORWARDED")


def _is_listed(address: str | None, networks: tuple[ProxyNetwork, ...]) -> bool:
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return False
    return any(ip in network for network in networks)


class ListedProxies:
    """WSGI middleware: ProxyFix for requests from a listed proxy, as many hops deep as the
    listed proxies go; other requests lose their X-Forwarded-* headers."""

    def __init__(self, app, networks: tuple[ProxyNetwork, ...]) -> None:
        self.app, self.networks = app, networks

    def hops(self, forwarded_for: str | None) -> int:
        """How many X-Forwarded-For values to trust: the peer's, and one more for each listed
        proxy at the right end of the header (the client being the first address that is not)."""
        values = parse_list_header(forwarded_for or "")
        hops = 1
        while hops < len(values) and _is_listed(values[-hops], self.networks):
            hops += 1
        return hops

    def __call__(self, wsgi_env, start_response):
        if not _is_listed(wsgi_env.get("REMOTE_ADDR"), self.networks):
            for name in FORWARDED_HEADERS:
                wsgi_env.pop(name, None)
            return self.app(wsgi_env, start_response)
        fixed = ProxyFix(self.app, x_for=self.hops(wsgi_env.get("HTTP_X_FORWARDED_FOR")), x_proto=1)
        return fixed(wsgi_env, start_response)


def register(app: Flask) -> None:
    """Wrap the app's WSGI callable as TRUSTED_PROXIES says."""
    try:
        trusted = trusted_proxies("TRUSTED_PROXIES", app.config["TRUSTED_PROXIES"])
    except ValueError as exc:
        raise SettingError(str(exc)) from None
    if isinstance(trusted, tuple):
        app.wsgi_app = ListedProxies(app.wsgi_app, trusted)  # type: ignore[method-assign]
    elif trusted:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=trusted, x_proto=1)  # type: ignore[method-assign]
