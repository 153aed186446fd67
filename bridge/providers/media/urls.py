"""Which media links the bridge may fetch, decided before any request is made.

A media field in a payload is only a string. It may be `file:///etc/passwd`, `ftp://…`, `http://`
with no host, a few words, a link with spaces or control characters, or one no server accepts
(nginx and Apache refuse a request line past 8 KB). No retry can make such a link work, so it is
refused before anything is requested: the message goes to Intercom on its first attempt, with
a line saying the attachment was withheld and why. Failures that may pass later (a 5xx or a
timeout from a real media host) are not decided here; they stay retryable
(`bridge.conversations.attachments`).

Where a link points is decided here too, as data. A webhook names its media links, so whoever
can post one (or forge one under `BRIDGE_SIGNATURE_MODE=log-only`) would otherwise choose what
the bridge fetches and re-serves into Intercom: `http://127.0.0.1:6379/`, the cloud metadata
service, an intranet page. Media are therefore fetched only from the hosts each provider
documents for them (`MediaHosts`, a table per adapter), over HTTPS, and never from a loopback,
private, link-local, metadata, multicast or reserved address (`address_refusal`); or from the
provider's configured API URL, which the operator chose (a stand-in on 127.0.0.1 in tests).

`refusal` is the one answer to "may this link be fetched?": `bridge.providers.media.fetch` asks it before
the first request and before following each redirect, and `bridge.providers.media.transport` asks
`address_refusal` about every address a name resolves to, as it connects.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from urllib.parse import SplitResult, urlsplit

FETCHED_SCHEMES = frozenset({"http", "https"})
# Longer than the request line nginx (8 KB) and Apache (8190 bytes) accept by default; signed
# storage links (S3, GCS, Meta's lookaside) are one or two KB.
MAX_URL_LENGTH = 8192
# A scheme longer than this is not echoed to agents: it is noise, not a scheme anyone uses.
_MAX_SCHEME_SHOWN = 20
# A DNS label (RFC 1035, with the underscores real hosts use), after IDNA encoding.
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
# Control, format (zero-width, bidi overrides) and separator characters: never in a real link.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})


@dataclass(frozen=True)
class Refusal:
    """Why a link is never fetched, in words for an agent.

    `origin` is at most `scheme://host`, never the path or query: a query can carry an access
    signature, and the note and the logs are read by people who must not be handed one."""

    reason: str
    origin: str | None = None

    def describe(self) -> str:
        return f"{self.reason} ({self.origin})" if self.origin else self.reason


@dataclass(frozen=True)
class MediaHosts:
    """Where one provider keeps its media: each adapter's table (`ProviderAdapter.media_hosts`).

    A name covers itself and its subdomains. `named` are the hosts a webhook's media link may
    point at (and receive the provider's credentials); `redirected` the further hosts those
    redirect to (Twilio's `api.twilio.com` answers 302 to its CDN), reached only by a redirect
    and never sent credentials."""

    named: tuple[str, ...] = ()
    redirected: tuple[str, ...] = ()


@dataclass(frozen=True)
class MediaSources:
    """Where the bridge may fetch one provider's media from: its hosts, and the origins of its
    configured API URLs (`*_API_URL`), which the operator chose and which are therefore trusted
    as they are: any scheme, any address (a stand-in on 127.0.0.1)."""

    provider: str
    hosts: MediaHosts
    api_urls: tuple[str, ...] = ()

    def configured(self, url: str) -> bool:
        """Whether `url` is on the origin of one of the provider's configured API URLs."""
        return any(same_origin(url, api_url) for api_url in self.api_urls)


def refusal(url: str, sources: MediaSources | None = None, *, redirected: bool = False) -> Refusal | None:
    """Why `url` may never be fetched, or None when it may be.

    Without `sources`, only whether it is a link anything could fetch (what pass-through mode
    hands Intercom); with them, whether the bridge may fetch it for that provider, as the link
    a webhook named or, `redirected`, as where a redirect from the provider's host leads."""
    refused = _unfetchable(url)
    if refused is not None or sources is None or sources.configured(url):
        return refused
    parts = urlsplit(url)
    origin = _origin(parts)
    host = (parts.hostname or "").lower()
    address = _literal_address(host)
    if address is not None:
        where = address_refusal(address)
        if where is not None:
            return Refusal(f"the link points to {where}", origin)
    if parts.scheme != "https":
        return Refusal(f"{sources.provider} media are fetched over https only", origin)
    domains = sources.hosts.named + (sources.hosts.redirected if redirected else ())
    if not on_domains(host, domains):
        return Refusal(f"the link is not on {sources.provider}'s media hosts", origin)
    return None


# Addresses no media link may reach, checked in order (the first match names the reason). Every
# other address must also be globally reachable (`is_global`): that covers what this table does
# not name (Teredo, benchmarking and documentation ranges). The table is explicit because
# `is_global` misses some of these on the Pythons the bridge supports (3.11 calls 192.0.0.8,
# fec0::1 and 224.0.0.1 global).
_NOT_PUBLIC: tuple[tuple[IPv4Network | IPv6Network, str], ...] = tuple(
    (ip_network(network), reason)
    for network, reason in (
        # AWS, GCP, Azure, DigitalOcean, OpenStack: the instance's credentials are one GET away.
        ("169.254.169.254/32", "the cloud metadata address"),
        ("fd00:ec2::254/128", "the cloud metadata address"),
        ("0.0.0.0/8", "an unspecified address"),
        ("::/128", "an unspecified address"),
        ("127.0.0.0/8", "a loopback address"),
        ("::1/128", "a loopback address"),
        ("10.0.0.0/8", "a private address"),
        ("172.16.0.0/12", "a private address"),
        ("192.168.0.0/16", "a private address"),
        ("fc00::/7", "a private address"),
        ("fec0::/10", "a private address"),  # site-local, deprecated but still routed somewhere
        ("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
        ("169.254.0.0/16", "a link-local address"),
        ("fe80::/10", "a link-local address"),
        ("224.0.0.0/4", "a multicast address"),
        ("ff00::/8", "a multicast address"),
        ("192.0.0.0/24", "a reserved address"),
        ("240.0.0.0/4", "a reserved address"),
    )
)
# NAT64's well-known prefix (RFC 6052): the last 32 bits are the IPv4 address reached.
_NAT64 = ip_network("64:ff9b::/96")


def address_refusal(address: IPv4Address | IPv6Address) -> str | None:
    """Why no media may be fetched from `address` ("a loopback address"), or None when it is a
    public one. An IPv6 address that carries an IPv4 one (mapped `::ffff:127.0.0.1`, 6to4
    `2002:a00:1::`, NAT64 `64:ff9b::a00:1`) is judged as the IPv4 address it reaches."""
    if isinstance(address, IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return address_refusal(embedded)
    for network, reason in _NOT_PUBLIC:
        if address.version == network.version and address in network:
            return reason
    if not address.is_global or address.is_multicast or address.is_reserved:
        return "an address that is not public"
    return None


def on_domains(host: str, domains: tuple[str, ...]) -> bool:
    """Whether `host` is one of `domains` or a subdomain of one (`media.twiliocdn.com` of
    `twiliocdn.com`; never `eviltwilio.com` nor `twilio.com.evil.example`)."""
    name = host.lower().removesuffix(".")
    return any(name == domain or name.endswith("." + domain) for domain in domains)


def same_origin(url: str, base_url: str) -> bool:
    """Whether `url` is on exactly the scheme, host and port of `base_url` (a configured API URL):
    credentials for that API may be sent there and nowhere else."""
    try:
        target, base = urlsplit(url), urlsplit(base_url)
    except ValueError:  # not a URL at all (`http://[::1`): no credentials for it
        return False
    return bool(base.netloc) and (target.scheme, target.netloc.lower()) == (base.scheme, base.netloc.lower())


def origin_of(url: str) -> tuple[str, str]:
    """`url`'s scheme and host:port, for "is this the same server?" (credentials stay on it)."""
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower().rpartition("@")[2]


def _literal_address(host: str) -> IPv4Address | IPv6Address | None:
    """The address a host written as one names (`127.0.0.1`, `[::1]` read as `::1`), else None.
    Only the dotted-quad form is an IPv4 literal here: `2130706433` or `0x7f.1` are names to
    this check and to `bridge.providers.media.transport`, which resolves every name and checks the result."""
    try:
        return ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def _unfetchable(url: str) -> Refusal | None:
    """Why `url` is not a link any client could fetch, or None."""
    if not url:
        return Refusal("the link is empty")
    if len(url) > MAX_URL_LENGTH:
        return Refusal(f"the link is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
    except ValueError:  # `http://[::1`: brackets that close no address
        return Refusal("the link is not a valid URL")
    if not parts.scheme:
        return Refusal("the link is not a URL")
    # After the scheme: `urlsplit` silently drops tabs and line breaks, so the raw text is read.
    if any(unicodedata.category(character) in _FORBIDDEN_CATEGORIES for character in url):
        # The host is shown only when it was read as written: `urlsplit` dropped nothing from it.
        clean = url.lower().startswith(f"{parts.scheme}://{parts.netloc.lower()}")
        return Refusal("the link contains spaces or control characters", _origin(parts) if clean else None)
    if parts.scheme not in FETCHED_SCHEMES:
        scheme = f"{parts.scheme}:" if len(parts.scheme) <= _MAX_SCHEME_SHOWN else "an unknown scheme"
        return Refusal(f"only http and https links are fetched, not {scheme}", _origin(parts))
    if not parts.hostname:
        return Refusal("the link names no host")
    origin = _origin(parts)
    if origin is None:
        return Refusal("the link's host name is not valid")
    try:
        parts.port  # noqa: B018 - reading it is the check: out of range or not a number raises
    except ValueError:
        return Refusal("the link's port is not valid", origin)
    return None


def _origin(parts: SplitResult) -> str | None:
    """`scheme://host` when the host is a valid name or address, else None (nothing to show)."""
    host = _valid_host(parts)
    return f"{parts.scheme}://{host}" if host and len(parts.scheme) <= _MAX_SCHEME_SHOWN else None


def _valid_host(parts: SplitResult) -> str | None:
    """The link's host as it would be looked up (IDNA, lower case), or None when it is not a DNS
    name or an IP address: nothing a resolver could be asked for."""
    host = parts.hostname
    if not host:
        return None
    if "[" in parts.netloc:
        try:
            return f"[{ipaddress.IPv6Address(host)}]"
        except ValueError:
            return None
    try:
        name = host.encode("idna").decode("ascii")
    except UnicodeError:  # an empty label, or one longer than 63 characters
        return None
    labels = name.removesuffix(".").split(".")
    if len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        return None
    return name
