"""The web: Flask webhooks for Africa's Talking callbacks, the staff pages and the simulator.

`gateway.app.create_app` builds the app. Below it stand `core` (settings, connections, privacy,
catalogs, logging), `dialogs` and `models`; the worker side is reached only through
`workers.api`.
"""
