"""The Snov.io sandbox's routes, one module per resource; each exposes ``register(app, sb)``,
which adds its routes to the app directly (a flat route table, as Starlette matches it in order).

The modules import :mod:`~accord.sandbox.snovio.core` and :mod:`.common`, never ``app.py``,
which assembles them in order (see ``build_app``).
"""
