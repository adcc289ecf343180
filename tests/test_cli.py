"""``grpc-errgen generate / include``: failures are one clear line, writing is all or nothing, ``--check`` lists
stale, missing and orphaned files, a file named alone brings its imports along (SPEC 4).

Failures are checked through the installed console script in a subprocess: what a user sees, tracebacks included.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
EXAMPLE_PROTOS = ROOT / "examples" / "protos"

CATALOGUE = """
    syntax = "proto3";
    package {package};
    import "grpc_errgen/options.proto";
    enum StockError {{
      option (errgen.errors) = {{ domain: "stock.example" }};
      STOCK_ERROR_UNSPECIFIED = 0;
      SKU_UNKNOWN = 1 [(errgen.error) = {{ code: NOT_FOUND message: "unknown sku" }}];
    }}
    message Sku {{ string id = 1 [(errgen.field).string.min_len = 1]; }}
"""

SERVICE = """
    syntax = "proto3";
    package {package};
    import "grpc_errgen/options.proto";
    import "{dependency}";
    service Stock {{
      rpc Get(Sku) returns (Sku) {{ option (errgen.method).errors = "SKU_UNKNOWN"; }}
    }}
"""


def _write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def _project(tmp_path: Path, package: str) -> Path:
    """protos/<package>/{a,b}.proto under tmp_path: b.proto's service uses a.proto's catalogue and message."""
    protos = tmp_path / "protos"
    folder = package.replace(".", "/")
    _write(protos, f"{folder}/a.proto", CATALOGUE.format(package=package))
    _write(
        protos,
        f"{folder}/b.proto",
        SERVICE.format(package=package, dependency=f"{folder}/a.proto"),
    )
    return protos


def errgen(
    *args: str | Path, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "grpc-errgen"), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "GRPC_ERRGEN_TRACEBACK": ""},
    )


def _fails_in_one_line(done: subprocess.CompletedProcess[str], *texts: str) -> None:
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    assert done.stderr.count("\n") == 1, done.stderr
    for text in texts:
        assert text in done.stderr, done.stderr


def _tree(root: Path) -> dict[str, bytes]:
    """Every file under root with its bytes, and every directory (as None-like empty marker)."""
    if not root.exists():
        return {}
    return {
        path.relative_to(root).as_posix()
        + ("/" if path.is_dir() else ""): (b"" if path.is_dir() else path.read_bytes())
        for path in root.rglob("*")
    }


# -- failures are one line ---------------------------------------------------------------------------------------


def test_out_is_a_regular_file(tmp_path: Path) -> None:
    protos = _project(tmp_path, "cli.outfile.v1")
    (tmp_path / "taken").write_text("a file")
    done = errgen("generate", protos, "--out", tmp_path / "taken")
    _fails_in_one_line(done, "--out", "taken: not a directory")
    assert (tmp_path / "taken").read_text() == "a file"


def test_out_below_a_regular_file(tmp_path: Path) -> None:
    protos = _project(tmp_path, "cli.below.v1")
    (tmp_path / "taken").write_text("a file")
    done = errgen("generate", protos, "--out", tmp_path / "taken" / "gen")
    _fails_in_one_line(done, "taken", "nothing was written")


def _without_root_file_powers() -> None:
    """Run in the child before exec: as root, drop the capabilities that let root write through file
    permissions (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH) from the bounding set, so that the program run
    afterwards is held to the permission bits like any user. Any other user has them not to begin with.
    """
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_out_not_writable(tmp_path: Path) -> None:
    """A directory the user may not write in; as root too (CI runs as root)."""
    protos = _project(tmp_path, "cli.readonly.v1")
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o500)
    try:
        done = subprocess.run(
            [str(BIN / "grpc-errgen"), "generate", str(protos), "--out", str(out)],
            capture_output=True,
            text=True,
            env={**os.environ, "GRPC_ERRGEN_TRACEBACK": ""},
            preexec_fn=_without_root_file_powers,
        )
    finally:
        out.chmod(0o700)
    _fails_in_one_line(done, "Permission denied", "nothing was written")
    assert not any(out.iterdir())


def test_out_not_writable_proc(tmp_path: Path) -> None:
    """A directory nobody can create files in, root included: /proc."""
    protos = _project(tmp_path, "cli.proc.v1")
    done = errgen("generate", protos, "--out", "/proc/self")
    _fails_in_one_line(done, "/proc/self/cli", "nothing was written")


def test_a_syntax_error_is_protocs_message(tmp_path: Path) -> None:
    """protoc's own message with the file, line and column; nothing written."""
    protos = _project(tmp_path, "cli.syntax.v1")
    broken = protos / "cli" / "syntax" / "v1" / "b.proto"
    broken.write_text(broken.read_text().replace("returns (Sku)", "returns Sku"))
    done = errgen("generate", protos, "--out", tmp_path / "out")
    _fails_in_one_line(done, f"{broken}:7:", 'Expected "(".')
    assert not (tmp_path / "out").exists()


