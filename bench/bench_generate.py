"""Generation speed: `grpc-errgen generate` vs grpcio-tools' protoc alone on the same tree, side by side.

The tree: N files (default 200), each with an error catalogue, 8 messages with field rules and a 4-rpc service.
protoc alone runs --python_out --grpc_python_out --pyi_out; grpc-errgen runs protoc (the descriptor set), then
protoc's python and grpc generators in a child process alongside our generator and mypy-protobuf's typed stubs, and
writes the outputs. Runs alternate; the medians and their ratio are printed. ``--stages`` then times one run's stages
one after the other (nothing overlapping), medians of the same number of rounds: where the time goes.

Both sides write their files (600 for protoc, 1,000 for grpc-errgen), and creating a file costs what the file
system makes it cost: on this machine's ext4 that moved between 0.07 ms and 1.2 ms a file within minutes (write-back
of earlier runs' data), so ``--dir /dev/shm`` (the tree and every output there) measures the work without the disk.

    python bench/bench_generate.py [--files 200] [--rounds 5] [--stages] [--dir DIR]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from grpc_errgen.codegen import protoc
from grpc_errgen.codegen.pipeline import generate
from grpc_errgen.codegen.protoc import builtin_includes, compile_protos, write
from grpc_errgen.codegen.stubs import typed_stubs

TEMPLATE = """\
syntax = "proto3";
package bench.f{n};
import "grpc_errgen/options.proto";

enum F{n}Error {{
  option (errgen.errors) = {{ domain: "f{n}.bench.example" }};
  F{n}_ERROR_UNSPECIFIED = 0;
  F{n}_NOT_FOUND = 1 [(errgen.error) = {{ code: NOT_FOUND message: "not found" }}];
  F{n}_CONFLICT = 2 [(errgen.error) = {{ code: ABORTED }}];
}}
{messages}
service S{n} {{
  option (errgen.service) = {{ auth_required: true scopes: "s{n}" }};
  rpc Get(M0) returns (M1) {{ option (errgen.method) = {{ errors: "F{n}_NOT_FOUND" }}; }}
  rpc List(M2) returns (stream M3);
  rpc Push(stream M4) returns (M5) {{ option (errgen.method).errors = "F{n}_CONFLICT"; }}
  rpc Chat(stream M6) returns (stream M7);
}}
"""

MESSAGE = """
message M{i} {{
  string name = 1 [(errgen.field).string = {{ min_len: 1, max_len: 64 }}];
  string email = 2 [(errgen.field).string.email = true];
  int32 count = 3 [(errgen.field).int32 = {{ gte: 0, lt: 1000 }}];
  repeated string tags = 4 [(errgen.field).repeated = {{ max_items: 10, items: {{ string: {{ min_len: 1 }} }} }}];
}}
"""


def make_tree(root: Path, files: int) -> Path:
    protos = root / "protos"
    for n in range(files):
        target = protos / "bench" / f"f{n}.proto"
        target.parent.mkdir(parents=True, exist_ok=True)
        messages = "".join(MESSAGE.format(i=i) for i in range(8))
        target.write_text(TEMPLATE.format(n=n, messages=messages))
    return protos


def protoc_alone(protos: Path, out: Path) -> None:
    from grpc_tools import protoc as grpc_tools_protoc

    files = sorted(str(p) for p in protos.rglob("*.proto"))
    includes = [f"-I{protos}", *(f"-I{d}" for d in builtin_includes())]
    args = [
        "protoc",
        *includes,
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--pyi_out={out}",
        *files,
    ]
    if grpc_tools_protoc.main(args) != 0:
        raise SystemExit("protoc failed")


def errgen(protos: Path, out: Path) -> None:
    write(compile_protos([protos]), out)


def stages(protos: Path, out: Path) -> dict[str, float]:
    """One ``errgen`` run, stage by stage, each alone: seconds per stage."""
    took: dict[str, float] = {}
    start = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal start
        now = time.perf_counter()
        took[name] = now - start
        start = now

    inputs = protoc._inputs([protos], [])
    fds = protoc._descriptors(inputs)
    names = protoc._with_imports(inputs, fds)
    request = protoc._request(fds, names)
    lap("protoc: parse to the descriptor set")
    with protoc._python_out(fds, names) as python_files:
        files = python_files()
    lap("child: start-up, _pb2 and _pb2_grpc from the set")
    response = generate(request)
    lap("our front end and back end (_errgen.py)")
    stubs = typed_stubs(request)
    lap("mypy-protobuf (.pyi)")
    files.update((f.name, f.content.encode()) for f in response.file)
    files.update(stubs)
    write(protoc.Result(files, inputs.all_roots), out)
    lap("writing")
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--stages", action="store_true")
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        protos = make_tree(Path(tmp), args.files)
        times: dict[str, list[float]] = {"protoc": [], "errgen": []}
        # Each run writes into an empty directory, deleted (untimed) right after.
        generated = 0
        for _ in range(args.rounds):
            for name, run in (("protoc", protoc_alone), ("errgen", errgen)):
                out = Path(tmp) / "out"
                out.mkdir()
                start = time.perf_counter()
                run(protos, out)
                times[name].append(time.perf_counter() - start)
                generated = max(generated, len(list(out.rglob("*_errgen.py"))))
                shutil.rmtree(out)
        split: dict[str, list[float]] = {}
        for _ in range(args.rounds if args.stages else 0):
            out = Path(tmp) / "out"
            out.mkdir()
            for name, seconds in stages(protos, out).items():
                split.setdefault(name, []).append(seconds)
            shutil.rmtree(out)
    protoc_s, errgen_s = (statistics.median(times[k]) for k in ("protoc", "errgen"))
    print(
        f"{args.files} files, {generated} _errgen.py each run, median of {args.rounds} alternating rounds,"
        f" under {args.dir or tempfile.gettempdir()}"
    )
    print(f"protoc alone (python, grpc, pyi): {protoc_s:.3f} s")
    print(f"grpc-errgen generate:             {errgen_s:.3f} s")
    print(f"ratio: {errgen_s / protoc_s:.2f}x (target <= 1.5x)")
    for name, seconds in split.items():
        print(f"  stage alone, {name}: {statistics.median(seconds):.3f} s")


if __name__ == "__main__":
    main()
