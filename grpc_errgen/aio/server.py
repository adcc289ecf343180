"""aio server interceptor chain. (Being written: see issues 3-6.)"""

from __future__ import annotations

from typing import Any


def server_interceptors(*modules: Any, authenticate: Any = None, log: bool = True, metrics: Any = None) -> list[Any]:
    raise NotImplementedError
