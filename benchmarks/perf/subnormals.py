"""Do subnormal floats cost our queries time on this CPU? Count them, then time the query with them flushed.

Why: a float32 below 1.18e-38 (float64: 2.2e-308) is subnormal, and on many x86 cores an operation
that reads or writes one takes a microcode assist, tens to hundreds of cycles instead of one. Issue
#17 names them among the possible causes of CoreSet's and BADGE's run-to-run swings. Two checks, on
the peer benchmark's pool and cycle (banking77 × minilm-l6, 10 labeled points per class, query 100):

1. **count**: the subnormal values in each strategy's inputs (the pool, the head's probabilities and
   features) and in the terms of the products it forms: the head's x_ik·w_kc for every strategy that
   reads probabilities, CoreSet's x_i·x_j and BADGE's a_i·a_j and h_i·h_j at the points it picked.
   A term counts when, rounded alone, it is subnormal or two nonzero factors underflow to zero. This
   is an upper bound: the BLAS kernels fuse each product into its sum (FMA) and round only that;
2. **time**: our whole query (as the peer benchmark times it) with the CPU's flush-to-zero and
   denormals-are-zero modes off and on (``torch.set_flush_denormal``), alternating which goes first
   in each round. If subnormals cost time, flushing makes the query faster; if the picks differ, a
   subnormal reached a decision.

Run from the repository root::

    python -m benchmarks.perf.subnormals [--rounds 11] [--strategies coreset badge]

Everything runs in one thread: the flush modes live in a per-thread register (MXCSR), so a BLAS or
OpenMP worker thread would keep its own and the "on" timings would mean nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .common.machine import machine_lines, warm_torch
from .common.pools import add_data_options
from .peers.cli import add_cycle_options

DEFAULT_STRATEGIES = ("least_confidence", "margin", "entropy", "coreset", "badge")
CENSUS_HEADERS = ["strategy", "values", "subnormal (terms: or underflowed)", "of", "smallest nonzero |value|"]
TIMING_HEADERS = ["strategy", "flush off (ms)", "flush on (ms)", "off ÷ on, per round", "same picks"]
#: Rows per block when counting the head's product terms (a block of x_ik·w_kc is rows × d × C floats).
_TERM_ROWS = 256


def subnormal_count(values: Any) -> int:
    """How many entries of a floating array or tensor are subnormal (nonzero, below the dtype's smallest normal)."""
    return _census(values).subnormal


class _Census:
    """Subnormal entries, all entries and the smallest nonzero magnitude of one or more arrays."""

    def __init__(self, subnormal: int = 0, total: int = 0, smallest: float = float("inf")) -> None:
        self.subnormal, self.total, self.smallest = subnormal, total, smallest

    def __add__(self, other: _Census) -> _Census:
        return _Census(self.subnormal + other.subnormal, self.total + other.total, min(self.smallest, other.smallest))


def _census(values: Any) -> _Census:
    a = _as_array(values)
    if not np.issubdtype(a.dtype, np.floating):
        return _Census(total=a.size)
    magnitude = np.abs(a)
    nonzero = magnitude[magnitude > 0]
    smallest = float(nonzero.min()) if nonzero.size else float("inf")
    return _Census(int(np.count_nonzero(nonzero < np.finfo(a.dtype).tiny)), a.size, smallest)


def _product_census(a: np.ndarray, b: np.ndarray) -> _Census:
    """The products a·b (broadcast), each rounded alone: subnormal ones and those of two nonzero
    factors that rounded to zero (an underflow passes through the subnormal range) both count."""
    terms = a * b
    underflowed = np.count_nonzero((terms == 0) & (a != 0) & (b != 0))
    found = _census(terms)
    return _Census(found.subnormal + int(underflowed), found.total, found.smallest)


def _as_array(values: Any) -> np.ndarray:
    return np.asarray(values.detach().cpu().numpy() if hasattr(values, "detach") else values)


@contextlib.contextmanager
def flush_subnormals(on: bool) -> Iterator[None]:
    """Flush-to-zero and denormals-are-zero ``on`` or off in this thread; off again afterwards.

    Raises ``SystemExit`` where the CPU has no such modes (``torch.set_flush_denormal`` returns False
    there), since the comparison would then time the same thing twice.
    """
    import torch

    if not torch.set_flush_denormal(on):
        raise SystemExit("this CPU has no flush-to-zero mode that torch can set; nothing to compare")
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


def flush_takes_effect() -> bool:
    """Whether the flush mode turns a subnormal operand into zero in numpy's and torch's arithmetic here."""
    import torch

    half_tiny = np.float32(np.finfo(np.float32).tiny) / np.float32(2)  # subnormal
    with flush_subnormals(True):
        flushed = float(np.float32(1) * np.full(8, half_tiny)[0]) == 0.0
        flushed = flushed and float(torch.full((8,), float(half_tiny)).mul(1.0)[0]) == 0.0
    return flushed


def _head_terms(x: Any, weight: Any) -> _Census:
    """The terms x_ik·w_kc of the head's (N × d) @ (d × C) product, counted block by block."""
    xs, w = _as_array(x), _as_array(weight)
    found = _Census()
    for start in range(0, xs.shape[0], _TERM_ROWS):
        found += _product_census(xs[start : start + _TERM_ROWS, :, None], w[None, :, :])
    return found


def _row_terms(m: Any, picks: np.ndarray) -> _Census:
    """The terms m_ik·m_jk of the matrix-vector products m @ m_j at the picked rows j."""
    a = _as_array(m)
    found = _Census()
    for j in picks:
        found += _product_census(a, a[j])
    return found


def subnormal_census(strategy: str, inputs: Any, head: Any, picks: np.ndarray) -> list[tuple[str, int, int, float]]:
    """(what, subnormal, total, smallest nonzero magnitude) for the strategy's inputs and the product
    terms it forms (see module doc)."""
    from pytest_albench.strategies.badge import gradient_factors

    found: list[tuple[str, _Census]] = []
    for name in ("embeddings", "proba", "hidden", "sampled_proba"):
        value = getattr(inputs, name)
        if value is not None:
            found.append((name, _census(value)))
    if inputs.proba is not None:
        found.append(("head terms x·w", _head_terms(inputs.embeddings, head.weight)))
    if strategy == "coreset":
        found.append(("terms x_i·x_j at the picks", _row_terms(inputs.embeddings, picks)))
    if strategy == "badge":
        found.append(("terms a_i·a_j at the picks", _row_terms(gradient_factors(inputs.proba), picks)))
        found.append(("terms h_i·h_j at the picks", _row_terms(inputs.hidden, picks)))
    return [(what, c.subnormal, c.total, c.smallest) for what, c in found]


def _time_modes(adapter: Any, cycle: Any, rounds: int) -> tuple[list[float], list[float], bool]:
    """Per-round times (ms) with the flush off and on, and whether every round picked the same points."""
    times: dict[bool, list[float]] = {False: [], True: []}
    same = True
    for r in range(rounds):
        picks: dict[bool, np.ndarray] = {}
        for on in (False, True) if r % 2 == 0 else (True, False):
            with flush_subnormals(on):
                t0 = time.perf_counter()
                picks[on] = adapter.select({}, cycle, r + 1)
                times[on].append((time.perf_counter() - t0) * 1e3)
        same = same and np.array_equal(picks[False], picks[True])
    return times[False], times[True], same


def _fmt(times: Sequence[float]) -> str:
    return f"{np.median(times):,.1f} ({min(times):,.1f}–{max(times):,.1f})"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.perf.subnormals", description=__doc__.split("\n\n")[0])
    p.add_argument("--strategies", nargs="+", default=list(DEFAULT_STRATEGIES))
    p.add_argument("--rounds", type=int, default=11, help="alternating rounds, one call per mode each")
    add_cycle_options(p, seed_help="labeled set and synthetic pool seed")
    data = p.add_argument_group("pool")
    add_data_options(data)
    data.add_argument("--synthetic-rows", type=int, default=10_000, help="rows of a synthetic pool")
    args = p.parse_args(argv)
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    import torch
    from threadpoolctl import threadpool_limits

    from pytest_albench.strategies import get_strategy

    for name in args.strategies:
        get_strategy(name)  # an unknown name fails here, before the pool is embedded
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):  # numpy's BLAS in this thread too
            _run(args)
    finally:
        torch.set_num_threads(threads)
    return 0


