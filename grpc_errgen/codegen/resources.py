"""Where the generator's data lives: its Jinja2 templates and the include directory of ``options.proto``.

The templates sit inside this package. ``options.proto`` is shipped inside an installed wheel
(``grpc_errgen/_proto``) and at the top of a source checkout (``protos/``).
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent
_RUNTIME = _HERE.parent


def _first_existing(*candidates: Path) -> Path:
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"grpc-errgen is missing its data: none of {[str(c) for c in candidates]}"
    )


def templates_dir() -> Path:
    return _first_existing(_HERE / "templates")


def include_dir() -> Path:
    """The directory to pass to protoc as ``-I`` so that ``import "grpc_errgen/options.proto";`` resolves."""
    return _first_existing(_RUNTIME / "_proto", _RUNTIME.parent / "protos")
