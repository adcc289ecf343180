"""Where the package's data lives: the Jinja2 templates and the include directory of ``options.proto``.

An installed wheel carries them inside the package (``_templates``, ``_proto``); a source checkout keeps them at
the top of the repository (``templates/``, ``protos/``).
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _first_existing(*candidates: Path) -> Path:
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"grpc-errgen is missing its data: none of {[str(c) for c in candidates]}"
    )


def templates_dir() -> Path:
    return _first_existing(_PACKAGE / "_templates", _PACKAGE.parent / "templates")


def include_dir() -> Path:
    """The directory to pass to protoc as ``-I`` so that ``import "grpc_errgen/options.proto";`` resolves."""
    return _first_existing(_PACKAGE / "_proto", _PACKAGE.parent / "protos")
