#!/usr/bin/python3
"""Clang's thread-safety analysis over the project's own code.

Every mutex of the product is an absl::Mutex and every member it guards is
ABSL_GUARDED_BY it (absl/base/thread_annotations.h), so clang can prove at
compile time that no guarded member is touched without its lock. GCC, which
builds everything else, ignores those annotations; this check parses each
translation unit of common/, user-service/, post-service/, migrate/ and bench/
once more with clang++-14 -fsyntax-only -Wthread-safety -Werror, with the
flags of the given build's compile_commands.json (no code is generated: it
costs a fraction of a build).

Usage: scripts/tools/check_thread_safety.py BUILD_DIR [-j N]
Exit status 0 when every file is clean, 1 with clang's diagnostics otherwise.
"""
import argparse
import concurrent.futures
import json
import os
import shlex
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHECKED_DIRS = ("common", "user-service", "post-service", "migrate", "bench")
CLANG = "clang++-14"
CLANG_FLAGS = ["-fsyntax-only", "-Wthread-safety", "-Wthread-safety-beta", "-Werror",
               "-Wno-unknown-warning-option"]


def clang_command(entry):
    """The compile command of `entry`, for clang, without output or sanitizers."""
    args = entry["arguments"] if "arguments" in entry else shlex.split(entry["command"])
    out = [CLANG]
    skip = False
    for arg in args[1:]:
        if skip:
            skip = False
            continue
        if arg in ("-o", "-c"):
            skip = arg == "-o"
            continue
        if arg.startswith("-fsanitize") or arg.startswith("-fno-sanitize"):
            continue
        out.append(arg)
    return out + CLANG_FLAGS


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build_dir")
    parser.add_argument("-j", type=int, default=os.cpu_count() or 2)
    options = parser.parse_args()
    with open(os.path.join(options.build_dir, "compile_commands.json")) as f:
        entries = json.load(f)
    own = []
    seen = set()
    for entry in entries:
        path = os.path.relpath(os.path.join(entry["directory"], entry["file"]), ROOT)
        if path.split(os.sep)[0] in CHECKED_DIRS and path not in seen:
            seen.add(path)
            own.append((path, entry))
    if not own:
        print(f"check_thread_safety: no sources of {CHECKED_DIRS} in {options.build_dir}",
              file=sys.stderr)
        return 1

    def check(item):
        path, entry = item
        result = subprocess.run(clang_command(entry), cwd=entry["directory"],
                                capture_output=True, text=True)
        return path, result.returncode, result.stderr

    start = time.monotonic()
    failed = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=options.j) as pool:
        for path, code, stderr in pool.map(check, sorted(own)):
            if code != 0:
                failed.append(path)
                sys.stderr.write(stderr)
    seconds = time.monotonic() - start
    if failed:
        print(f"check_thread_safety: {len(failed)} of {len(own)} files fail clang's "
              f"thread-safety analysis: {' '.join(failed)}", file=sys.stderr)
        return 1
    print(f"check_thread_safety: {len(own)} files clean ({seconds:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
