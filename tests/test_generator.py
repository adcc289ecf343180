"""The generator end to end: real protoc (grpcio-tools), the plugin protocol, the CLI, diagnostics, determinism."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import black
import grpc
import pytest
from click.testing import CliRunner
from google.protobuf import empty_pb2

from grpc_errgen import errors
from grpc_errgen.codegen.backend import names
from grpc_errgen.codegen.cli import main as cli
from grpc_errgen.codegen.resources import include_dir
from grpc_errgen.policy import GeneratedFile, service_config
from tests.support import build, load

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_PROTOS = ROOT / "examples" / "protos"
BIN = Path(sys.executable).parent

CATALOGUE = """
    syntax = "proto3";
    package gen.errs.v1;
    import "grpc_errgen/options.proto";
    enum StockError {
      option (errgen.errors) = { domain: "stock.example" };
      STOCK_ERROR_UNSPECIFIED = 0;
      SKU_UNKNOWN = 1 [(errgen.error) = { code: NOT_FOUND message: "unknown sku" }];
      WAREHOUSE_DOWN = 2 [(errgen.error) = { code: UNAVAILABLE retryable: true }];
    }
"""

SERVICE = """
    syntax = "proto3";
    package gen.svc.v1;
    import "grpc_errgen/options.proto";
    import "gen/errs/v1/errors.proto";
    option (errgen.file) = { map_exceptions: { exception: "builtins.LookupError" code: NOT_FOUND } };
    enum LocalError {
      option (errgen.errors) = { domain: "svc.example" };
      LOCAL_ERROR_UNSPECIFIED = 0;
      QUOTA_GONE = 1 [(errgen.error) = { code: RESOURCE_EXHAUSTED message: "quota gone" }];
    }
    message Req { string id = 1; }
    message Resp { string id = 1; }
    service Stock {
      option (errgen.service) = {
        auth_required: true scopes: "stock"
        map_exceptions: { exception: "builtins.KeyError" code: NOT_FOUND message: "no such item" }
      };
      rpc Get(Req) returns (Resp) {
        option (errgen.method) = {
          scopes: ["stock.read", "stock"]
          errors: ["SKU_UNKNOWN", "StockError.WAREHOUSE_DOWN", "QUOTA_GONE"]
          map_exceptions: { exception: "shop.db.Conflict" code: ABORTED message: "conflict" }
          retry: { max_attempts: 4 initial_backoff: "0.2s" max_backoff: "2s" backoff_multiplier: 1.5
                   retryable_codes: [UNAVAILABLE, RESOURCE_EXHAUSTED] }
        };
      }
      rpc Watch(Req) returns (stream Resp) { option (errgen.method) = { auth_required: false }; }
      rpc Push(stream Req) returns (Resp);
      rpc Chat(stream Req) returns (stream Resp) { option (errgen.method).skip_validation = true; }
    }
