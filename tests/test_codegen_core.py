"""The generator's core: the runtime apart from the generator, the typed model, reviewable and hostile-proof output."""

from __future__ import annotations

import ast
import difflib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grpc_errgen.codegen.protoc import CompileError, compile_protos
from tests.support import build, load

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = ROOT / "grpc_errgen"
EXAMPLE_PROTOS = ROOT / "examples" / "protos"
#: What only the generator may import: itself and the [codegen] extra.
GENERATOR_ONLY = (
    "grpc_errgen.codegen",
    "grpc_tools",
    "jinja2",
    "click",
    "black",
    "mypy_protobuf",
    "cel_expr_python",
)


def test_the_codegen_extra_is_what_the_generator_needs() -> None:
    """Each package of the ``[codegen]`` extra is one the commands check for (and say to install when it is
    missing), and one the runtime must never import."""
    import tomllib
    from importlib.metadata import packages_distributions

    from grpc_errgen.codegen import launch

    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["codegen"]
    wanted = {
        re.split(r"[<>=!~\[ ;]", requirement)[0].lower().replace("_", "-")
        for requirement in extra
    }
    providers = packages_distributions()
    checked = {
        dist.lower().replace("_", "-")
        for name in launch._NEEDED
        for dist in providers.get(name, [])
    }
    assert checked == wanted
    assert set(launch._NEEDED) == set(GENERATOR_ONLY) - {"grpc_errgen.codegen"}


