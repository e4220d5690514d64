"""The shared layer every process uses (web, workers, scheduler, command line).

Settings, connections (Redis, the database, the embedded Redis for development), privacy (keyed
hashes, masking), catalogs, logging, Redis key naming, the usage stream and the parked-callback
backlog. It stands on `dialogs` and `models` and imports neither Flask nor rq.
"""
