"""Redis URLs as the settings and the connections read them, a Sentinel's included."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

SENTINEL_SCHEME = "redis+sentinel"


@dataclass(frozen=True)
class SentinelTarget:
    """`redis+sentinel://[:PASSWORD@]HOST:PORT[,HOST:PORT...]/SERVICE`: the Sentinels to ask
    and the name of the primary they watch (database 0; the password is the primary's and the
    Sentinels')."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    password: str | None = None


def parse_sentinel_url(url: str) -> SentinelTarget:
    """The Sentinels and the service of a `redis+sentinel://` URL; ValueError saying what is wrong."""
    parts = urlsplit(url)
    if parts.scheme != SENTINEL_SCHEME:
        raise ValueError(f"not a {SENTINEL_SCHEME}:// URL")
    auth, _, hosts = parts.netloc.rpartition("@")
    sentinels = []
    for item in hosts.split(","):
        host, _, port = item.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"sentinel {item!r}: expected HOST:PORT")
        sentinels.append((host.strip("[]"), int(port)))
    service = parts.path.strip("/")
    if not service or "/" in service:
        raise ValueError("expected /SERVICE (the primary's name) after the Sentinels, and nothing more")
    password = unquote(auth.partition(":")[2]) if auth else None
    return SentinelTarget(tuple(sentinels), service, password or None)


def sentinel_url(hosts: str, service: str) -> str:
    """The `redis+sentinel://` URL of REDIS_SENTINELS (HOST:PORT,...) and REDIS_SENTINEL_MASTER."""
    return f"{SENTINEL_SCHEME}://{hosts.replace(' ', '')}/{service}"
