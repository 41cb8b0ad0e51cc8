"""``dimsolve serve``: the solver over HTTP (FastAPI + uvicorn, the optional extra ``dimsolve[serve]``).

- ``app``: the HTTP layer (routes, body limits, error answers, cache, OpenAPI); imports FastAPI.
- ``models``: the pydantic request/response models behind ``/openapi.json``.
- ``check``: GuardSet JSON + spec JSON -> ``Report``, with no web framework (shared with the CLI).
- ``pool``: where checks run: a pool of worker processes off the event loop.
- ``limits`` / ``cache``: the limits a request must stay within, and the LRU of answered requests.

The service never imports or runs user code: a request carries a GuardSet (plain data, guard
expressions read by ``guards.codec``) and a spec in JSON form, never a model.
"""
