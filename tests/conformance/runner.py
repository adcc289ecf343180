"""protovalidate's conformance suite against the validators grpc-errgen generates: no Go, no protovalidate.

1. ``descriptors.binpb`` goes to the generator as a ``CodeGeneratorRequest`` (``proto_file`` = the whole set,
   ``file_to_generate`` = the case files), through ``generate()``, the entry behind the plugin and the CLI, with
   ``invalid_messages=refuse``: a message whose rules cannot be compiled is refused by name while its neighbours
   generate (protovalidate's per-message compilation errors).
2. The ``_errgen`` modules and the ``_pb2`` modules (grpcio-tools' protoc, ``--descriptor_set_in``) are written to
   a temporary folder and imported.
3. Each case of ``cases.jsonl`` is decoded, re-stamped where it is relative to now, validated with
   ``grpc_errgen.violations`` and compared as the Go harness compares: the multiset of (field path, rule path,
   rule id, for_key), messages where the case gives one; a compilation error (the message was refused) and a
   runtime error (``ValidationRuntimeError``) by kind.

usage: python -m tests.conformance.runner [--suite REGEX] [--case REGEX] [-v]
Prints per-suite counts, every failure (``-v``: want and got) and ``N passed, M failed``.
"""

from __future__ import annotations

import argparse
import base64
import collections
import importlib
import json
import re
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.compiler import plugin_pb2
from grpc_tools import protoc

from grpc_errgen import validation
from grpc_errgen.codegen.pipeline import generate
from grpc_errgen.errors import FieldPathElement, ValidationRuntimeError, Violation

HERE = Path(__file__).resolve().parent
CASES = HERE / "cases.jsonl"
DESCRIPTORS = HERE / "descriptors.binpb"
EXPECTED_FAILURES = HERE / "expected_failures.txt"
CASE_FILES = "buf/validate/conformance/cases/"
VALIDATE_PROTO = "buf/validate/validate.proto"
#: The generator's parameter: refuse a message whose rules do not compile (a compilation error for its cases) and
#: generate its neighbours, as protovalidate compiles each message on its own.
PARAMETER = "invalid_messages=refuse"

_TYPE_NAME = descriptor_pb2.FieldDescriptorProto.Type.Name

Element = dict[str, Any]
Outcome = tuple[str, Any]  # (result kind, violations as JSON or an error text)


@dataclass(frozen=True)
class Case:
    suite: str
    name: str
    type: str
    input: bytes
    expected: dict[str, Any]
    now_relative: tuple[dict[str, Any], ...]

    @property
    def id(self) -> str:
        return f"{self.suite}/{self.name}"


def load_cases(path: Path = CASES) -> list[Case]:
    cases = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            raw = json.loads(line)
            cases.append(
                Case(
                    raw["suite"],
                    raw["name"],
                    raw["type"],
                    base64.b64decode(raw["input"]),
                    raw["expected"],
                    tuple(raw.get("now_relative", ())),
                )
            )
    return cases


def load_expected_failures(path: Path = EXPECTED_FAILURES) -> dict[str, str]:
    """``suite/name`` -> reason, from lines ``suite/name  # reason`` (``#`` lines and blank lines skipped)."""
    found: dict[str, str] = {}
    if not path.exists():
        return found
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        case_id, _, reason = line.partition("  # ")
        found[case_id.strip()] = reason.strip()
    return found


# -- generating and importing ------------------------------------------------------------------------------


def descriptor_set() -> descriptor_pb2.FileDescriptorSet:
    return descriptor_pb2.FileDescriptorSet.FromString(DESCRIPTORS.read_bytes())


