"""P6: ``crisiscast --help`` cold start (target ≤ 0.5 s), against a bare ``python -c pass``.

With ``hyperfine`` on the PATH (``apt-get install hyperfine``) it runs
``hyperfine --warmup 3 --runs N --export-json``; otherwise it times N ``subprocess.run``
calls itself (after 3 warm-up calls). Either way it prints the median, min and max of the
console script ``.venv/bin/crisiscast --help`` and of the interpreter alone
(``python -c pass``, the floor), and lists the slowest imports of ``--help``
(``python -X importtime``) so a regression shows where it comes from. Usage::

    .venv/bin/python bench/cli_start.py [--runs 20]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import REPO, Stats, header, verdict


def console_script() -> list[str]:
    script = Path(sys.executable).with_name("crisiscast")
    return [str(script)] if script.exists() else [sys.executable, "-m", "crisiscast"]


def time_with_hyperfine(cmd: list[str], runs: int) -> list[float]:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run(
            [
                "hyperfine",
                "--warmup",
                "3",
                "--runs",
                str(runs),
                "-N",
                "--export-json",
                out.name,
                " ".join(cmd),
            ],
            check=True,
            capture_output=True,
            cwd=REPO,
        )
        data = json.loads(Path(out.name).read_text())
    return [float(t) for t in data["results"][0]["times"]]


def time_with_subprocess(cmd: list[str], runs: int) -> list[float]:
    times = []
    for i in range(runs + 3):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, cwd=REPO)
        if i >= 3:
            times.append(time.perf_counter() - t0)
    return times


def slowest_imports(cmd: list[str], top: int = 8) -> list[tuple[float, str]]:
    """Cumulative import time (s) of the top-level modules ``--help`` imports."""
    out = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-c",
            "import sys; from crisiscast.cli import main; sys.argv = ['crisiscast', '--help']; main()",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    rows = []
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.removeprefix("import time:").split("|")
        if cumulative.strip().isdigit() and not name.startswith("  "):  # one space: imported at top level
            rows.append((int(cumulative) / 1e6, name.strip()))
    return sorted(rows, reverse=True)[:top]


def run(runs: int) -> dict[str, Any]:
    use_hyperfine = shutil.which("hyperfine") is not None
    how = "hyperfine" if use_hyperfine else "subprocess timing (hyperfine not installed)"
    header(f"P6 CLI cold start: crisiscast --help, {runs} runs, {how}")
    timer = time_with_hyperfine if use_hyperfine else time_with_subprocess
    cli = Stats.of(timer([*console_script(), "--help"], runs))
    floor = Stats.of(timer([sys.executable, "-c", "pass"], runs))
    print(f"  crisiscast --help          {cli.fmt()}   target <= 0.5 s: {verdict(cli.median <= 0.5)}")
    print(f"  python -c pass (floor)     {floor.fmt()}   ratio {cli.median / floor.median:.1f}x")
    print("  slowest top-level imports of --help (cumulative, one -X importtime run):")
    for seconds, name in slowest_imports(console_script()):
        print(f"    {seconds * 1000:7.1f} ms  {name}")
    return {"help_s": cli.median, "help_min_s": cli.min, "help_max_s": cli.max, "python_s": floor.median}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    result = run(args.runs)
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
