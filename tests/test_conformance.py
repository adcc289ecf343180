"""protovalidate's official conformance suite (``tests/conformance``), case by case, against generated validators.

Checked both ways against ``tests/conformance/expected_failures.txt``: a case that fails and is not listed fails
this test, and so does a listed case that passes (the list must shrink as the generator improves).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conformance import runner


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> list[runner.Result]:
    found, problems = runner.run_all(
        runner.load_cases(), tmp_path_factory.mktemp("conformance")
    )
    assert (
        problems == []
    )  # every case file generates (refused messages are per message)
    return found


def test_every_case_runs(results: list[runner.Result]) -> None:
    assert len(results) == 2878
    assert not [r.case.id for r in results if r.kind == "unexpected_error"]


def test_failures_are_exactly_the_expected_ones(results: list[runner.Result]) -> None:
    expected = runner.load_expected_failures()
    failed = {r.case.id: r.failure for r in results if r.failure is not None}
    unexpected = sorted(
        f"{case}: {why}" for case, why in failed.items() if case not in expected
    )
    fixed = sorted(case for case in expected if case not in failed)
    assert unexpected == [], "failures not in expected_failures.txt"
    assert fixed == [], "listed in expected_failures.txt but passing now: remove them"


def test_the_expected_failures_are_reviewed() -> None:
    text = Path(runner.EXPECTED_FAILURES).read_text(encoding="utf-8")
    expected = runner.load_expected_failures()
    ids = {case.id for case in runner.load_cases()}
    assert sorted(set(expected) - ids) == []  # no stale names
    assert all(reason for reason in expected.values())  # every entry says why
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines == sorted(lines)  # one order, so reviews show real changes
