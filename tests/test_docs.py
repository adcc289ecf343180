"""Every fenced block in README.md and docs/*.md is executed or checked here, so the docs work as printed.

A block's language says what happens to it:

| block | what the test does |
|---|---|
| ``python`` | run, in order, in one fresh interpreter per document (``tests/docs_runner.py``), inside one event loop |
| ``sh`` | run with ``bash -eu`` in a temporary project whose ``protos/`` is a copy of the bundled example's |
| ``proto`` | generated with ``grpc-errgen generate``; see ``complete_proto`` for what a fragment gets around it |
| ``toml`` | parsed; a ``[tool.grpc-errgen]`` table drives ``grpc-errgen generate`` in a temporary project |
| ``json`` | parsed |
| ``text`` | nothing (diagrams); output examples are ``generated`` blocks instead (below) |

An HTML comment on the line before a block changes that, visibly in the document's source:

- ``<!-- snippet: fragment: WHY -->``: only compiled (python ``compile``, sh ``bash -n``; proto, go and java
  not at all); go and java blocks, which no toolchain here can build, must carry it. Keep these few.
- ``<!-- snippet: generated NAME -->``: the block is what ``scripts/doc_examples.py`` prints for NAME from real
  calls (``python scripts/doc_examples.py --write`` updates the documents).

A block without a known language, or with an unknown marker, fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from sybil import Document
from sybil.parsers.markdown.lexers import FencedCodeBlockLexer

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARKER = re.compile(
    r"<!-- snippet: (?P<kind>fragment|generated)\b:?\s*(?P<arg>.*?) -->\n\Z"
)
LANGUAGES = {"python", "sh", "proto", "toml", "json", "text", "go", "java"}
BIN = Path(sys.executable).parent
#: Documents whose python snippets may use ``docs_runner.GIVENS`` (``target``, ``token``...); each says so.
WITH_GIVENS = {"docs/runtime.md", "docs/wire.md", "docs/migration.md"}

sys.path.insert(0, str(ROOT / "scripts"))

import doc_examples  # noqa: E402


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the block's first source line
    language: str
    source: str
    marker: str | None  # "fragment" / "generated"
    marker_arg: str

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}:{self.language}"


@cache
def blocks_of(path: Path) -> tuple[Block, ...]:
    text = path.read_text()
    document = Document(text, str(path))
    lexer = FencedCodeBlockLexer(
        language=r"[\w-]*", mapping={"language": "language", "source": "source"}
    )
    blocks = []
    for region in lexer(document):
        before = text[: region.start]
        last_line = before[before.rstrip("\n").rfind("\n") + 1 :] if before else ""
        comment = MARKER.match(last_line)
        if last_line.startswith("<!-- snippet") and comment is None:
            raise AssertionError(f"{path}: unknown marker {last_line.strip()!r}")
        blocks.append(
            Block(
                path=path,
                line=text.count("\n", 0, region.start) + 2,
                language=region.lexemes["language"],
                source=str(region.lexemes["source"]),
                marker=comment["kind"] if comment else None,
                marker_arg=comment["arg"] if comment else "",
            )
        )
    return tuple(blocks)


ALL_BLOCKS = [block for path in DOCUMENTS for block in blocks_of(path)]


def _blocks(*languages: str) -> list[pytest.ParameterSet]:
    return [pytest.param(b, id=b.name) for b in ALL_BLOCKS if b.language in languages]


def test_documents_have_blocks() -> None:
    """The extraction finds the blocks at all (a test that cannot fail is a defect)."""
    assert len(ALL_BLOCKS) > 40
    assert {b.language for b in ALL_BLOCKS} >= {"python", "sh", "proto", "toml"}


@pytest.mark.parametrize("block", [pytest.param(b, id=b.name) for b in ALL_BLOCKS])
def test_block_language_is_known(block: Block) -> None:
    assert (
        block.language in LANGUAGES
    ), f"{block.name}: say what the block is (one of {sorted(LANGUAGES)})"
    if block.language in {"go", "java"}:
        assert (
            block.marker == "fragment"
        ), f"{block.name}: mark it <!-- snippet: fragment: ... -->"


# -- python ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(WITH_GIVENS))
def test_documents_say_what_their_snippets_assume(name: str) -> None:
    text = " ".join((ROOT / name).read_text().split())
    assert (
        "run, top to bottom, in the test suite" in text and "`target` is" in text
    ), name


@cache
def python_results(path: Path) -> dict[int, str | None]:
    """Run the document's python blocks (fragments excepted) in one fresh interpreter; line -> traceback or None."""
    runnable = [
        b for b in blocks_of(path) if b.language == "python" and b.marker is None
    ]
    request = {
        "path": str(path),
        "givens": str(path.relative_to(ROOT)) in WITH_GIVENS,
        "blocks": [{"line": b.line - 1, "source": b.source} for b in runnable],
    }
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "examples"), str(ROOT)]),
    }
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "docs_runner.py")],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        cwd=ROOT,
    )
    lines = done.stdout.strip().splitlines()
    assert (
        done.returncode == 0 and lines
    ), f"runner failed:\n{done.stdout}\n{done.stderr}"
    results = json.loads(lines[-1])
    return {b.line: result for b, result in zip(runnable, results, strict=True)}