"""


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(
        tmp_path_factory.mktemp("gen"),
        {"gen/errs/v1/errors.proto": CATALOGUE, "gen/svc/v1/stock.proto": SERVICE},
    )


def test_catalogue_classes(generated: Path) -> None:
    module = load("gen.errs.v1.errors_errgen")
    assert issubclass(module.SkuUnknown, module.StockError)
    assert issubclass(module.SkuUnknown, errors.NotFound)
    assert issubclass(module.SkuUnknown, grpc.RpcError)
    assert module.SkuUnknown.status_code is grpc.StatusCode.NOT_FOUND
    assert (module.SkuUnknown.reason, module.SkuUnknown.domain) == (
        "SKU_UNKNOWN",
        "stock.example",
    )
    error = module.SkuUnknown(metadata={"sku": "A-1"})
    assert error.details() == "unknown sku"
    assert error.code() is grpc.StatusCode.NOT_FOUND
    assert error.metadata == {"sku": "A-1"}
    assert module.SkuUnknown("gone").details() == "gone"
    assert module.WarehouseDown.retryable and not module.SkuUnknown.retryable
    assert (
        module.WarehouseDown().details() == "warehouse down"
    )  # default text from the value name
    assert {cls.__name__ for cls in module.ERRGEN.errors} == {
        "SkuUnknown",
        "WarehouseDown",
    }


def test_policy_table(generated: Path) -> None:
    module = load("gen.svc.v1.stock_errgen")
    errs = load("gen.errs.v1.errors_errgen")
    assert isinstance(module.ERRGEN, GeneratedFile)
    get = module.STOCK_POLICY["/gen.svc.v1.Stock/Get"]
    assert get.kind == "unary_unary" and get.auth_required
    assert get.scopes == frozenset({"stock", "stock.read"})
    assert get.errors == (errs.SkuUnknown, errs.WarehouseDown, module.QuotaGone)
    assert [(m.exception, m.code, m.level) for m in get.exception_mappings] == [
        ("shop.db.Conflict", grpc.StatusCode.ABORTED, 0),
        ("builtins.KeyError", grpc.StatusCode.NOT_FOUND, 1),
        ("builtins.LookupError", grpc.StatusCode.NOT_FOUND, 2),
    ]
    watch = module.STOCK_POLICY["/gen.svc.v1.Stock/Watch"]
    assert (
        watch.kind == "unary_stream"
        and not watch.auth_required
        and watch.scopes == frozenset()
    )
    assert module.STOCK_POLICY["/gen.svc.v1.Stock/Push"].kind == "stream_unary"
    assert module.STOCK_POLICY["/gen.svc.v1.Stock/Chat"].kind == "stream_stream"
    assert set(module.ERRGEN.methods) == set(module.STOCK_POLICY)


def test_service_config(generated: Path) -> None:
    module = load("gen.svc.v1.stock_errgen")
    config = service_config([module])
    assert config == {
        "methodConfig": [
            {
                "name": [{"service": "gen.svc.v1.Stock", "method": "Get"}],
                "retryPolicy": {
                    "maxAttempts": 4,
                    "initialBackoff": "0.2s",
                    "maxBackoff": "2s",
                    "backoffMultiplier": 1.5,
                    "retryableStatusCodes": ["RESOURCE_EXHAUSTED", "UNAVAILABLE"],
                },
            }
        ]
    }


def test_output_is_black_stable_and_deterministic(
    generated: Path, tmp_path: Path
) -> None:
    again = build(
        tmp_path,
        {"gen/errs/v1/errors.proto": CATALOGUE, "gen/svc/v1/stock.proto": SERVICE},
    )
    for name in ("gen/errs/v1/errors_errgen.py", "gen/svc/v1/stock_errgen.py"):
        source = (generated / name).read_text()
        assert (again / name).read_text() == source
        assert black.format_str(source, mode=black.Mode()) == source


def test_example_is_black_stable() -> None:
    source = (ROOT / "examples" / "shop" / "v1" / "orders_errgen.py").read_text()
    assert black.format_str(source, mode=black.Mode()) == source


CEL_SHORT = """
    syntax = "proto3";
    package gen.celshort.v1;
    import "grpc_errgen/options.proto";
    message M {
      string s = 1 [(errgen.field).cel = {
        id: "a" message: "m"
        expression: "this.startsWith('ab') && this.matches('^a') && this in ['a', 'b', 'c', 'd']"
      }];
    }
    message N {
      option (errgen.message).cel = { id: "c" expression: "this.from != 'x' ? '' : 'bad'" };
      string from = 1;
    }
"""


def test_short_cel_output_is_black_stable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No line is long, so black does not run: CEL's strings, tuples and keyword fields must come out as black
    writes them (double quotes, no trailing comma in a tuple, getattr(m, "from"))."""
    from grpc_errgen.codegen import format as formatting

    def refuse(source: str) -> str:
        raise AssertionError("black was needed:\n" + source)

    monkeypatch.setattr(formatting, "black", refuse)
    out = build(tmp_path, {"gen/celshort/v1/rules.proto": CEL_SHORT})
    source = (out / "gen/celshort/v1/rules_errgen.py").read_text()
    assert black.format_str(source, mode=black.Mode()) == source


