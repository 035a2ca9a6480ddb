"""The web layer: the JSON API and the step-through page, over the core in ``app/``.

Layers, lowest first (each imports only from the ones below it, and from the core):
``paths``-free helpers (``errors``, ``body_limit``, ``deps``, ``forms``, ``services``,
``templating``), the view models in ``views/`` ((Session, View) -> plain data), the shared page
answers (``responses``), then the routes (``api``, ``pages``, ``data_tab``, ``train_tab``,
``network_tab``, ``share_links``). See docs/architecture.md.
"""
