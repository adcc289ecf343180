"""Test support: compile protos for real (grpcio-tools' protoc + our generator) and import what came out.

Generated packages are put on ``sys.path``; give every test proto set its own proto package / file path, since
Python caches modules by name for the whole test session.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path
from types import ModuleType

from grpc_errgen.codegen.protoc import compile_protos, write


def build(root: Path, sources: dict[str, str]) -> Path:
    """Write ``sources`` (path -> proto text) under ``root/protos``, compile them into ``root/out``; return ``out``."""
    protos = root / "protos"
    out = root / "out"
    for name, text in sources.items():
        target = protos / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text))
    write(compile_protos([protos]), out)
    if str(out) not in sys.path:
        sys.path.insert(0, str(out))
    importlib.invalidate_caches()
    return out


def load(module: str) -> ModuleType:
    """Import a generated module (``shop.v1.orders_errgen``) from a tree ``build`` put on the path."""
    return importlib.import_module(module)
