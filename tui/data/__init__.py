"""The TUI's one door to mailbell's data: every screen reads and writes through these modules,
and they call core services only (no queries of their own).

One module per area (tenants, servers, settings, templates, accounts, deliveries, audit, slack,
webhooks, mail tests, OAuth, the demo's captured mail). Each function opens its own session,
so it can run on a worker thread; async ones do their database part on a thread too. Core is
imported inside the functions: importing a screen does not load SQLAlchemy.
"""
