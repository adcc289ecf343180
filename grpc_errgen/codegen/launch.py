"""The commands' entry points: without the ``[codegen]`` extra they say what to install, in one line.

Imports nothing at module level, so that a runtime-only install reaches the message instead of a traceback.
"""

from __future__ import annotations

import importlib.util
import sys

#: What the generator needs beyond the runtime (import names of the ``[codegen]`` extra).
_NEEDED = (
    "grpc_tools",
    "jinja2",
    "click",
    "black",
    "mypy_protobuf",
    "cel_expr_python",
)
MISSING_TEXT = (
    "grpc-errgen: the generator is not installed: pip install 'grpc-errgen[codegen]'"
)


def _missing() -> list[str]:
    return [name for name in _NEEDED if importlib.util.find_spec(name) is None]


def _refuse() -> None:
    print(f"{MISSING_TEXT} (missing: {', '.join(_missing())})", file=sys.stderr)
    raise SystemExit(1)


def cli() -> None:
    """``grpc-errgen``."""
    if _missing():
        _refuse()
    from grpc_errgen.codegen.cli import run  # after the check: the toolchain is there

    run()


def plugin() -> None:
    """``protoc-gen-errgen``."""
    if _missing():
        _refuse()
    from grpc_errgen.codegen.plugin import main

    main()