def _run(args: argparse.Namespace) -> None:
    """The census and the timing table for every requested strategy, on one thread."""
    from tabulate import tabulate

    from .peers.ours import OursAdapter
    from .peers.pool import load_base_data
    from .peers.worker import build_cycle, scale_pool

    for line in machine_lines("cpu"):
        print(line)
    print(f"flush-to-zero turns a subnormal operand into 0 in numpy and torch here: {flush_takes_effect()}")
    warm_torch("cpu")
    base = load_base_data(args, "cpu")
    print(base.source)
    x, scale = scale_pool(base.x)
    cycle, note = build_cycle(x, base.y, base.n_classes, scale, args.per_class, args.seed, args.batch, args.lr_max_iter)
    print(f"{int(cycle.labeled.sum())} labeled, query {args.batch}, {args.rounds} rounds, 1 thread; {note}")
    timing_rows, census_rows = [], []
    for name in args.strategies:
        adapter = OursAdapter(name, x, base.y, "cpu", n_samples=8)
        adapter.bind(cycle)
        picks = adapter.select({}, cycle, 0)  # warm-up; its picks are the census's
        inputs = adapter.filled_inputs({}, cycle, np.random.default_rng(0))
        for what, found, total, smallest in subnormal_census(name, inputs, adapter.head, picks):
            census_rows.append([name, what, f"{found:,}", f"{total:,}", f"{smallest:.2e}"])
        off_ms, on_ms, same = _time_modes(adapter, cycle, args.rounds)
        ratios = [a / b for a, b in zip(off_ms, on_ms, strict=True)]
        spread = f"{np.median(ratios):.3f} ({min(ratios):.3f}–{max(ratios):.3f})"
        timing_rows.append([name, _fmt(off_ms), _fmt(on_ms), spread, "yes" if same else "NO"])
    print(tabulate(census_rows, headers=CENSUS_HEADERS, tablefmt="github"))
    print()
    print(tabulate(timing_rows, headers=TIMING_HEADERS, tablefmt="github"))


if __name__ == "__main__":
    raise SystemExit(main())
