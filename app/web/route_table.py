"""Which routes take a request's path, whatever router included them (FastAPI keeps included
routers apart and matches them lazily; :func:`fastapi.routing.iter_route_contexts` lists every
route with its full path and methods)."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence

from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute, Match, Mount, compile_path
from starlette.types import Scope

#: What a mount (of static files) takes.
MOUNT_METHODS = frozenset({"GET", "HEAD"})


@functools.lru_cache(maxsize=1024)
def _regex(path: str) -> re.Pattern[str]:
    return compile_path(path)[0]


def routes_at(routes: Sequence[BaseRoute], scope: Scope) -> Iterator[tuple[BaseRoute, int, frozenset[str]]]:
    """Every route whose path takes the request's path, with how many parameters its path has
    (fewer: more specific) and the methods it takes."""
    path = scope["path"]
    for context in iter_route_contexts(routes):
        route = context.original_route
        if isinstance(route, Mount):
            if route.matches(scope)[0] != Match.NONE:
                yield route, 1, MOUNT_METHODS  # its {path}
        elif context.path and context.methods and _regex(context.path).match(path):
            yield route, context.path.count("{"), frozenset(context.methods)
