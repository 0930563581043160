"""Mock REST services with OpenAPI documents, and the machinery that turns them into tools.

Layout, bottom up:

* ``service.py``: a service is an OpenAPI document (data) plus one handler per operationId; ``build_app``
  turns it into a Starlette ASGI app that validates requests against the document, keeps one state per
  episode (``X-Episode-Id`` header), enforces bearer auth and per-episode rate limits.
* ``hub.py``: every service mounted under ``/<service>`` in one app, with the episode admin endpoints.
* ``openapi.py``: OpenAPI operation -> ``Tool`` (JSON Schema) and tool call -> HTTP request, generically.
* ``client.py``: the generic executor (tool call -> request -> ``HTTP <status>: <body>``), and episodes.
* ``transport.py``: how requests travel: in-process (a sync ASGI caller, no sockets) or HTTP (uvicorn on
  loopback, or a user's own server, ``serve.py``).
* ``checks.py``: state checks for tasks that change a service.
* ``services/``: the services; ``templates/``: the task generators that run against them.
"""