def _plugin_env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def _googleapis_include() -> str:
    import google.rpc

    return str(Path(next(iter(google.rpc.__path__))).parent.parent)


def _protoc(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{include_dir()}",
            f"-I{_googleapis_include()}",
            *args,
        ],
        cwd=cwd,
        env=_plugin_env(),
        capture_output=True,
        text=True,
    )


def test_plain_protoc_plugin_matches_cli(tmp_path: Path) -> None:
    done = _protoc(
        "-I.", f"--errgen_out={tmp_path}", "shop/v1/orders.proto", cwd=EXAMPLE_PROTOS
    )
    assert done.returncode == 0, done.stderr
    produced = (tmp_path / "shop" / "v1" / "orders_errgen.py").read_bytes()
    assert (
        produced
        == (ROOT / "examples" / "shop" / "v1" / "orders_errgen.py").read_bytes()
    )


def _write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


BAD_CASES = {
    "unknown error": (
        """
        rpc M(R) returns (R) { option (errgen.method) = { errors: "NOPE" }; }
        """,
        "unknown error 'NOPE'",
    ),
    "ambiguous error": (
        """
        rpc M(R) returns (R) { option (errgen.method) = { errors: "TWICE" }; }
        """,
        "ambiguous error 'TWICE'",
    ),
    "not a dotted name": (
        """
        option (errgen.service) = { map_exceptions: { exception: "KeyError" code: NOT_FOUND } };
        rpc M(R) returns (R);
        """,
        "'KeyError' is not a dotted Python class name",
    ),
    "mapping without code": (
        """
        rpc M(R) returns (R) { option (errgen.method) = { map_exceptions: { exception: "a.B" } }; }
        """,
        "a.B needs an error code",
    ),
    "bad backoff": (
        """
        rpc M(R) returns (R) { option (errgen.method).retry = { initial_backoff: "200ms" }; }
        """,
        "initial_backoff must be a positive duration",
    ),
    "one attempt": (
        """
        rpc M(R) returns (R) { option (errgen.method).retry = { max_attempts: 1 }; }
        """,
        "max_attempts must be at least 2",
    ),
    "backoff order": (
        """
        rpc M(R) returns (R) { option (errgen.method).retry = { initial_backoff: "3s" max_backoff: "1s" }; }
        """,
        "initial_backoff 3s is above max_backoff 1s",
    ),
    "retry on OK": (
        """
        rpc M(R) returns (R) { option (errgen.method).retry = { retryable_codes: OK }; }
        """,
        "retryable_codes cannot hold OK",
    ),
    "bad timeout": (
        """
        rpc M(R) returns (R) { option (errgen.method).timeout = "5 seconds"; }
        """,
        "M: timeout must be a positive duration like \"2.5s\", not '5 seconds'",
    ),
    "zero timeout": (
        """
        rpc M(R) returns (R) { option (errgen.method).timeout = "0s"; }
        """,
        "M: timeout must be a positive duration",
    ),
    "scopes without auth": (
        """
        rpc M(R) returns (R) { option (errgen.method).scopes = "x"; }
        """,
        "scopes need auth_required",
    ),
}

BAD_HEADER = """\
syntax = "proto3";
package bad.v1;
import "grpc_errgen/options.proto";
enum A {
  option (errgen.errors) = { domain: "a" };
  A_UNSPECIFIED = 0;
  TWICE = 1 [(errgen.error).code = NOT_FOUND];
}
message R {}
"""

