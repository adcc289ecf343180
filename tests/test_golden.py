"""Golden corpus: tests/golden/<case>/protos -> the expected ``_errgen.py`` files in tests/golden/<case>/expected.

The cases together cover every option and every rule kind. A change to the generator's output shows up here as a
diff to review; to accept it, regenerate with ``GRPC_ERRGEN_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py``.
The expected files are also checked to be black-stable and to pass ``mypy --strict`` against mypy-protobuf stubs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import black
import pytest

from grpc_errgen.codegen.protoc import compile_protos, write

GOLDEN = Path(__file__).resolve().parent / "golden"
CASES = sorted(path.name for path in GOLDEN.iterdir() if (path / "protos").is_dir())
UPDATE = os.environ.get("GRPC_ERRGEN_UPDATE_GOLDEN") == "1"


def _generated(case: str) -> dict[str, bytes]:
    result = compile_protos([GOLDEN / case / "protos"])
    return {
        name: content
        for name, content in result.files.items()
        if name.endswith("_errgen.py")
    }


@pytest.mark.parametrize("case", CASES)
def test_golden_output(case: str) -> None:
    produced = _generated(case)
    expected_dir = GOLDEN / case / "expected"
    if UPDATE:
        for stale in expected_dir.rglob("*_errgen.py"):
            stale.unlink()
        for name, content in produced.items():
            (expected_dir / name).parent.mkdir(parents=True, exist_ok=True)
            (expected_dir / name).write_bytes(content)
    expected = {
        path.relative_to(expected_dir).as_posix(): path.read_bytes()
        for path in expected_dir.rglob("*_errgen.py")
    }
    assert sorted(produced) == sorted(expected)
    for name, content in produced.items():
        assert content.decode() == expected[name].decode(), name


def test_golden_cases_cover_every_case_directory() -> None:
    assert CASES == ["cel", "hostile", "rules", "services"]


@pytest.mark.parametrize("case", CASES)
def test_golden_output_is_black_stable_and_mypy_clean(
    case: str, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    write(compile_protos([GOLDEN / case / "protos"]), out)
    modules = sorted(out.rglob("*_errgen.py"))
    assert modules
    for module in modules:
        source = module.read_text()
        assert (
            black.format_str(source, mode=black.Mode(line_length=88)) == source
        ), module
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--explicit-package-bases",
            "--no-error-summary",
            *map(str, modules),
        ],
        cwd=out,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout


def test_templates_need_no_black_for_the_corpus_the_example_and_the_bench(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Black is only a safety net: the corpus, the example and the benchmark's tree come out black-stable by
    construction (running black on every file would cost more than the rest of a run).
    """
    import importlib.util

    from grpc_errgen.codegen import format as formatting

    def refuse(source: str) -> str:
        raise AssertionError("black was needed:\n" + source)

    monkeypatch.setattr(formatting, "black", refuse)
    spec = importlib.util.spec_from_file_location(
        "bench_generate", GOLDEN.parent.parent / "bench" / "bench_generate.py"
    )
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    # CEL expressions compile to arbitrary nested Python: files with CEL rules go through black.
    trees = [GOLDEN / case / "protos" for case in CASES if case != "cel"]
    trees += [
        GOLDEN.parent.parent / "examples" / "protos",
        bench.make_tree(tmp_path, 2),
    ]
    for tree in trees:
        assert compile_protos([tree]).files