@pytest.mark.parametrize("block", _blocks("python"))
def test_python_block(block: Block) -> None:
    if block.marker == "generated":
        pytest.fail("python blocks are run, not generated")
    # Fragments and runnable blocks alike must compile (top-level await allowed, as in the runner).
    import ast

    compile(block.source, block.name, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    if block.marker == "fragment":
        return
    error = python_results(block.path)[block.line]
    if error is not None:
        pytest.fail(f"{block.name} failed:\n{error}", pytrace=False)


# -- sh ----------------------------------------------------------------------------------------------------


def project(tmp_path: Path) -> Path:
    """A user's project: the bundled example's protos under ``protos/``, nothing generated yet."""
    shutil.copytree(ROOT / "examples" / "protos", tmp_path / "protos")
    return tmp_path


def bash(script: str, cwd: Path, *options: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        ["bash", "-eu", *options, "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("block", _blocks("sh"))
def test_sh_block(block: Block, tmp_path: Path) -> None:
    if block.marker == "fragment":
        done = bash(block.source, tmp_path, "-n")
    else:
        done = bash(block.source, project(tmp_path))
    if done.returncode != 0:
        pytest.fail(
            f"{block.name}: rc {done.returncode}\n{done.stdout}\n{done.stderr}",
            pytrace=False,
        )


# -- proto -------------------------------------------------------------------------------------------------

UNDEFINED = re.compile(r'"(?P<name>[\w.]+)" is not defined\.')
IMPORTS = [
    "grpc_errgen/options.proto",
    "google/protobuf/duration.proto",
    "google/protobuf/timestamp.proto",
]


def complete_proto(source: str) -> str:
    """A block that is not a whole file (no ``syntax``) gets what every options document assumes around it.

    ``syntax = "proto3"``, a package, and the imports of ``grpc_errgen/options.proto`` and of the well-known
    duration and timestamp types that it does not have. Message types a block names but does not define get an
    empty definition (``generate_proto`` adds them from protoc's "is not defined" errors).
    """
    if re.search(r"^\s*(syntax|edition)\s*=", source, re.M):
        return source
    lines = ['syntax = "proto3";']
    if not re.search(r"^\s*package\b", source, re.M):
        lines.append("package docs.snippet;")
    lines += [f'import "{name}";' for name in IMPORTS if f'"{name}"' not in source]
    return "\n".join([*lines, source])


def stub(name: str, source: str) -> str:
    """An empty definition of a type the block names: an enum where it carries ``enum`` rules, else a message."""
    if re.search(
        rf"\b{name}\s+\w+\s*=\s*\d+\s*\[\((errgen|buf\.validate)\.field\)\.enum\b",
        source,
    ):
        return f"\nenum {name} {{ {name.upper()}_UNSPECIFIED = 0; }}"
    return f"\nmessage {name} {{}}"


def generate_proto(text: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    stubs: list[str] = []
    for _ in range(20):
        protos = workdir / "protos"
        shutil.rmtree(protos, ignore_errors=True)
        protos.mkdir(parents=True)
        (protos / "snippet.proto").write_text(
            text + "".join(stub(name, text) for name in stubs) + "\n"
        )
        done = bash("grpc-errgen generate protos --out out", workdir)
        missing = [
            m["name"] for m in UNDEFINED.finditer(done.stderr) if "." not in m["name"]
        ]
        if done.returncode == 0 or not missing:
            return done
        stubs.extend(name for name in dict.fromkeys(missing) if name not in stubs)
    return done


@pytest.mark.parametrize("block", _blocks("proto"))
def test_proto_block(block: Block, tmp_path: Path) -> None:
    if block.marker == "fragment":
        return
    text = complete_proto(block.source)
    done = generate_proto(text, tmp_path)
    if done.returncode != 0:
        pytest.fail(
            f"{block.name}:\n{done.stderr}\n--- as generated:\n{text}", pytrace=False
        )


# -- toml, json --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("block", _blocks("toml"))
def test_toml_block(block: Block, tmp_path: Path) -> None:
    table = tomllib.loads(block.source)
    settings = table.get("tool", {}).get("grpc-errgen")
    if settings is None:
        return
    # The table as a user's pyproject.toml: every directory it names exists, and `generate` uses it.
    root = project(tmp_path)
    (root / "pyproject.toml").write_text(block.source)
    paths = [*settings.get("paths", []), *settings.get("includes", [])]
    for path in paths:
        (root / path).mkdir(parents=True, exist_ok=True)
    first = root / settings.get("paths", ["protos"])[0]
    if not any(first.rglob("*.proto")):
        shutil.copytree(ROOT / "examples" / "protos", first, dirs_exist_ok=True)
    done = bash("grpc-errgen generate && grpc-errgen generate --check", root)
    assert done.returncode == 0, f"{block.name}:\n{done.stdout}\n{done.stderr}"
    out = root / settings.get("out", ".")
    assert list(
        out.rglob("*_errgen.py")
    ), f"{block.name}: nothing generated under {out}"


@pytest.mark.parametrize("block", _blocks("json"))
def test_json_block(block: Block) -> None:
    json.loads(block.source)


# -- generated examples ------------------------------------------------------------------------------------


@cache
def generated_examples() -> dict[str, str]:
    return doc_examples.examples()


@pytest.mark.parametrize(
    "block", [pytest.param(b, id=b.name) for b in ALL_BLOCKS if b.marker == "generated"]
)
def test_generated_block(block: Block) -> None:
    examples = generated_examples()
    assert (
        block.marker_arg in examples
    ), f"{block.name}: scripts/doc_examples.py makes no {block.marker_arg!r}"
    expected = doc_examples.normalise(examples[block.marker_arg])
    assert (
        doc_examples.normalise(block.source) == expected
    ), f"{block.name} is stale: run `python scripts/doc_examples.py --write`"


# -- references --------------------------------------------------------------------------------------------

LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")
#: Documents a reader of the repository cannot open: the project's private spec, notes and issue tracker.
OUTSIDE = re.compile(r"\bSPEC\b|\bshared/|\b[Ii]ssues? \d")


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_references_resolve(path: Path) -> None:
    """Relative links point at files of the repository, and no document cites one that is not in it."""
    text = path.read_text()
    for match in LINK.finditer(text):
        target = match["target"].split("#")[0]
        if not target or re.match(r"[a-z]+:", target):
            continue
        assert (
            path.parent / target
        ).exists(), f"{path.name}: broken link {match['target']}"
    cited = [m.group(0) for m in OUTSIDE.finditer(text)]
    assert (
        not cited
    ), f"{path.name} cites documents that are not in the repository: {cited}"


def test_fresh_machine_commands_are_run_by_ci() -> None:
    """The README blocks that say .ci/run runs them are the ones .ci/run picks out (by the same marker)."""
    claim = "run as printed on a fresh machine by .ci/run"
    marked = [b for b in blocks_of(ROOT / "README.md") if b.marker_arg == claim]
    assert len(marked) >= 2
    assert f"<!-- snippet: fragment: {claim} -->" in (ROOT / ".ci" / "run").read_text()