OTHER_CATALOGUE = """\
syntax = "proto3";
package other.v1;
import "grpc_errgen/options.proto";
enum B {
  option (errgen.errors) = { domain: "b" };
  B_UNSPECIFIED = 0;
  TWICE = 1 [(errgen.error).code = NOT_FOUND];
}
"""


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_diagnostics(case: str, tmp_path: Path) -> None:
    body, expected = BAD_CASES[case]
    header = BAD_HEADER
    if case == "ambiguous error":
        (tmp_path / "other.proto").write_text(OTHER_CATALOGUE)
        header = header.replace(
            'import "grpc_errgen/options.proto";',
            'import "grpc_errgen/options.proto";\nimport "other.proto";',
        )
    text = (
        header
        + "service S {\n"
        + textwrap.indent(textwrap.dedent(body).strip(), "  ")
        + "\n}\n"
    )
    (tmp_path / "bad.proto").write_text(text)
    done = _protoc("-I.", f"--errgen_out={tmp_path / 'out'}", "bad.proto", cwd=tmp_path)
    assert done.returncode != 0
    service_line = text.splitlines().index("service S {") + 1
    line = next(
        (x for x in done.stderr.splitlines() if x.startswith("--errgen_out:")), ""
    )
    assert line.startswith("--errgen_out: bad.proto:"), done.stderr
    location, message = line.removeprefix("--errgen_out: ").split(": ", 1)
    _, row, col = location.split(":")
    assert int(row) > service_line and int(col) >= 1
    assert expected in message
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.py"))


CATALOGUE_PROBLEMS = """
    syntax = "proto3";
    package badcat.v1;
    import "grpc_errgen/options.proto";
    enum E {
      option (errgen.errors) = { domain: "x" };
      E_UNSPECIFIED = 0;
      NO_CODE = 1;
      OK_CODE = 2 [(errgen.error) = { code: OK }];
      FINE = 3 [(errgen.error) = { code: INTERNAL }];
    }
"""


