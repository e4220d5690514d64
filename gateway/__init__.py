"""The web: Flask webhooks for Africa's Talking callbacks, the staff pages and the simulator.

`gateway.app.create_app` builds the app. Below it stand `core` (settings, connections, privacy,
catalogs, logging), `dialogs` and `models`; the worker side is reached only through
`workers.api`.
"""

from typing import Any


def __getattr__(name: str) -> Any:
    """`from gateway import create_app` (Flask's app-factory convention), imported on first use:
    `import gateway.x` stays light for the processes that need one module of it."""
    if name == "create_app":
        from gateway.app import create_app

        return create_app
    raise AttributeError(f"module 'gateway' has no attribute {name!r}")
