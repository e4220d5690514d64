"""Session memory: Redis bytes per live USSD session, over 100,000 live sessions.

    .venv/bin/python bench/session_memory.py
    .venv/bin/python bench/session_memory.py --sessions 1000

Real sessions first: callers (phones of record and DNI callers of a small demo data set) play 2
to 4 hops through the Flask test client, and stop mid-session as live sessions are. Their stored
states are then written again, through `SessionStore.save` and `keep_for_resume`, under fresh
aggregator-like session ids and phones until `--sessions` are live in a private redis-server.
Reported: `INFO memory` used_memory growth per session and `MEMORY USAGE` of sampled keys.
"""

from __future__ import annotations

import argparse
import random
import secrets
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from support import median, say  # noqa: E402
from ussd_data import CACHE, demo_sqlite, sample_identities  # noqa: E402

from core.embedded import EmbeddedRedis  # noqa: E402
from core.keys import key_for  # noqa: E402
from core.privacy import phone_key  # noqa: E402
from gateway.app import create_app  # noqa: E402
from gateway.sessions import SessionStore, StoredSession

SECRET = "bench-session-memory-secret"
# Live sessions, cut after a few hops: "D" and "B" are a DNI caller's DNI and date of birth.
RECORD_FLOWS = (["1"], ["1", "0", "2"], ["2", "98"], ["3"])
DNI_FLOWS = (["D"], ["D", "B"], ["D", "B", "1"], ["D", "B", "2"])


def real_sessions(db_url: str, redis_url: str, count: int) -> list[tuple[StoredSession, bool]]:
    """Stored sessions as real hops leave them, and whether the phone keeps a resume snapshot."""
    app = create_app({"database_url": db_url, "redis_url": redis_url, "secret_key": SECRET,
                      "max_dnis_per_phone_per_day": 1_000_000, "log_level": "WARNING"})
    services = app.extensions["mijuntos"]
    client = app.test_client()
    phones, dnis = sample_identities(db_url, count)
    rng = random.Random(3)
    out: list[tuple[StoredSession, bool]] = []
    for i in range(count):
        sid = f"ATUid_{secrets.token_hex(16)}"
        if i % 2 == 0 and phones:
            phone, flow, ident = phones[i % len(phones)], rng.choice(RECORD_FLOWS), ("", "")
        else:
            phone, flow, ident = f"+5191{i:07d}", rng.choice(DNI_FLOWS), dnis[i % len(dnis)]
        typed: list[str] = []
        for step in [None, *flow]:
            if step is not None:
                typed.append({"D": ident[0], "B": ident[1]}.get(step, step))
            body = client.post("/ussd", data={
                "sessionId": sid, "serviceCode": "*1880#", "phoneNumber": phone,
                "networkCode": "71610", "text": "*".join(typed)}).get_data(as_text=True)
            if not body.startswith("CON "):
                raise SystemExit(f"session {i}: unexpected reply {body[:60]!r}")
        stored = services.store.load(sid)
        resumable = services.redis.exists(key_for("resume", phone_key(SECRET, phone)))
        out.append((stored, bool(resumable)))
    services.close()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sessions", type=int, default=100_000)
    ap.add_argument("--households", type=int, default=2000, help="demo data the samples come from")
    ap.add_argument("--samples", type=int, default=200, help="real sessions played hop by hop")
    args = ap.parse_args(argv)
    db_url = demo_sqlite(args.households)
    server = EmbeddedRedis(CACHE / f"redis-memory-{secrets.token_hex(4)}")
    try:
        redis_url = server.start()
        samples = real_sessions(db_url, redis_url, args.samples)
        import redis

        client = redis.Redis.from_url(redis_url)
        client.flushall()
        store = SessionStore(client, session_ttl=300, resume_ttl=600, lock_ttl=1800)
        before = int(client.info("memory")["used_memory"])
        pipe = client.pipeline(transaction=False)
        session_keys, resume_keys = [], []
        for i in range(args.sessions):
            stored, resumable = samples[i % len(samples)]
            sid = f"ATUid_{secrets.token_hex(16)}"
            store.save(sid, stored, pipe)
            session_keys.append(key_for("ussd", sid))
            if resumable:
                pkey = phone_key(SECRET, f"+519{i:08d}")
                store.keep_for_resume(pkey, stored.state, pipe)
                resume_keys.append(key_for("resume", pkey))
            if i % 1000 == 999:
                pipe.execute()
        pipe.execute()
        after = int(client.info("memory")["used_memory"])
        live = int(client.dbsize())
        report(client, args, samples, before, after, live, session_keys, resume_keys)
    finally:
        server.stop()
    return 0


def report(client: Any, args: argparse.Namespace, samples: list[tuple[StoredSession, bool]],
           before: int, after: int, live: int, session_keys: list[str], resume_keys: list[str]) -> None:
    rng = random.Random(5)

    def usage(keys: list[str]) -> list[float]:
        picked = rng.sample(keys, min(1000, len(keys)))
        return [float(client.memory_usage(k, samples=0) or 0) for k in picked]

    values = [float(len(s.dumps().encode())) for s, _ in samples]
    per_session = (after - before) / args.sessions
    s_usage, r_usage = usage(session_keys), usage(resume_keys)
    say(f"\n{args.sessions} live sessions ({len(resume_keys)} with a resume snapshot), "
        f"{live} keys, from {len(samples)} real sessions of 2-4 hops")
    say(f"INFO used_memory: {before / 2**20:.1f} MiB -> {after / 2**20:.1f} MiB, "
        f"{per_session:.0f} bytes per live session (session key and resume key together)")
    say(f"MEMORY USAGE session key: median {median(s_usage):.0f} B, max {max(s_usage):.0f} B "
        f"(JSON value median {median(values):.0f} B, max {max(values):.0f} B)")
    if r_usage:
        say(f"MEMORY USAGE resume key:  median {median(r_usage):.0f} B, max {max(r_usage):.0f} B")
    say(f"goal under 1 KB per session: {'met' if per_session < 1024 else 'NOT met'}")


if __name__ == "__main__":
    sys.exit(main())
