"""aio client interceptors. (Being written: see issue 4.)"""

from __future__ import annotations

from typing import Any


def client_interceptors(*modules: Any, request_id: bool = True, validate: bool = False) -> list[Any]:
    raise NotImplementedError