def generate_into(out: Path) -> list[str]:
    """Generate the case files' ``_errgen`` and ``_pb2`` modules under ``out``; returns the generator's
    problems that refused whole files (empty when every file generated)."""
    files = descriptor_set().file
    case_files = [f.name for f in files if f.name.startswith(CASE_FILES)]
    request = plugin_pb2.CodeGeneratorRequest(
        file_to_generate=case_files, parameter=PARAMETER
    )
    request.proto_file.extend(files)
    response = generate(request)
    problems = response.error.splitlines() if response.error else []
    for generated in response.file:
        target = out / generated.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(generated.content, encoding="utf-8")
    args = [
        "protoc",
        f"--descriptor_set_in={DESCRIPTORS}",
        f"--python_out={out}",
        VALIDATE_PROTO,
        *case_files,
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed: {' '.join(args)}")
    return problems


def import_generated(out: Path) -> None:
    """Import every generated module under ``out`` (``_pb2`` first: the ``_errgen`` modules register the
    validators)."""
    sys.path.insert(0, str(out))
    importlib.invalidate_caches()
    modules = sorted(
        ".".join(path.relative_to(out).with_suffix("").parts)
        for path in out.rglob("*.py")
    )
    for suffix in ("_pb2", "_errgen"):
        for module in modules:
            if module.endswith(suffix):
                importlib.import_module(module)


# -- running one case --------------------------------------------------------------------------------------


def element_json(element: FieldPathElement) -> Element:
    """A path element in the JSON shape of ``cases.jsonl`` (keys present iff protovalidate sets them)."""
    found: Element = {"name": element.name}
    if element.number is not None:
        found["number"] = element.number
    if element.type is not None:
        found["type"] = _TYPE_NAME(element.type)  # type: ignore[arg-type]
    if element.key_type is not None:
        found["key_type"] = _TYPE_NAME(element.key_type)  # type: ignore[arg-type]
    if element.value_type is not None:
        found["value_type"] = _TYPE_NAME(element.value_type)  # type: ignore[arg-type]
    subscript = element.subscript
    if subscript is not None:
        found[subscript[0]] = subscript[1]
    return found


def violation_json(violation: Violation) -> dict[str, Any]:
    return {
        "field": [element_json(e) for e in violation.field_path],
        "rule": [element_json(e) for e in violation.rule_path],
        "rule_id": violation.rule,
        "message": violation.message,
        "for_key": violation.for_key,
    }


def decode(case: Case, now: int) -> Any:
    desc = descriptor_pool.Default().FindMessageTypeByName(case.type)
    message = message_factory.GetMessageClass(desc).FromString(case.input)
    for stamp in case.now_relative:
        timestamp = message
        for name in stamp["field"]:
            timestamp = getattr(timestamp, name)
        timestamp.seconds, timestamp.nanos = now + stamp["offset_seconds"], 0
    return message


def run(case: Case, now: int) -> Outcome:
    if validation.refusal(case.type) is not None:
        return "compilation_error", validation.refusal(case.type)
    message = decode(case, now)
    try:
        found = validation.violations(message)
    except ValidationRuntimeError as exc:
        return "runtime_error", str(exc)
    except Exception as exc:  # a bug in generated code: reported, never a pass
        return "unexpected_error", f"{type(exc).__name__}: {exc}"
    if not found:
        return "success", None
    return "violations", [violation_json(v) for v in found]


def _path_key(elements: Iterable[Element]) -> tuple[Any, ...]:
    return tuple(tuple(sorted(e.items())) for e in elements)


def _key(violation: dict[str, Any]) -> tuple[Any, ...]:
    return (
        _path_key(violation["field"]),
        _path_key(violation["rule"]),
        violation["rule_id"],
        violation["for_key"],
    )


def judge(expected: dict[str, Any], kind: str, got: Any) -> str | None:
    """None when the outcome is what protovalidate gives, else why not."""
    want = expected["result"]
    if want != kind:
        return f"want {want}, got {kind}"
    if want != "violations":
        return None
    wanted = expected["violations"]
    if collections.Counter(map(_key, wanted)) != collections.Counter(map(_key, got)):
        return "violations differ"
    have = collections.Counter((_key(v), v["message"]) for v in got)
    for violation in wanted:
        if violation.get("message"):
            key = (_key(violation), violation["message"])
            if not have[key]:
                return "message differs"
            have[key] -= 1
    return None


# -- the whole suite ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    case: Case
    kind: str
    got: Any
    failure: str | None


_PREPARED: dict[str, list[str]] = {}


def prepare(out: Path) -> list[str]:
    """Generate under ``out`` and import, once per process (the modules stay imported); the problems that
    refused whole files."""
    if "problems" not in _PREPARED:
        _PREPARED["problems"] = generate_into(out)
        import_generated(out)
    return _PREPARED["problems"]


def run_all(cases: Sequence[Case], out: Path) -> tuple[list[Result], list[str]]:
    """Generate under ``out`` (the first time), import, run ``cases``; (results, problems that refused whole
    files)."""
    problems = prepare(out)
    now = int(time.time())
    results = []
    for case in cases:
        kind, got = run(case, now)
        results.append(Result(case, kind, got, judge(case.expected, kind, got)))
    return results, problems


def _render_path(elements: Iterable[Element]) -> str:
    parts = []
    for element in elements:
        text = str(element.get("name", "?"))
        for key in ("index", "bool_key", "int_key", "uint_key", "string_key"):
            if key in element:
                text += f"[{json.dumps(element[key])}]"
        parts.append(text)
    return ".".join(parts)


def _render(violation: dict[str, Any]) -> str:
    text = (
        f"rule_id={violation['rule_id']!r} field={_render_path(violation['field'])!r}"
        f" rule={_render_path(violation['rule'])!r}"
    )
    if violation.get("for_key"):
        text += " for_key"
    if violation.get("message"):
        text += f" message={violation['message']!r}"
    return text


def describe(result: Result) -> Iterator[str]:
    yield f"      want: {result.case.expected['result']}"
    for violation in result.case.expected.get("violations", ()):
        yield f"        - {_render(violation)}"
    yield f"      got:  {result.kind}" + (
        f" ({result.got})" if isinstance(result.got, str) else ""
    )
    for violation in result.got if isinstance(result.got, list) else ():
        yield f"        - {_render(violation)}"


def report(results: Sequence[Result], verbose: bool) -> Iterator[str]:
    per_suite: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for result in results:
        per_suite[result.case.suite][result.failure is not None] += 1
    width = max((len(suite) for suite in per_suite), default=0)
    for suite in sorted(per_suite):
        passed, failed = per_suite[suite]
        yield f"{suite:<{width}}  {passed:4d}/{passed + failed}" + (
            f"  ({failed} failed)" if failed else ""
        )
    failures = [r for r in results if r.failure is not None]
    if failures:
        yield f"\nfailures ({len(failures)}):"
    for result in failures:
        yield f"  FAIL {result.case.id}: {result.failure}"
        if verbose:
            yield from describe(result)
    passed = len(results) - len(failures)
    yield f"\n{passed} passed, {len(failures)} failed"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", help="regex on the suite name")
    parser.add_argument("--case", help="regex on the case name")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="want/got of failures"
    )
    args = parser.parse_args(argv)
    suite = re.compile(args.suite) if args.suite else None
    name = re.compile(args.case) if args.case else None
    cases = [
        case
        for case in load_cases()
        if (suite is None or suite.search(case.suite))
        and (name is None or name.search(case.name))
    ]
    with tempfile.TemporaryDirectory(prefix="conformance-") as tmp:
        results, problems = run_all(cases, Path(tmp))
    for problem in problems:
        print(f"generator: {problem}")
    for line in report(results, args.verbose):
        print(line)
    return 1 if any(r.failure is not None for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
