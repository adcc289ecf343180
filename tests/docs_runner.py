"""Runs the python blocks of one document in a fresh interpreter, as a reader would, for ``tests/test_docs.py``.

A fresh process, so that a block works only with what it imports itself (``import grpc_errgen`` must be enough
for ``grpc_errgen.aio``) and a block that leaks a server or a thread cannot disturb the test session.

Input on stdin (JSON): ``{"path": "docs/runtime.md", "givens": true, "blocks": [{"line": 20, "source": "..."}]}``. The blocks run
in order, in one namespace and inside one event loop (so top-level ``await`` works, and grpc.aio objects made in
one block can be used in the next). Output on stdout: one JSON line, a list with, per block, ``null`` (it ran) or
the traceback. A block that fails does not stop the later ones (their report says it came first).

With ``"givens": true`` the namespace starts with ``GIVENS``: what such a document says its snippets assume (the
bundled example's server address, a token it accepts, its token checks and servicer). Nothing else is preset.

A top-level ``raise E`` (a snippet showing what a handler raises) evaluates ``E`` and checks that it is an
exception, without raising it, so the statements after it run too.
"""

from __future__ import annotations

import ast
import asyncio
import json
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

#: The names a document may use without defining them, and what they are (documented where they are used).
GIVENS = {
    "target": "the address of the bundled example's sync server (examples/server.py), on 127.0.0.1",
    "token": "a bearer token that server accepts (alice-token: scopes orders, orders.write)",
    "check_token": "the example's authenticate(token, method) (examples/shop_service.py)",
    "check_token_async": "the same as an async def, for grpc.aio",
    "Orders": "the example's servicer class (examples/shop_service.py OrderService), built without arguments",
}


_KEEP: list[Any] = []


def givens() -> dict[str, Any]:
    sys.path.insert(0, str(EXAMPLES))
    import server
    import shop_service

    class Orders(shop_service.OrderService):
        def __init__(self) -> None:
            super().__init__(shop_service.Store())

    running, port = server.start(0)
    _KEEP.append(running)  # a grpc.Server that is garbage-collected stops
    values = {
        "target": f"127.0.0.1:{port}",
        "token": "alice-token",
        "check_token": shop_service.authenticate,
        "check_token_async": shop_service.authenticate_async,
        "Orders": Orders,
    }
    assert values.keys() == GIVENS.keys()
    return values


def raised(exception: object) -> None:
    """What a top-level ``raise E`` of a snippet becomes: ``E`` must be an exception (class or instance)."""
    if not (
        isinstance(exception, BaseException)
        or (isinstance(exception, type) and issubclass(exception, BaseException))
    ):
        raise TypeError(f"raise of a non-exception: {exception!r}")


class _RaiseChecker(ast.NodeTransformer):
    """Turns the module-level ``raise E`` statements into ``__raised__(E)``."""

    def visit_Module(self, node: ast.Module) -> ast.Module:
        node.body = [
            (
                ast.copy_location(
                    ast.Expr(
                        ast.Call(
                            ast.Name("__raised__", ast.Load()), [statement.exc], []
                        )
                    ),
                    statement,
                )
                if isinstance(statement, ast.Raise) and statement.exc is not None
                else statement
            )
            for statement in node.body
        ]
        return node


def run(path: str, blocks: list[dict[str, Any]], with_givens: bool) -> list[str | None]:
    namespace: dict[str, Any] = {"__name__": "__docs__", "__raised__": raised}
    if with_givens:
        namespace.update(givens())
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    results: list[str | None] = []
    failed_at: int | None = None
    for block in blocks:
        # Pad so that tracebacks give the line in the document.
        source = "\n" * block["line"] + block["source"]
        try:
            tree = _RaiseChecker().visit(ast.parse(source, path))
            code = compile(
                ast.fix_missing_locations(tree),
                path,
                "exec",
                flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
                dont_inherit=True,
            )

            async def execute(code: Any = code) -> None:
                result = eval(code, namespace)
                if asyncio.iscoroutine(result):
                    await result

            loop.run_until_complete(execute())
            results.append(None)
        except BaseException:
            after = (
                f"(after the block at line {failed_at} failed)\n" if failed_at else ""
            )
            results.append(after + traceback.format_exc())
            failed_at = failed_at or block["line"] + 1
    return results


def main() -> None:
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    logging.basicConfig(level=logging.CRITICAL)
    request = json.load(sys.stdin)
    results = run(request["path"], request["blocks"], request["givens"])
    sys.stdout.write(json.dumps(results) + "\n")
    sys.stdout.flush()
    # Servers, channels and loops the snippets left behind die with the process.
    os._exit(0)


if __name__ == "__main__":
    main()