def _runtime_modules() -> list[Path]:
    return sorted(
        p
        for p in RUNTIME.rglob("*.py")
        if "codegen" not in p.relative_to(RUNTIME).parts
    )


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in it (absolute names; relative imports resolved)."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(
                    parts[: len(parts) - node.level + 1] + ([base] if base else [])
                )
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def test_the_runtime_never_imports_the_generator_statically() -> None:
    modules = _runtime_modules()
    assert len(modules) > 10
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            name
            for name in _imports(path)
            if name.split(".")[0] in GENERATOR_ONLY or name.startswith(GENERATOR_ONLY)
        )
        for path in modules
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_runtime_imports_with_the_generator_unimportable() -> None:
    """Every runtime module imports in a process where the generator and its toolchain cannot be imported."""
    names = [
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for path in _runtime_modules()
    ]
    blocked = list(GENERATOR_ONLY)
    program = f"""
import importlib, importlib.abc, sys
BLOCKED = {blocked!r}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in BLOCKED):
            raise ImportError("blocked: " + name)
        return None
sys.meta_path.insert(0, Block())
for name in {names!r}:
    if name.endswith("_pb2") or name == "grpc_errgen.prometheus":
        pass
    importlib.import_module(name)
assert not [m for m in sys.modules if any(m == b or m.startswith(b + ".") for b in BLOCKED)]
print("ok", len({names!r}))
"""
    result = subprocess.run(
        [sys.executable, "-c", program],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")


def test_the_blocker_above_can_fail() -> None:
    """The previous test's blocker does block: importing the generator under it fails."""
    program = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.startswith("grpc_errgen.codegen"):
            raise ImportError("blocked")
sys.meta_path.insert(0, Block())
import grpc_errgen.codegen.pipeline
"""
    result = subprocess.run(
        [sys.executable, "-c", program],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0 and "blocked" in result.stderr


def _example_output(protos: Path) -> str:
    files = compile_protos([protos])
    return next(
        c.decode() for n, c in files.files.items() if n.endswith("orders_errgen.py")
    )


def test_adding_one_rule_changes_only_that_rules_lines(tmp_path: Path) -> None:
    protos = tmp_path / "protos"
    shutil.copytree(EXAMPLE_PROTOS, protos)
    before = _example_output(protos)
    proto = protos / "shop" / "v1" / "orders.proto"
    text = proto.read_text()
    old = '[(errgen.field).string = { pattern: "^[A-Z]{3}-[0-9]{4}$" }]'
    assert old in text
    proto.write_text(
        text.replace(
            old,
            '[(errgen.field).string = { pattern: "^[A-Z]{3}-[0-9]{4}$", max_len: 8 }]',
        )
    )
    after = _example_output(protos)
    diff = [
        line
        for line in difflib.unified_diff(
            before.splitlines(), after.splitlines(), lineterm="", n=0
        )
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    removed = [line[1:] for line in diff if line.startswith("-")]
    added = [line[1:] for line in diff if line.startswith("+")]
    # Nothing is renamed or renumbered: the only lines that go are the list fast paths' `if` lines, which now
    # test the new rule as well.
    assert all(
        line.strip().startswith("if ") and "_LINE_ITEM_SKU_PATTERN_RE" in line
        for line in removed
    ), removed
    assert len(removed) <= 2
    # What comes is the rule's constant, its checks, and those `if` lines again.
    assert any("_LINE_ITEM_SKU_MAX_LEN = _errors.Violation(" in line for line in added)
    assert (
        sum("_LINE_ITEM_SKU_MAX_LEN" in line for line in added) >= 3
    )  # its own function and two inlined copies
    # (each check's violation call carries the structured path elements, so it spans up to 8 lines)
    assert len(added) <= 50, "\n".join(added)


HOSTILE = """
    syntax = "proto3";
    package hostile.v1;
    import "grpc_errgen/options.proto";

    // Our runtime's names and Python's keywords, used as proto names.
    enum MethodPolicy {
      option (errgen.errors) = { domain: "hostile.example" };
      METHOD_POLICY_UNSPECIFIED = 0;
      GRPC = 1 [(errgen.error) = { code: NOT_FOUND }];
      VIOLATION = 2 [(errgen.error) = { code: ABORTED }];
    }
    message grpc {
      string in = 1 [(errgen.field).string.min_len = 2];
      int32 from = 2 [(errgen.field).int32 = { gt: 0 }];
      bool None = 3 [(errgen.field).bool.const = true];
      repeated string class = 4 [(errgen.field).repeated = { min_items: 1, items: { string: { max_len: 3 } } }];
    }
    message Violation {
      grpc import = 1 [(errgen.field).required = true];
      map<string, grpc> lambda = 2;
    }
    service ExceptionMapping {
      rpc GeneratedFile(Violation) returns (grpc) {
        option (errgen.method) = { errors: ["GRPC", "VIOLATION"] };
      }
    }
"""


def test_hostile_names_generate_a_module_that_imports_and_validates(
    tmp_path: Path,
) -> None:
    out = build(tmp_path, {"hostile/v1/names.proto": HOSTILE})
    module = load("hostile.v1.names_errgen")
    pb2 = load("hostile.v1.names_pb2")
    from grpc_errgen import errors, validation

    assert issubclass(module.Grpc, errors.NotFound) and issubclass(
        module.Grpc, module.MethodPolicy
    )
    assert module.Violation.reason == "VIOLATION"
    policy = module.EXCEPTION_MAPPING_POLICY[
        "/hostile.v1.ExceptionMapping/GeneratedFile"
    ]
    assert policy.errors == (module.Grpc, module.Violation)
    bad = pb2.grpc(**{"in": "x", "from": 0, "None": False, "class": ["long"]})
    found = {(v.field, v.rule) for v in validation.violations(bad)}
    assert found == {
        ("in", "string.min_len"),
        ("from", "int32.gt"),
        ("None", "bool.const"),
        ("class[0]", "string.max_len"),
    }
    outer = getattr(pb2, "Violation")()  # noqa: B009
    assert {(v.field, v.rule) for v in validation.violations(outer)} == {
        ("import", "required")
    }
    # protoc's own .pyi stubs do not pass --strict (map fields); the generated module must.
    config = tmp_path / "mypy.ini"
    config.write_text(
        "[mypy]\nstrict = True\n[mypy-hostile.v1.names_pb2]\nignore_errors = True\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            f"--config-file={config}",
            "--explicit-package-bases",
            str(out / "hostile" / "v1" / "names_errgen.py"),
        ],
        cwd=out,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    "enum_name, value_name, problem",
    [
        ("Errs", "NONE", "NONE gives class None, a Python keyword"),
        ("Errs", "TRUE", "TRUE gives class True, a Python keyword"),
        ("None", "GONE", "error catalogue None: a Python keyword"),
    ],
)
def test_keyword_class_names_are_diagnostics(
    enum_name: str, value_name: str, problem: str, tmp_path: Path
) -> None:
    """An error class named after a Python keyword would be a module that does not parse: the generator says
    where, at the value (or enum), and writes nothing."""
    package = f"kw{value_name.lower()}{enum_name.lower()}.v1"
    source = f"""
        syntax = "proto3";
        package {package};
        import "grpc_errgen/options.proto";
        enum {enum_name} {{
          option (errgen.errors) = {{ domain: "d" }};
          {enum_name.upper()}_UNSPECIFIED = 0;
          {value_name} = 1 [(errgen.error) = {{ code: NOT_FOUND }}];
        }}
    """
    protos = tmp_path / "protos"
    target = protos / package.replace(".", "/") / "k.proto"
    target.parent.mkdir(parents=True)
    target.write_text(source)
    with pytest.raises(CompileError) as caught:
        compile_protos([protos])
    message = str(caught.value)
    assert problem in message
    assert message.startswith(f"{package.replace('.', '/')}/k.proto:"), message


@pytest.mark.parametrize(
    "comment_on, where",
    [
        ("enum", "class Errs("),
        ("value", "class Gone("),
        ("message", "def validate_Req("),
    ],
)
def test_proto_comments_become_docstrings(
    comment_on: str, where: str, tmp_path: Path
) -> None:
    comments = {
        c: f'// The {c}: says "what" \\ it is.\n' if c == comment_on else ""
        for c in ("enum", "value", "message")
    }
    source = f"""
        syntax = "proto3";
        package docs{comment_on}.v1;
        import "grpc_errgen/options.proto";
        {comments["enum"]}enum Errs {{
          option (errgen.errors) = {{ domain: "d" }};
          ERRS_UNSPECIFIED = 0;
          {comments["value"]}GONE = 1 [(errgen.error) = {{ code: NOT_FOUND }}];
        }}
        {comments["message"]}message Req {{ string id = 1 [(errgen.field).string.min_len = 1]; }}
    """
    out = build(tmp_path, {f"docs{comment_on}/v1/d.proto": source})
    text = (out / f"docs{comment_on}" / "v1" / "d_errgen.py").read_text()
    block = text[text.index(where) :]
    docstring = block.split("\n")[1].strip()
    assert docstring == f'"""The {comment_on}: says "what" \\\\ it is."""'
    module = load(f"docs{comment_on}.v1.d_errgen")
    documented = {
        "enum": module.Errs,
        "value": module.Gone,
        "message": module.validate_Req,
    }[comment_on]
    assert documented.__doc__ == f'The {comment_on}: says "what" \\ it is.'


def test_no_import_cycles() -> None:
    """No module of the package imports, directly or not, a module that imports it back."""
    modules = {
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(
            ".__init__"
        ): path
        for path in RUNTIME.rglob("*.py")
    }
    graph = {
        name: {
            imported
            for imported in _imports(path)
            if imported in modules and imported != name
        }
        for name, path in modules.items()
    }
    # A package's __init__ re-exporting its modules is not a cycle of the code's layers.
    packages = {name for name, path in modules.items() if path.name == "__init__.py"}
    cycles = []
    for start in graph:
        stack = [(start, [start])]
        seen = set()
        while stack:
            current, trail = stack.pop()
            for nxt in graph[current] - packages:
                if nxt == start:
                    cycles.append(trail)
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*trail, nxt]))
    assert cycles == []


TIMING = """
    syntax = "proto3";
    package timing.v1;
    import "grpc_errgen/options.proto";
    enum Busy {
      option (errgen.errors) = { domain: "timing.example" };
      BUSY_UNSPECIFIED = 0;
      TRY_LATER = 1 [(errgen.error) = { code: UNAVAILABLE retry_delay: "1.5s" }];
      GONE = 2 [(errgen.error) = { code: NOT_FOUND }];
    }
    message R {}
    service T {
      rpc Slow(R) returns (R) { option (errgen.method) = { timeout: "2.5s" }; }
      rpc Both(R) returns (R) {
        option (errgen.method) = { timeout: "0.25s" retry: { max_attempts: 2 } };
      }
      rpc Plain(R) returns (R);
    }
"""


def test_retry_delay_and_timeout(tmp_path: Path) -> None:
    import json

    from grpc_errgen.policy import service_config

    build(tmp_path, {"timing/v1/t.proto": TIMING})
    module = load("timing.v1.t_errgen")
    assert module.TryLater.retry_delay == 1.5 and module.Gone.retry_delay is None
    policies = module.T_POLICY
    assert policies["/timing.v1.T/Slow"].timeout == 2.5
    assert policies["/timing.v1.T/Both"].timeout == 0.25
    assert policies["/timing.v1.T/Plain"].timeout is None
    written = json.loads(module.SERVICE_CONFIG)
    assert written == service_config([module])
    by_method = {entry["name"][0]["method"]: entry for entry in written["methodConfig"]}
    assert by_method["Slow"] == {
        "name": [{"service": "timing.v1.T", "method": "Slow"}],
        "timeout": "2.5s",
    }
    assert (
        by_method["Both"]["timeout"] == "0.25s"
        and by_method["Both"]["retryPolicy"]["maxAttempts"] == 2
    )
    assert "Plain" not in by_method


@pytest.mark.parametrize(
    "body, expected",
    [
        (
            'message C { string s = 1 [(errgen.field).cel = { id: "x" expression: "this != 1" }]; }',
            "c.proto:5:",
        ),
        (
            'message C { option (errgen.message).cel = { id: "x" expression: "this.t" }; string s = 1; }',
            "c.proto:5:",
        ),
        (
            'enum E { option (errgen.errors) = { domain: "d" }; E_UNSPECIFIED = 0;\n'
            '  LATER = 1 [(errgen.error) = { code: UNAVAILABLE retry_delay: "soon" }]; }',
            "LATER: retry_delay must be a positive duration like \"0.5s\", not 'soon'",
        ),
    ],
)
def test_unsupported_or_bad_timing_options_are_diagnostics(
    body: str, expected: str, tmp_path: Path
) -> None:
    from grpc_errgen.codegen.protoc import CompileError

    protos = tmp_path / "protos"
    protos.mkdir()
    (protos / "c.proto").write_text(
        f'syntax = "proto3";\npackage c.v1;\nimport "grpc_errgen/options.proto";\n\n{body}\n'
    )
    with pytest.raises(CompileError) as raised:
        compile_protos([protos])
    assert expected in str(raised.value)
    if "cel" in body:  # a CEL rule that does not type-check names its message
        assert "message c.v1.C: CEL `this" in str(raised.value)


@pytest.mark.parametrize("command", ["cli", "plugin"])
def test_commands_without_the_codegen_extra_say_what_to_install(command: str) -> None:
    program = (
        "import sys\n"
        "sys.modules['jinja2'] = None  # as if the [codegen] extra were not installed\n"
        "sys.argv = ['x', 'generate']\n"
        f"from grpc_errgen.codegen.launch import {command}\n"
        f"{command}()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "grpc-errgen: the generator is not installed: pip install 'grpc-errgen[codegen]' (missing: jinja2)"
    ]


CLOSURE_COMMON = """
    syntax = "proto3";
    package closure.common.v1;
    import "grpc_errgen/options.proto";
    enum StockError {
      option (errgen.errors) = { domain: "stock.example" };
      STOCK_ERROR_UNSPECIFIED = 0;
      SKU_UNKNOWN = 1 [(errgen.error) = { code: NOT_FOUND }];
    }
    message Sku { string code = 1 [(errgen.field).string.min_len = 3]; }
"""
CLOSURE_SERVICE = """
    syntax = "proto3";
    package closure.svc.v1;
    import "grpc_errgen/options.proto";
    import "closure/common/v1/common.proto";
    message Req { closure.common.v1.Sku sku = 1; }
    message Resp { string code = 1; }
    service Stock {
      rpc Get(Req) returns (Resp) { option (errgen.method) = { errors: ["SKU_UNKNOWN"] }; }
    }
"""


def test_a_module_brings_the_generated_modules_it_imports(tmp_path: Path) -> None:
    import grpc

    from grpc_errgen import errors
    from grpc_errgen.policy import error_table, generated_files
    from grpc_errgen.testing import serve

    build(
        tmp_path,
        {
            "closure/common/v1/common.proto": CLOSURE_COMMON,
            "closure/svc/v1/svc.proto": CLOSURE_SERVICE,
        },
    )
    common = load("closure.common.v1.common_errgen")
    svc = load("closure.svc.v1.svc_errgen")
    pb2 = load("closure.svc.v1.svc_pb2")
    pb2_grpc = load("closure.svc.v1.svc_pb2_grpc")
    common_pb2 = load("closure.common.v1.common_pb2")
    assert svc.ERRGEN.imports == (common.ERRGEN,)
    assert generated_files([svc]) == [svc.ERRGEN, common.ERRGEN]
    assert generated_files([svc, common]) == [svc.ERRGEN, common.ERRGEN]  # each once
    assert error_table([svc])[("stock.example", "SKU_UNKNOWN")] is common.SkuUnknown

    class Stock(pb2_grpc.StockServicer):  # type: ignore[misc]
        def Get(self, request: object, context: grpc.ServicerContext) -> object:
            raise common.SkuUnknown("no such sku")

    # Only the service's module is passed, to the server chain and to the client interceptors.
    with serve(pb2_grpc.add_StockServicer_to_server, Stock(), svc) as channel:
        stub = pb2_grpc.StockStub(channel)
        with pytest.raises(common.SkuUnknown):
            stub.Get(pb2.Req(sku=common_pb2.Sku(code="abcd")))
        with pytest.raises(errors.ValidationError) as invalid:
            stub.Get(pb2.Req(sku=common_pb2.Sku(code="x")))
        assert [v.field for v in invalid.value.violations] == ["sku.code"]


@pytest.mark.parametrize("seed", range(3))
def test_literals_are_what_black_writes(seed: int) -> None:
    import random

    import black

    from grpc_errgen.codegen.backend.literals import literal

    rng = random.Random(seed)
    alphabet = ["a", "'", '"', "\\", "\n", "\x00", "é", " ", "\u2028"]
    values: list[str | bytes | float] = [
        "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 8)))
        for _ in range(300)
    ]
    values += [
        bytes(rng.randrange(256) for _ in range(rng.randrange(0, 6)))
        for _ in range(100)
    ]
    values += [1e30, 1e-7, 0.1, -0.0, float("inf"), float("nan")]
    for value in values:
        text = literal(value)
        assert (
            black.format_str(f"x = {text}\n", mode=black.Mode()) == f"x = {text}\n"
        ), (value, text)
        if isinstance(value, float) and value != value:
            continue
        assert eval(text, {"float": float}) == value, (value, text)
