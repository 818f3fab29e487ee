#!/usr/bin/env bash
# Installs everything the build, the tests and the local stack need, on
# Debian 12 (bookworm):
#   1. Debian packages (apt-get; as root directly, otherwise through sudo).
#      `apt-get update` runs only when something is missing.
#   2. The npm tools pinned in scripts/tools/package.json + package-lock.json
#      (buf, squawk, kubernetes-models, ...) into the git-ignored .local/ of the
#      checkout, with `npm ci --prefix .local`.
# Idempotent, and a fast no-op when everything is already present.
#
# Usage: scripts/install-deps.sh        (from any directory)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '[install-deps] %s\n' "$*" >&2; }

# Packages named for the code that needs them; keep in sync with README.md.
DEB_PACKAGES=(
  # Toolchain and build system.
  build-essential g++ cmake ninja-build pkg-config git ca-certificates
  # The fuzz targets (tests/fuzz/, preset `fuzz`): clang with libFuzzer and
  # the sanitizer runtimes it links.
  clang-14 libfuzzer-14-dev libclang-rt-14-dev
  # The format check (.clang-format; scripts/test.sh) and the clang
  # thread-safety analysis (scripts/tools/check_thread_safety.py: clang-14).
  clang-format-14
  # C++ libraries and code generators (gRPC 1.51, protobuf 3.21).
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libpqxx-dev libpq-dev libsodium-dev librhonabwy-dev libjansson-dev libgnutls28-dev libabsl-dev libgtest-dev libgmock-dev
  # Unicode: the username profile, e-mail keys, visible text (common/text: ICU 72).
  libicu-dev
  # .proto files we compile but do not own: google/rpc/*.proto (inside a jar)
  # and grpc/{health,reflection}/*.proto.
  libgoogle-common-protos-java grpc-proto
  # The metrics' embedded HTTP server; promtool (and the Prometheus server)
  # check what it serves in the tests.
  libcivetweb-dev prometheus
  # PostgreSQL 15: the tests' throwaway clusters and scripts/pg.sh.
  postgresql-15 postgresql-client-15
  # PgBouncer 1.18: the pooler tests put it in front of the throwaway cluster.
  pgbouncer
  # tests/grpcurl/grpcurl.py (Debian's python3, not a virtualenv's).
  python3 python3-grpcio python3-protobuf
  # runuser (PostgreSQL refuses to run as root), ps, ss.
  util-linux procps iproute2
  # The TLS tests make a throwaway CA and certificates with the openssl tool.
  openssl
  # The container images (deploy/images.sh, tests label `images`): podman
  # with runc, and debootstrap to make debian:12-slim without a registry.
  podman buildah runc uidmap slirp4netns fuse-overlayfs debootstrap
)

deb_installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" == installed ]]
}

missing=()
for pkg in "${DEB_PACKAGES[@]}"; do
  deb_installed "$pkg" || missing+=("$pkg")
done
# Node.js and npm may come from elsewhere (e.g. NodeSource's nodejs, which
# bundles npm and conflicts with Debian's npm package): any node >= 18 on
# PATH will do; otherwise take Debian's.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# kubectl (deploy/ checks): Debian ships it as kubernetes-client; a kubectl
# already on PATH (usually newer) wins.
command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)

if ((${#missing[@]})); then
  log "missing Debian packages: ${missing[*]}"
  if [[ "$(id -u)" -eq 0 ]]; then
    SUDO=()
  elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    log "not root and no sudo: install them by hand: apt-get install ${missing[*]}"
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -q
  "${SUDO[@]}" apt-get install -y -q "${missing[@]}"
fi

node_major="$(node -p 'process.versions.node.split(".")[0]')"
if ((node_major < 18)); then
  log "node $(node --version) is too old for the npm tools (need >= 18)"
  exit 1
fi

# npm tools. The stamp records which lock file .local/node_modules matches, so
# an unchanged lock costs nothing; a changed one reinstalls from scratch.
TOOLS="$ROOT/scripts/tools"
LOCAL="$ROOT/.local"
STAMP="$LOCAL/node_modules/.microblog-tools.sha256"
want="$(cat "$TOOLS/package.json" "$TOOLS/package-lock.json" | sha256sum | cut -d' ' -f1)"
if [[ ! -x "$LOCAL/node_modules/.bin/buf" || ! -x "$LOCAL/node_modules/.bin/squawk" || ! -f "$STAMP" || "$(cat "$STAMP")" != "$want" ]]; then
  log "installing npm tools from scripts/tools/package-lock.json into .local/"
  mkdir -p "$LOCAL"
  cp "$TOOLS/package.json" "$TOOLS/package-lock.json" "$LOCAL/"
  npm ci --prefix "$LOCAL" --no-audit --no-fund --loglevel=error </dev/null
  "$LOCAL/node_modules/.bin/buf" --version >/dev/null
  # squawk's binary comes from its platform package (@squawk-cli/linux-x64).
  "$LOCAL/node_modules/.bin/squawk" --version >/dev/null
  printf '%s\n' "$want" >"$STAMP"
fi

log "all dependencies present"
