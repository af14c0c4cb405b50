"""How big ``archbench/search/`` is against a base commit, module by module.

Issue 21 asks for a ``search/`` at least 25% smaller than at the commit it was filed against
(``63feebb``, 3,572 lines), every behaviour kept. Lines are ``wc -l`` lines of the package's
``.py`` and ``.pyi`` files: code, docstrings, comments and blank lines alike. Prints each module
at the base and now, the modules that left or joined the package, and the totals with their
ratio; ``--leave-out`` also prints the total without modules that hold behaviour added after the
base (a like-for-like figure).

    python benchmarks/search_size.py [--base 63feebb] [--leave-out _evolution.py]
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

PACKAGE = "archbench/search"
ROOT = Path(__file__).resolve().parent.parent


def lines_at(commit: str) -> dict[str, int]:
    """Lines per module of the package at ``commit``."""
    names = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", commit, PACKAGE],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    counted = {}
    for name in names:
        if name.endswith((".py", ".pyi")):
            text = subprocess.run(
                ["git", "show", f"{commit}:{name}"], cwd=ROOT, check=True, capture_output=True
            ).stdout
            counted[Path(name).name] = text.count(b"\n")
    return counted


def lines_now() -> dict[str, int]:
    """Lines per module of the package in the working tree."""
    folder = ROOT / PACKAGE
    return {
        path.name: path.read_bytes().count(b"\n")
        for path in sorted(folder.iterdir())
        if path.suffix in (".py", ".pyi")
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="63feebb", help="the commit to compare with")
    parser.add_argument("--leave-out", nargs="*", default=[], help="modules left out of a total")
    args = parser.parse_args()
    base, now = lines_at(args.base), lines_now()
    print(f"{'module':24s} {args.base:>8s} {'now':>6s}")
    for name in sorted(set(base) | set(now)):
        before = base.get(name)
        after = now.get(name)
        print(f"{name:24s} {before if before is not None else '-':>8} {after or '-':>6}")
    total_base, total_now = sum(base.values()), sum(now.values())
    ratio = total_now / total_base
    print(f"{'total':24s} {total_base:>8,} {total_now:>6,}  {ratio:.3f}x ({ratio - 1:+.1%})")
    if args.leave_out:
        kept = sum(count for name, count in now.items() if name not in args.leave_out)
        left = ", ".join(args.leave_out)
        print(f"without {left}: {kept:,}  {kept / total_base:.3f}x ({kept / total_base - 1:+.1%})")
    print(f"goal: at most {int(total_base * 0.75):,} (25% smaller than {args.base})")


if __name__ == "__main__":
    main()
