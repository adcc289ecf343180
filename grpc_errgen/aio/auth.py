"""aio auth helpers. (Being written: see issue 5.)"""

from __future__ import annotations

from typing import Any


def bearer_token(token: Any) -> Any:
    raise NotImplementedError
