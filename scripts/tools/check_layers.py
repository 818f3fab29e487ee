#!/usr/bin/python3
"""The layers of the code, checked (scripts/test.sh, step "layers").

1. Includes run one way. common/ is six libraries, one folder and one
   CMake target each, in this order:

       {base, text}  <  exec  <  {auth, db, rpc}  <  service

   A file in common/<A>/ may include common/<B>/ only when B is A or comes
   before A; db and rpc may not include each other; nothing in common/
   includes a service's folder (user-service/, post-service/, migrate/,
   bench/, tests/). Every `#include "common/..."` in common/, the services,
   migrate/, bench/ and tests/ must name a file of one of the six folders.
   Each common/<A>/CMakeLists.txt may link only the microblog_<B> targets
   that A may include.

2. The logic layer compiles without gRPC and libpqxx: the include closure of
   each LOGIC_HEADERS entry, as g++ -H sees it, holds no grpcpp/ (nor gRPC
   core's grpc/) and no pqxx/ (nor libpq-fe.h). The generated protobuf
   headers it needs are made here with protoc (C++ only, no gRPC plugin),
   so the check needs no build.

Exit status 0 when both hold, 1 otherwise (each violation on its own line,
file:line first), 2 on a usage or tool error.

Usage: scripts/tools/check_layers.py [--includes-only] [--cxx g++] [--protoc protoc]
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Rank of each library of common/: a folder may include the ones of a lower
# rank, and its own; auth, db and rpc share a rank and may not include each other.
LAYERS = {"base": 0, "text": 0, "exec": 1, "auth": 2, "db": 2, "rpc": 2, "service": 3}
# Folders of code outside common/, which common/ must not include.
OUTSIDE = ("user-service", "post-service", "migrate", "bench", "tests")
SCANNED = ("common",) + OUTSIDE
SOURCE_SUFFIXES = (".h", ".cc")

# The logic layer of each service: its headers' include closure is checked.
LOGIC_HEADERS = ("user-service/user_accounts.h", "post-service/posts.h")
# What the logic must not see: gRPC (C++ and core) and libpqxx/libpq.
FORBIDDEN = (
    ("grpcpp/", re.compile(r"(^|/)grpcpp/")),
    ("grpc/", re.compile(r"/include/grpc/")),
    ("pqxx/", re.compile(r"(^|/)pqxx/")),
    ("libpq-fe.h", re.compile(r"(^|/)libpq-fe\.h$")),
)

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def may_include(layer, other):
    return other == layer or LAYERS[other] < LAYERS[layer]


def source_files():
    for top in SCANNED:
        for directory, dirs, files in os.walk(os.path.join(ROOT, top)):
            dirs[:] = sorted(d for d in dirs if d not in ("corpus", "node_modules", "results"))
            for name in sorted(files):
                if name.endswith(SOURCE_SUFFIXES):
                    yield os.path.relpath(os.path.join(directory, name), ROOT)


def layer_of(path):
    """The library of a common/ file, None outside common/, "" in common/ itself."""
    parts = path.split("/")
    if parts[0] != "common":
        return None
    return parts[1] if len(parts) > 2 and parts[1] in LAYERS else ""


def check_includes():
    problems = []
    for path in source_files():
        layer = layer_of(path)
        if layer == "":
            problems.append(f"{path}:1: a file of common/ outside its six library folders")
            continue
        with open(os.path.join(ROOT, path), encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                included = m.group(1)
                where = f'{path}:{number}: #include "{included}"'
                top = included.split("/")[0]
                if top == "common":
                    other = layer_of(included)
                    if not other:
                        problems.append(f"{where}: not in one of common/'s libraries "
                                        f"({', '.join(LAYERS)})")
                    elif not os.path.isfile(os.path.join(ROOT, included)):
                        problems.append(f"{where}: no such file")
                    elif layer is not None and not may_include(layer, other):
                        problems.append(f"{where}: common/{layer}/ may not include "
                                        f"common/{other}/ (base < exec < {{db, rpc}} < service)")
                elif layer is not None and top in OUTSIDE:
                    problems.append(f"{where}: common/ may not include a service's folder")
    return problems


def check_cmake_links():
    problems = []
    target = re.compile(r"\bmicroblog_(%s)\b" % "|".join(LAYERS))
    for layer in LAYERS:
        path = os.path.join("common", layer, "CMakeLists.txt")
        full = os.path.join(ROOT, path)
        if not os.path.isfile(full):
            problems.append(f"{path}:1: missing (one CMake target per library folder)")
            continue
        with open(full, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                code = line.split("#", 1)[0]
                for m in target.finditer(code):
                    if not may_include(layer, m.group(1)):
                        problems.append(f"{path}:{number}: microblog_{layer} may not link "
                                        f"microblog_{m.group(1)}")
    return problems


def closure_problems(header, cxx, include_dirs):
    """Paths in `header`'s include closure that FORBIDDEN names, with their chain."""
    command = [cxx, "-std=c++17", "-x", "c++", "-fsyntax-only", "-H", "-DPQXX_HAVE_OPTIONAL=1"]
    for directory in include_dirs:
        command += ["-I", directory]
    command.append(os.path.join(ROOT, header))
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    problems = []
    chain = []  # the include chain down to the current header
    for line in run.stderr.splitlines():
        m = re.match(r"^(\.+) (.+)$", line)
        if not m:
            continue
        depth, path = len(m.group(1)), os.path.normpath(m.group(2))
        del chain[depth - 1:]
        chain.append(os.path.relpath(path, ROOT) if path.startswith(ROOT + os.sep) else path)
        for name, pattern in FORBIDDEN:
            if pattern.search(path):
                problems.append(f"{header}:1: includes {name}: " + " -> ".join(chain))
                break
    if run.returncode != 0:
        # The -H lines (". path") are the closure; the rest is the error. A
        # missing *.grpc.pb.h is gRPC's generated code, which is not made here.
        errors = "\n".join(l for l in run.stderr.splitlines()
                           if not re.match(r"^\.+ ", l) and not l.startswith("Multiple include"))
        problems.append(f"{header}:1: does not compile on its own without gRPC's and "
                        f"libpqxx's headers ({' '.join(command)}):\n{errors}")
    # One chain per header that `header` includes itself is enough.
    seen, unique = set(), []
    for problem in problems:
        key = problem.split(": ", 2)[-1].split(" -> ")[0]
        if key not in seen:
            seen.add(key)
            unique.append(problem)
    return unique