def test_missing_path(tmp_path: Path) -> None:
    done = errgen("generate", tmp_path / "nowhere", "--out", tmp_path / "out")
    _fails_in_one_line(done, "nowhere: not a .proto file or a directory")
    assert done.stderr.startswith(
        "grpc-errgen: "
    ), done.stderr  # not a proto diagnostic


def test_missing_include(tmp_path: Path) -> None:
    protos = _project(tmp_path, "cli.inc.v1")
    done = errgen(
        "generate", protos, "-I", tmp_path / "nowhere", "--out", tmp_path / "out"
    )
    _fails_in_one_line(done, "nowhere: include directory not found")
    assert done.stderr.startswith("grpc-errgen: "), done.stderr


@pytest.mark.parametrize(
    "toml, texts",
    [
        pytest.param(
            "[tool.grpc-errgen\npaths = 1\n",
            ["pyproject.toml: not valid TOML", "line 1"],
            id="malformed",
        ),
        pytest.param(
            '[tool.grpc-errgen]\npaths = "protos"\n',
            ["paths must be a list of strings", "not the string 'protos'"],
            id="paths-string",
        ),
        pytest.param(
            '[tool.grpc-errgen]\npaths = ["protos", 3]\n',
            ["paths must be a list of strings"],
            id="paths-not-strings",
        ),
        pytest.param(
            '[tool.grpc-errgen]\npaths = ["protos"]\nout = ["gen"]\n',
            ["out must be a string"],
            id="out-list",
        ),
        pytest.param(
            '[tool.grpc-errgen]\npaths = ["protos"]\nincludes = "third_party"\n',
            ["includes must be a list of strings"],
            id="includes-string",
        ),
        pytest.param(
            '[tool.grpc-errgen]\npaths = ["protos"]\noutput = "gen"\n',
            ["unknown key(s) output"],
            id="unknown-key",
        ),
        pytest.param(
            '[tool]\ngrpc-errgen = "protos"\n',
            ["tool.grpc-errgen must be a table"],
            id="not-a-table",
        ),
    ],
)
def test_bad_pyproject(tmp_path: Path, toml: str, texts: list[str]) -> None:
    _project(tmp_path, "cli.toml.v1")
    (tmp_path / "pyproject.toml").write_text(toml)
    done = errgen("generate", cwd=tmp_path)
    _fails_in_one_line(done, str(tmp_path / "pyproject.toml"), *texts)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["protos", "pyproject.toml"]


def test_a_diagnostic_writes_nothing(tmp_path: Path) -> None:
    protos = _project(tmp_path, "cli.diag.v1")
    broken = protos / "cli" / "diag" / "v1" / "b.proto"
    broken.write_text(broken.read_text().replace("SKU_UNKNOWN", "NO_SUCH_ERROR"))
    done = errgen("generate", protos, "--out", tmp_path / "out")
    _fails_in_one_line(done, "cli/diag/v1/b.proto:7:32: Get: unknown error")
    assert not (tmp_path / "out").exists()


# -- all or nothing ----------------------------------------------------------------------------------------------


def test_writing_is_all_or_nothing(tmp_path: Path) -> None:
    protos = _project(tmp_path, "cli.atomic.v1")
    out = tmp_path / "out"
    assert errgen("generate", protos, "--out", out).returncode == 0
    folder = out / "cli" / "atomic" / "v1"
    # Every file changes (a new comment in both protos), a new file appears in a new directory, and the last
    # file to be renamed into place is blocked by a directory.
    for proto in (protos / "cli" / "atomic" / "v1").iterdir():
        proto.write_text(proto.read_text().replace("syntax", "// v2\nsyntax", 1))
    _write(protos, "cli/atomic/v2/c.proto", CATALOGUE.format(package="cli.atomic.v2"))
    last = sorted(p for p in folder.iterdir() if p.name.startswith("b_"))[-1]
    last.unlink()
    last.mkdir()
    (last / "keep").write_text("blocks the path")
    before = _tree(out)
    done = errgen("generate", protos, "--out", out)
    _fails_in_one_line(done, str(last), "nothing was written")
    assert (
        _tree(out) == before
    )  # no file changed, no temporary file or new directory left behind


