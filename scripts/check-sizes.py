#!/usr/bin/env python3
"""Lists production C++ files over a line budget and functions over a body
budget (docs/design.md, "Size"). Tests and benchmarks are not counted.

    scripts/check-sizes.py [--max-file 600] [--max-function 80]

A function is found as text: a line at column 0 that is not a comment or
preprocessor line, ends a signature with `{` (on it or a following line),
and runs to the matching `}` at column 0. Lambdas and class bodies are
counted inside their enclosing function. Exit status 1 when something is
over budget, so CI can run it.
"""
import argparse
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SKIP = ("tests/", "bench/")


def production_files():
    out = subprocess.run(["git", "ls-files", "*.cc", "*.h"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    for name in out.split():
        if not name.startswith(SKIP):
            yield name


SIGNATURE_START = re.compile(r"^[A-Za-z_~][^;]*\(")


def long_functions(lines, limit):
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        if (SIGNATURE_START.match(line) and not line.startswith(
                ("namespace", "class ", "struct ", "enum ", "using ",
                 "template", "typedef", "extern", "#"))):
            # Find the opening brace of the body within a few lines.
            j = i
            while j < n and j < i + 8 and "{" not in lines[j] and \
                    not lines[j].rstrip().endswith(";"):
                j += 1
            if j < n and "{" in lines[j] and not lines[j].rstrip().endswith(
                    ";"):
                # The body ends at the next "}" in column 0.
                k = j
                if lines[j].rstrip().endswith("}") and j == i:
                    i += 1
                    continue
                while k + 1 < n and not lines[k + 1].startswith("}"):
                    k += 1
                body = k - j  # lines strictly inside the braces
                if body > limit:
                    name = line.split("(")[0].split()[-1]
                    yield i + 1, name, body
                i = k + 1
                continue
        i += 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-file", type=int, default=600)
    parser.add_argument("--max-function", type=int, default=80)
    args = parser.parse_args()
    over = 0
    for name in production_files():
        lines = (ROOT / name).read_text(encoding="utf-8").split("\n")
        if len(lines) - 1 > args.max_file:
            print(f"{name}: {len(lines) - 1} lines (budget {args.max_file})")
            over += 1
        for line_no, func, body in long_functions(lines, args.max_function):
            print(f"{name}:{line_no}: {func}: {body} lines "
                  f"(budget {args.max_function})")
            over += 1
    if over:
        print(f"{over} over budget")
        return 1
    print("all files and functions within budget")
    return 0


if __name__ == "__main__":
    sys.exit(main())
