"""The web process's parts, built once per process from the settings."""

from __future__ import annotations

from dataclasses import dataclass, field

import redis
from rq import Queue

from core.catalogs import catalog_for
from core.connections import redis_client, redis_url
from core.embedded import EmbeddedRedis
from core.settings import Settings, warn_dev_secret
from dialogs.texts import Catalog
from gateway.abuse import DniGuard
from gateway.facts import ImportedFacts
from gateway.sessions import SessionStore
from models import Database
from workers.api import sms_queue


@dataclass
class Services:
    settings: Settings
    db: Database
    redis: redis.Redis
    store: SessionStore
    catalog: Catalog
    draft_catalog: Catalog
    queue: Queue
    guard: DniGuard
    embedded: EmbeddedRedis | None = None
    # The process's copy of what only an import changes (settlements, co-responsibilities).
    imported: ImportedFacts = field(default_factory=ImportedFacts)

    def close(self) -> None:
        self.redis.close()
        self.db.dispose()


# Set in the environment of the process that warned: what it starts or forks inherits it.
def build_services(settings: Settings) -> Services:
    """Every part the web process needs."""
    url, embedded = redis_url(settings)
    warn_dev_secret(settings)
    client = redis_client(url)
    store = SessionStore(
        client,
        session_ttl=settings.session_ttl_seconds,
        resume_ttl=settings.resume_window_seconds,
        lock_ttl=settings.dob_lock_seconds,
    )
    return Services(
        settings=settings,
        # A stuck query must not outlive the aggregator's ~10 s patience with a caller.
        db=Database(settings.database_url, statement_timeout_ms=5000,
                    read_timeout_ms=settings.hop_deadline_ms),
        redis=client,
        store=store,
        catalog=catalog_for(settings),
        # The simulator shows drafts whatever the setting: it is where reviewers see them.
        draft_catalog=catalog_for(settings, drafts=True),
        queue=sms_queue(client),
        guard=DniGuard(client, url, settings.secret_key, settings.max_dnis_per_phone_per_day),
        embedded=embedded,
    )