def test_unchanged_files_are_not_rewritten(tmp_path: Path) -> None:
    protos = _project(tmp_path, "cli.mtime.v1")
    out = tmp_path / "out"
    assert errgen("generate", protos, "--out", out).returncode == 0
    inodes = {p: p.stat().st_ino for p in out.rglob("*.py")}
    done = errgen("generate", protos, "--out", out)
    assert done.returncode == 0 and "wrote 0 of 10 file(s)" in done.stdout
    assert {p: p.stat().st_ino for p in out.rglob("*.py")} == inodes


# -- --check, orphans, --prune -------------------------------------------------------------------------------------


def test_check_lists_stale_missing_and_orphaned(tmp_path: Path) -> None:
    protos = _project(tmp_path, "cli.check.v1")
    _write(protos, "cli/check/v1/old.proto", CATALOGUE.format(package="cli.check.old"))
    out = tmp_path / "out"
    assert errgen("generate", protos, "--out", out).returncode == 0
    fresh = errgen("generate", protos, "--out", out, "--check")
    assert fresh.returncode == 0, fresh.stderr
    folder = out / "cli" / "check" / "v1"
    (folder / "a_errgen.py").write_text("# edited by hand\n")
    (folder / "b_pb2.py").unlink()
    (protos / "cli" / "check" / "v1" / "old.proto").unlink()
    (folder / "notes_pb2.py").write_text("# hand-written, not generated\n")
    done = errgen("generate", protos, "--out", out, "--check")
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        f"stale: {folder / 'a_errgen.py'}",
        f"missing: {folder / 'b_pb2.py'}",
        *(
            f"orphaned: {folder / name}"
            for name in (
                "old_errgen.py",
                "old_pb2.py",
                "old_pb2.pyi",
                "old_pb2_grpc.py",
                "old_pb2_grpc.pyi",
            )
        ),
    ]
    assert "7 generated file(s) out of date: run `grpc-errgen generate --prune`" in (
        done.stderr
    )
    assert (
        folder / "a_errgen.py"
    ).read_text() == "# edited by hand\n"  # nothing written
    # generate without --prune writes and names the orphans; --prune deletes them (and only them)
    kept = errgen("generate", protos, "--out", out)
    assert kept.returncode == 0 and "--prune deletes it" in kept.stderr
    assert (folder / "old_pb2.py").is_file()
    pruned = errgen("generate", protos, "--out", out, "--prune")
    assert pruned.returncode == 0, pruned.stderr
    assert not list(folder.glob("old_*"))
    assert (folder / "notes_pb2.py").is_file()
    assert errgen("generate", protos, "--out", out, "--check").returncode == 0


def test_orphans_in_a_removed_package(tmp_path: Path) -> None:
    protos = _project(tmp_path, "cli.gone.v1")
    _write(protos, "cli/gone/v2/c.proto", CATALOGUE.format(package="cli.gone.v2"))
    out = tmp_path / "out"
    assert errgen("generate", protos, "--out", out).returncode == 0
    shutil.rmtree(protos / "cli" / "gone" / "v2")
    done = errgen("generate", protos, "--out", out, "--check")
    assert done.returncode == 1
    assert f"orphaned: {out / 'cli/gone/v2/c_pb2.py'}" in done.stdout.splitlines()


# -- imports come along ---------------------------------------------------------------------------------------------


def test_a_named_file_brings_its_imports(tmp_path: Path) -> None:
    protos = _project(tmp_path, "cli.along.v1")
    out = tmp_path / "out"
    done = errgen(
        "generate",
        protos / "cli" / "along" / "v1" / "b.proto",
        "-I",
        protos,
        "--out",
        out,
    )
    assert done.returncode == 0, done.stderr
    produced = sorted(p.name for p in (out / "cli" / "along" / "v1").iterdir())
    assert [p for p in produced if p.startswith("a_")] == [
        "a_errgen.py",
        "a_pb2.py",
        "a_pb2.pyi",
        "a_pb2_grpc.py",
        "a_pb2_grpc.pyi",
    ]
    imported = subprocess.run(
        [
            sys.executable,
            "-c",
            "import cli.along.v1.b_errgen as m; print(m.ERRGEN.proto)",
        ],
        cwd=out,
        capture_output=True,
        text=True,
    )
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == "cli/along/v1/b.proto"


def test_vendored_options_proto_does_not_come_along(tmp_path: Path) -> None:
    """A copy of grpc_errgen/options.proto in the project's root (as buf modules vendor it) is ours, not theirs."""
    from grpc_errgen.codegen.resources import include_dir

    protos = _project(tmp_path, "cli.vendored.v1")
    _write(
        protos,
        "grpc_errgen/options.proto",
        (include_dir() / "grpc_errgen" / "options.proto").read_text(),
    )
    out = tmp_path / "out"
    named = protos / "cli" / "vendored" / "v1" / "b.proto"
    done = errgen("generate", named, "-I", protos, "--out", out)
    assert done.returncode == 0, done.stderr
    assert not (out / "grpc_errgen").exists()
    assert (out / "cli" / "vendored" / "v1" / "a_errgen.py").is_file()