def check_logic_closure(cxx, protoc):
    for tool in (cxx, protoc):
        if shutil.which(tool) is None:
            print(f"check_layers: {tool} not found", file=sys.stderr)
            sys.exit(2)
    protos = []
    proto_root = os.path.join(ROOT, "proto")
    for directory, _, files in os.walk(os.path.join(proto_root, "microblog")):
        protos += [os.path.relpath(os.path.join(directory, f), proto_root)
                   for f in files if f.endswith(".proto")]
    with tempfile.TemporaryDirectory(prefix="check_layers.") as gen:
        run = subprocess.run([protoc, f"-I{proto_root}", "-I/usr/include", f"--cpp_out={gen}"]
                             + sorted(protos), cwd=proto_root, capture_output=True, text=True)
        if run.returncode != 0:
            print(f"check_layers: protoc failed:\n{run.stderr}", file=sys.stderr)
            sys.exit(2)
        problems = []
        for header in LOGIC_HEADERS:
            problems += closure_problems(header, cxx, [ROOT, gen])
        return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--includes-only", action="store_true",
                        help="only check 1 (no compiler needed)")
    parser.add_argument("--cxx", default="g++")
    parser.add_argument("--protoc", default="protoc")
    args = parser.parse_args()

    problems = check_includes() + check_cmake_links()
    checked = "includes run one way"
    if not args.includes_only:
        problems += check_logic_closure(args.cxx, args.protoc)
        checked += f"; no gRPC or libpqxx in the closure of {', '.join(LOGIC_HEADERS)}"
    for problem in problems:
        print(problem)
    if problems:
        print(f"check_layers: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"check_layers: ok ({checked})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
