"""P4 A/B: two source trees' CPU per delivery, interleaved, with the bare POST of each round.

On a shared machine the whole-dispatch figure moves by ±15 % with the load, so a change is
judged against the code before it in the SAME rounds: each round runs one
``scale.py --child-dispatch`` from tree A and one from tree B (alternating which goes first),
then the bare aiohttp POST on the standard loop, all against one Twilio fake (0 ms) in its
own process. Tree A is typically the previous commit, exported with
``git archive <commit> | tar -x -C /tmp/before``; each child imports ``<tree>/src`` first.

Prints every round, then per tree the median (min–max) CPU per delivery and same-run ratio
to the bare POST, and B/A per round. Usage::

    .venv/bin/python bench/scale_ab.py /tmp/before . [--recipients 20000] [--rounds 10]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import BENCH_DIR, Fakes, Stats, header, run_child


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("tree_a", type=Path)
    p.add_argument("tree_b", type=Path)
    p.add_argument("--recipients", type=int, default=20_000)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--bare-requests", type=int, default=10_000)
    args = p.parse_args()
    trees = {"A": args.tree_a.resolve(), "B": args.tree_b.resolve()}
    cpu: dict[str, list[float]] = {"A": [], "B": [], "bare": []}
    with Fakes(0.0, ["twilio"]) as fakes:
        url = fakes.urls["twilio"]
        header(f"P4 A/B: {args.recipients:,} SMS, A = {trees['A']}, B = {trees['B']}")
        for r in range(args.rounds):
            for name in ("A", "B") if r % 2 == 0 else ("B", "A"):
                tree = trees[name]
                fakes.reset()
                with tempfile.TemporaryDirectory() as tmp:
                    child = [str(tree / "bench" / "scale.py"), "--child-dispatch", str(args.recipients)]
                    out = run_child([*child, url, tmp], env={"PYTHONPATH": str(tree / "src")})
                if out["delivered"] != args.recipients:
                    raise SystemExit(f"tree {name} delivered {out['delivered']} of {args.recipients}")
                cpu[name].append(out["cpu_per_delivery_ms"])
            fakes.reset()
            bare_child = [str(BENCH_DIR / "scale.py"), "--child-bare", str(args.bare_requests)]
            bare = run_child([*bare_child, url, "asyncio"])
            cpu["bare"].append(bare["cpu_per_request_ms"])
            print(
                f"  round {r + 1}: A {cpu['A'][-1]:.3f} ms, B {cpu['B'][-1]:.3f} ms, "
                f"bare {cpu['bare'][-1]:.3f} ms per delivery",
                flush=True,
            )
    for name in ("A", "B"):
        ratios = Stats.of(c / b for c, b in zip(cpu[name], cpu["bare"], strict=True))
        print(f"  {name}: CPU per delivery {Stats.of(cpu[name]).fmt('ms')}; ratio {ratios.fmt('x', 2)}")
    print(f"  bare POST (asyncio)  {Stats.of(cpu['bare']).fmt('ms')}")
    b_over_a = Stats.of(b / a for a, b in zip(cpu["A"], cpu["B"], strict=True))
    print(f"  B/A per round        {b_over_a.fmt('', 3)}")


if __name__ == "__main__":
    main()