def test_imports_from_other_roots_do_not_come_along(tmp_path: Path) -> None:
    """Only the named file's own root: a third-party -I directory is imported from, never generated."""
    third = tmp_path / "third_party"
    _write(third, "vendor/v1/a.proto", CATALOGUE.format(package="vendor.v1"))
    protos = tmp_path / "protos"
    _write(
        protos,
        "mine/v1/b.proto",
        SERVICE.format(package="vendor.v1", dependency="vendor/v1/a.proto"),
    )
    out = tmp_path / "out"
    done = errgen("generate", protos, "-I", third, "--out", out)
    assert done.returncode == 0, done.stderr
    assert not (out / "vendor").exists()
    assert (out / "mine" / "v1" / "b_errgen.py").is_file()


# -- include and the README's protoc one-liner --------------------------------------------------------------------


def test_include_gives_protoc_everything_options_proto_imports() -> None:
    done = errgen("include")
    assert done.returncode == 0
    directories = [Path(d) for d in done.stdout.strip().split(os.pathsep)]
    for needed in ("grpc_errgen/options.proto", "google/rpc/code.proto"):
        assert any((d / needed).is_file() for d in directories), needed


def _readme_protoc_command() -> str:
    commands = [
        line.strip()
        for line in (ROOT / "README.md").read_text().splitlines()
        if line.strip().startswith("python -m grpc_tools.protoc ")
    ]
    assert len(commands) == 1, commands
    return commands[0]


def test_readme_protoc_command_works_as_printed(tmp_path: Path) -> None:
    command = _readme_protoc_command()
    assert re.search(r'-I "\$\(grpc-errgen include\)"', command)
    shutil.copytree(EXAMPLE_PROTOS, tmp_path / "protos")
    (tmp_path / "src").mkdir()
    done = subprocess.run(
        ["bash", "-c", command],
        cwd=tmp_path,
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    for name in ("orders_errgen.py", "orders_pb2.py", "orders_pb2_grpc.py"):
        produced = tmp_path / "src" / "shop" / "v1" / name
        assert (
            produced.read_bytes()
            == (ROOT / "examples" / "shop" / "v1" / name).read_bytes()
        ), name


# -- option content this generator does not know -------------------------------------------------------------------


def _newer_options(root: Path) -> None:
    """A grpc_errgen/options.proto from the future: one more string rule, one more method option."""
    from grpc_errgen.codegen.resources import include_dir

    text = (include_dir() / "grpc_errgen" / "options.proto").read_text()
    text = text.replace(
        "message StringRules {\n",
        "message StringRules {\n  optional bool is_future_format = 9001;\n",
    )
    text = text.replace(
        "message MethodRules {\n",
        "message MethodRules {\n  optional string rate_limit = 9002;\n",
    )
    _write(root, "grpc_errgen/options.proto", text)


def test_unknown_option_fields_are_errors(tmp_path: Path) -> None:
    newer = tmp_path / "newer"
    _newer_options(newer)
    protos = tmp_path / "protos"
    _write(
        protos,
        "cli/future/v1/f.proto",
        """
        syntax = "proto3";
        package cli.future.v1;
        import "grpc_errgen/options.proto";
        message Req {
          string id = 1 [(errgen.field).string = { min_len: 1 is_future_format: true }];
          string only_future = 2 [(errgen.field).string.is_future_format = true];
        }
        service S {
          rpc Get(Req) returns (Req) { option (errgen.method) = { rate_limit: "5/s" }; }
        }
        """,
    )
    out = tmp_path / "out"
    done = errgen("generate", protos, "-I", newer, "--out", out)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        "cli/future/v1/f.proto:6:18: unknown option field 9001 in (errgen.field).string: "
        "written for a newer grpc_errgen/options.proto? This grpc-errgen cannot apply it and will not "
        "ignore it (upgrade grpc-errgen)",
        "cli/future/v1/f.proto:7:27: unknown option field 9001 in (errgen.field).string: "
        "written for a newer grpc_errgen/options.proto? This grpc-errgen cannot apply it and will not "
        "ignore it (upgrade grpc-errgen)",
        "cli/future/v1/f.proto:10:32: unknown option field 9002 in (errgen.method): "
        "written for a newer grpc_errgen/options.proto? This grpc-errgen cannot apply it and will not "
        "ignore it (upgrade grpc-errgen)",
    ]
    assert not out.exists()
