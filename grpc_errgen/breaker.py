"""A per-method circuit breaker for clients, shared by the sync and aio client interceptors.

``CircuitBreaker(failure_threshold=5, reset_timeout=30.0)`` opens a method's circuit after that many
consecutive UNAVAILABLE or DEADLINE_EXCEEDED failures. While open, calls fail fast with
``errors.Unavailable`` without touching the network. After ``reset_timeout`` seconds the circuit half-opens:
exactly one trial call goes through (others still fail fast); its success closes the circuit, its failure
opens it again for another ``reset_timeout``.

Every state change happens under one ``threading.Lock`` and never waits inside it, so the same breaker is
safe from many threads and from asyncio tasks (nothing is awaited while the lock is held).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import grpc

from grpc_errgen import errors

State = Literal["closed", "open", "half_open"]

#: The codes that mean "the server (or the path to it) is not answering": they count towards opening.
FAILURE_CODES = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}
)


@dataclass
class _Circuit:
    state: State = "closed"
    consecutive_failures: int = 0
    opened_at: float = 0.0
    trial_in_flight: bool = False


class Ticket:
    """The permission for one call to go ahead; ``done(code)`` reports how it ended (once; later reports are ignored)."""

    __slots__ = ("_breaker", "_done", "method", "trial")

    def __init__(self, breaker: CircuitBreaker, method: str, trial: bool) -> None:
        self._breaker = breaker
        self._done = False
        self.method = method
        #: This call is the half-open circuit's one trial.
        self.trial = trial

    def done(self, code: grpc.StatusCode | None) -> None:
        """Report the call's final status code; None when it ended without one (abandoned)."""
        self._breaker._record(self, code)


class CircuitBreaker:
    """Per-method circuit breaker; pass it to ``client_interceptors(..., breaker=...)``.

    ``clock`` returns seconds (``time.monotonic`` by default); tests inject their own.
    """

    def __init__(
        self,
        failure_threshold: int = 5,
        reset_timeout: float = 30.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if reset_timeout < 0:
            raise ValueError("reset_timeout must not be negative")
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._circuits: dict[str, _Circuit] = {}

    def state(self, method: str) -> State:
        """The circuit state of ``method`` (``/pkg.Service/Method``) as of now."""
        with self._lock:
            circuit = self._circuits.get(method)
            if circuit is None:
                return "closed"
            if (
                circuit.state == "open"
                and self._clock() - circuit.opened_at >= self.reset_timeout
            ):
                return "half_open"
            return circuit.state

    def acquire(self, method: str) -> Ticket:
        """Let a call to ``method`` go ahead, or raise ``errors.Unavailable`` when its circuit is open."""
        with self._lock:
            circuit = self._circuits.setdefault(method, _Circuit())
            if circuit.state == "closed":
                return Ticket(self, method, trial=False)
            now = self._clock()
            if (
                circuit.state == "open"
                and now - circuit.opened_at >= self.reset_timeout
            ):
                circuit.state = "half_open"
            if circuit.state == "half_open" and not circuit.trial_in_flight:
                circuit.trial_in_flight = True
                return Ticket(self, method, trial=True)
            wait = max(0.0, circuit.opened_at + self.reset_timeout - now)
        raise errors.Unavailable(
            f"circuit open for {method}: failing fast after {self.failure_threshold} consecutive failures"
            + (
                f" (next trial in {wait:.1f}s)"
                if wait
                else " (a trial call is in flight)"
            )
        )

    def _record(self, ticket: Ticket, code: grpc.StatusCode | None) -> None:
        with self._lock:
            if ticket._done:
                return
            ticket._done = True
            circuit = self._circuits.setdefault(ticket.method, _Circuit())
            if ticket.trial:
                circuit.trial_in_flight = False
                if code is None or code == grpc.StatusCode.CANCELLED:
                    return  # the trial told us nothing: the next call becomes the trial
                if code in FAILURE_CODES:
                    circuit.state = "open"
                    circuit.opened_at = self._clock()
                else:
                    circuit.state = "closed"
                    circuit.consecutive_failures = 0
                return
            if (
                circuit.state != "closed"
                or code is None
                or code == grpc.StatusCode.CANCELLED
            ):
                return  # a call that started before the circuit opened, or one that told us nothing
            if code in FAILURE_CODES:
                circuit.consecutive_failures += 1
                if circuit.consecutive_failures >= self.failure_threshold:
                    circuit.state = "open"
                    circuit.opened_at = self._clock()
            else:
                circuit.consecutive_failures = 0


__all__ = ["FAILURE_CODES", "CircuitBreaker", "State", "Ticket"]