def test_catalogue_diagnostics_point_at_the_value(tmp_path: Path) -> None:
    _write(tmp_path / "protos", "badcat.proto", CATALOGUE_PROBLEMS)
    result = CliRunner().invoke(
        cli, ["generate", str(tmp_path / "protos"), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 1
    assert (
        "badcat.proto:8:3: NO_CODE in error catalogue E has no (errgen.error)"
        in result.output
    )
    assert "badcat.proto:9:" in result.output and "not OK" in result.output
    assert not (tmp_path / "out").exists()


def test_cli_check_lists_stale_and_missing(tmp_path: Path) -> None:
    protos = tmp_path / "protos"
    _write(protos, "chk/v1/c.proto", CATALOGUE.replace("gen.errs.v1", "chk.v1"))
    out = tmp_path / "out"
    runner = CliRunner()
    assert (
        runner.invoke(cli, ["generate", str(protos), "--out", str(out)]).exit_code == 0
    )
    fresh = runner.invoke(cli, ["generate", str(protos), "--out", str(out), "--check"])
    assert fresh.exit_code == 0, fresh.output
    target = out / "chk" / "v1" / "c_errgen.py"
    target.write_text(target.read_text() + "# edited by hand\n")
    (out / "chk" / "v1" / "c_pb2.py").unlink()
    stale = runner.invoke(cli, ["generate", str(protos), "--out", str(out), "--check"])
    assert stale.exit_code == 1
    assert "c_errgen.py" in stale.output and "c_pb2.py" in stale.output
    assert "edited by hand" in target.read_text()  # --check writes nothing


def test_cli_defaults_from_pyproject(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(
        tmp_path,
        "src/protos/cfg/v1/c.proto",
        CATALOGUE.replace("gen.errs.v1", "cfg.v1"),
    )
    (tmp_path / "pyproject.toml").write_text(
        '[tool.grpc-errgen]\npaths = ["src/protos"]\nout = "gen"\n'
    )
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    result = CliRunner().invoke(cli, ["generate"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "gen" / "cfg" / "v1" / "c_errgen.py").is_file()
    assert (tmp_path / "gen" / "cfg" / "v1" / "c_pb2_grpc.py").is_file()


def test_files_without_options_get_no_errgen_module(tmp_path: Path) -> None:
    out = build(
        tmp_path,
        {
            "plain/v1/p.proto": 'syntax = "proto3";\npackage plain.v1;\nmessage M { string a = 1; }\n'
        },
    )
    assert (out / "plain" / "v1" / "p_pb2.py").is_file()
    assert not (out / "plain" / "v1" / "p_errgen.py").exists()


def test_googleapis_protos_generate(tmp_path: Path) -> None:
    source = Path(_googleapis_include())
    protos = tmp_path / "protos"
    for name in (
        "google/rpc/status.proto",
        "google/rpc/error_details.proto",
        "google/type/money.proto",
    ):
        target = protos / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source / name, target)
    result = CliRunner().invoke(
        cli, ["generate", str(protos), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "google" / "rpc" / "error_details_pb2.py").is_file()
    assert not list((tmp_path / "out").rglob("*_errgen.py"))


SYNTAXES = {
    "proto2": 'syntax = "proto2";\npackage syn.p2;\n',
    "proto3_optional": 'syntax = "proto3";\npackage syn.p3;\n',
    "edition_2023": 'edition = "2023";\npackage syn.ed;\n',
}


@pytest.mark.parametrize("syntax", sorted(SYNTAXES))
def test_syntaxes_and_editions(syntax: str, tmp_path: Path) -> None:
    label = "optional " if syntax != "edition_2023" else ""
    text = (
        SYNTAXES[syntax]
        + 'import "grpc_errgen/options.proto";\n'
        + 'enum Err {\n  option (errgen.errors) = { domain: "syn" };\n  ERR_UNSPECIFIED = 0;\n'
        + "  GONE = 1 [(errgen.error).code = NOT_FOUND];\n}\n"
        + f"message M {{ {label}string a = 1; }}\n"
        + "service S { option (errgen.service).auth_required = true; rpc Get(M) returns (M); }\n"
    )
    package = SYNTAXES[syntax].splitlines()[1].split()[1].rstrip(";")
    name = package.replace(".", "/") + "/f.proto"
    build(tmp_path, {name: text})
    module = load(package + ".f_errgen")
    assert module.ERRGEN.methods[f"/{package}.S/Get"].auth_required
    assert module.Gone.status_code is grpc.StatusCode.NOT_FOUND


def test_unknown_plugin_parameter_is_refused(tmp_path: Path) -> None:
    done = _protoc(
        "-I.",
        "--errgen_opt=bogus=1",
        f"--errgen_out={tmp_path}",
        "shop/v1/orders.proto",
        cwd=EXAMPLE_PROTOS,
    )
    assert done.returncode != 0
    assert "unknown parameter 'bogus=1'" in done.stderr


def test_buf_generate_with_local_plugin(tmp_path: Path) -> None:
    buf = shutil.which("buf", path=str(BIN))
    if buf is None:
        pytest.skip("buf-bin is not installed (pip install buf-bin)")
    module = tmp_path / "proto"
    shutil.copytree(EXAMPLE_PROTOS / "shop", module / "shop")
    shutil.copytree(include_dir() / "grpc_errgen", module / "grpc_errgen")
    (module / "google" / "rpc").mkdir(parents=True)
    shutil.copy(
        Path(_googleapis_include()) / "google" / "rpc" / "code.proto",
        module / "google" / "rpc",
    )
    (tmp_path / "buf.yaml").write_text("version: v2\nmodules:\n  - path: proto\n")
    (tmp_path / "buf.gen.yaml").write_text(
        "version: v2\nplugins:\n  - local: protoc-gen-errgen\n    out: gen\n    strategy: all\n"
    )
    done = subprocess.run(
        [buf, "generate"],
        cwd=tmp_path,
        env=_plugin_env(),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    produced = sorted(
        p.relative_to(tmp_path / "gen").as_posix()
        for p in (tmp_path / "gen").rglob("*.py")
    )
    assert produced == [
        "shop/v1/orders_errgen.py"
    ]  # options.proto and google/rpc/code.proto produce nothing
    expected = (ROOT / "examples" / "shop" / "v1" / "orders_errgen.py").read_bytes()
    assert (
        tmp_path / "gen" / "shop" / "v1" / "orders_errgen.py"
    ).read_bytes() == expected


def test_status_classes_cover_every_error_code() -> None:
    for code in grpc.StatusCode:
        if code is not grpc.StatusCode.OK:
            assert errors.for_code(code).status_code is code


def test_file_argument_takes_its_import_root_from_includes(tmp_path: Path) -> None:
    protos = tmp_path / "protos"
    _write(protos, "inc/v1/a.proto", CATALOGUE.replace("gen.errs.v1", "inc.v1"))
    _write(
        protos,
        "inc/v1/b.proto",
        """
        syntax = "proto3";
        package inc.v1;
        import "inc/v1/a.proto";
        import "grpc_errgen/options.proto";
        message R {}
        service S { rpc M(R) returns (R) { option (errgen.method).errors = "SKU_UNKNOWN"; } }
        """,
    )
    out = tmp_path / "out"
    args = ["generate", str(protos / "inc" / "v1" / "b.proto"), "-I", str(protos)]
    result = CliRunner().invoke(cli, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "inc" / "v1" / "b_errgen.py").is_file()
    assert "import inc.v1.a_errgen" in (out / "inc" / "v1" / "b_errgen.py").read_text()


def test_policies_carry_response_classes_of_any_file(tmp_path: Path) -> None:
    """The response class comes from the _pb2 module of the file that declares it: this one (nested too), an
    imported user file, or a well-known type."""
    build(
        tmp_path,
        {
            "gen/resp/v1/shared.proto": """
                syntax = "proto3";
                package gen.resp.v1;
                message Shared { string id = 1; }
            """,
            "gen/resp/v1/svc.proto": """
                syntax = "proto3";
                package gen.resp.v1;
                import "google/protobuf/empty.proto";
                import "gen/resp/v1/shared.proto";
                import "grpc_errgen/options.proto";
                message Outer { message Inner { int32 n = 1; } }
                service Resp {
                  option (errgen.service) = {};
                  rpc Ping(Outer) returns (google.protobuf.Empty);
                  rpc Fetch(Outer) returns (Shared);
                  rpc List(Outer) returns (stream Outer.Inner);
                }
            """,
        },
    )
    errgen = load("gen.resp.v1.svc_errgen")
    policies = errgen.RESP_POLICY
    assert policies["/gen.resp.v1.Resp/Ping"].response_class is empty_pb2.Empty
    assert (
        policies["/gen.resp.v1.Resp/Fetch"].response_class
        is load("gen.resp.v1.shared_pb2").Shared
    )
    assert (
        policies["/gen.resp.v1.Resp/List"].response_class
        is load("gen.resp.v1.svc_pb2").Outer.Inner
    )


def test_response_classes_of_files_whose_paths_give_the_same_alias(
    tmp_path: Path,
) -> None:
    """``a_b/item.proto`` and ``a/b_item.proto`` both read as ``_..._a_b_item_pb2``: each keeps its own
    alias, so each rpc's response class is its own (not the other file's, nor a module that fails to
    import)."""
    build(
        tmp_path,
        {
            "gen/alias/v1/a_b/item.proto": """
                syntax = "proto3";
                package gen.alias.v1.ab;
                message Item { string x = 1; }
            """,
            "gen/alias/v1/a/b_item.proto": """
                syntax = "proto3";
                package gen.alias.v1.a;
                message Item { string y = 1; }
            """,
            "gen/alias/v1/svc.proto": """
                syntax = "proto3";
                package gen.alias.v1;
                import "gen/alias/v1/a_b/item.proto";
                import "gen/alias/v1/a/b_item.proto";
                message Req {}
                service Alias {
                  rpc First(Req) returns (gen.alias.v1.ab.Item);
                  rpc Second(Req) returns (gen.alias.v1.a.Item);
                }
            """,
        },
    )
    policies = load("gen.alias.v1.svc_errgen").ALIAS_POLICY
    assert (
        policies["/gen.alias.v1.Alias/First"].response_class
        is load("gen.alias.v1.a_b.item_pb2").Item
    )
    assert (
        policies["/gen.alias.v1.Alias/Second"].response_class
        is load("gen.alias.v1.a.b_item_pb2").Item
    )


def test_errgen_modules_of_files_whose_paths_give_the_same_alias(
    tmp_path: Path,
) -> None:
    """``a_b/x.proto`` and ``a/b_x.proto`` both read as ``_..._a_b_x_errgen``: a file using the errors and the
    validators of both imports each module under its own alias, so each name resolves in its own module (the
    same catalogue, value and message names in both, so a wrong module would not even fail to import).
    """

    def declaring(package: str, domain: str, rule: str) -> str:
        return f"""
            syntax = "proto3";
            package {package};
            import "grpc_errgen/options.proto";
            enum Errs {{
              option (errgen.errors) = {{ domain: "{domain}" }};
              ERRS_UNSPECIFIED = 0;
              GONE = 1 [(errgen.error) = {{ code: NOT_FOUND }}];
            }}
            message Item {{ string s = 1 [(errgen.field).string = {{ {rule} }}]; }}
        """

    out = build(
        tmp_path,
        {
            "gen/dalias/v1/a_b/x.proto": declaring(
                "gen.dalias.v1.ab", "ab.example", "min_len: 1"
            ),
            "gen/dalias/v1/a/b_x.proto": declaring(
                "gen.dalias.v1.a", "a.example", "max_len: 1"
            ),
            "gen/dalias/v1/svc.proto": """
                syntax = "proto3";
                package gen.dalias.v1;
                import "grpc_errgen/options.proto";
                import "gen/dalias/v1/a_b/x.proto";
                import "gen/dalias/v1/a/b_x.proto";
                message Req {
                  gen.dalias.v1.ab.Item first = 1;
                  gen.dalias.v1.a.Item second = 2;
                }
                message Resp {}
                service Svc {
                  rpc Both(Req) returns (Resp) {
                    option (errgen.method) = {
                      errors: ["gen.dalias.v1.ab.Errs.GONE", "gen.dalias.v1.a.Errs.GONE"]
                    };
                  }
                  rpc First(gen.dalias.v1.ab.Item) returns (Resp);
                  rpc Second(gen.dalias.v1.a.Item) returns (Resp);
                }
            """,
        },
    )
    ab = load("gen.dalias.v1.a_b.x_errgen")
    a = load("gen.dalias.v1.a.b_x_errgen")
    svc = load("gen.dalias.v1.svc_errgen")
    source = (out / "gen" / "dalias" / "v1" / "svc_errgen.py").read_text()
    imports = [
        line.split() for line in source.splitlines() if line.startswith("import ")
    ]
    aliases = {words[3]: words[1] for words in imports}
    assert len(aliases) == len(imports)
    for alias, module in aliases.items():
        assert getattr(svc, alias) is sys.modules[module], alias
    policies = svc.SVC_POLICY
    assert policies["/gen.dalias.v1.Svc/Both"].errors == (ab.Gone, a.Gone)
    assert policies["/gen.dalias.v1.Svc/First"].validator is ab.validate_Item
    assert policies["/gen.dalias.v1.Svc/Second"].validator is a.validate_Item
    svc_pb2 = load("gen.dalias.v1.svc_pb2")
    bad = svc_pb2.Req(first={"s": ""}, second={"s": "long"})
    assert [(v.field, v.rule) for v in svc.validate_Req(bad)] == [
        ("first.s", "string.min_len"),
        ("second.s", "string.max_len"),
    ]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--explicit-package-bases",
            "--no-error-summary",
            "gen/dalias/v1/svc_errgen.py",
        ],
        cwd=out,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout


def test_three_paths_that_read_the_same_alias_get_three_aliases() -> None:
    """The rule behind both tests above, for more than two files; a path that reads alone keeps its alias."""
    protos = ["a_b/c_x.proto", "a/b_c_x.proto", "a_b_c/x.proto", "other.proto"]
    assert names.dependency_aliases(protos) == {
        "a/b_c_x.proto": "_a_b_c_x_errgen",
        "a_b/c_x.proto": "_a_b_c_x_errgen_2",
        "a_b_c/x.proto": "_a_b_c_x_errgen_3",
        "other.proto": "_other_errgen",
    }
    assert names.pb2_aliases(protos, "other.proto") == {
        "a/b_c_x.proto": "_a_b_c_x_pb2",
        "a_b/c_x.proto": "_a_b_c_x_pb2_2",
        "a_b_c/x.proto": "_a_b_c_x_pb2_3",
        "other.proto": "_pb2",
    }
