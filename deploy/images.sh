#!/usr/bin/env bash
# Builds the three container images from deploy/Dockerfile with podman, the
# way deploy/README.md tells a user to, on a machine without a registry.
#
#   deploy/images.sh build   prepare podman, make the base image if missing,
#                            build microblog/{user-service,post-service,migrate}
#                            with the tag of deploy/k8s/base/kustomization.yaml,
#                            prune earlier builds' untagged layers (this build's
#                            stages stay, tagged microblog/*:cache), print sizes
#   deploy/images.sh prefetch  prepare podman, make the base image if missing,
#                            and build the stages that only download and
#                            install packages (build-deps, runtime): network
#                            and disk mostly, so scripts/test.sh runs it in
#                            the background while it compiles the dev build
#   deploy/images.sh sizes   print the sizes of the built images
#   deploy/images.sh clean   remove the three images, the stages'
#                            microblog/{build-deps,build,runtime}:cache and dangling layers
#                            (the base image stays: making it costs ~80 s)
#   deploy/images.sh clean --all   also the base image debian:12(-slim)
#
# Preparing podman (only what a probe shows is needed, so the same script
# runs unchanged on an ordinary machine):
#   - No registry is assumed: when docker.io/library/debian:12-slim is not in
#     local storage, it is made with `debootstrap --variant=minbase bookworm`
#     from the apt mirror this machine uses (/etc/apt/sources.list*) and
#     imported as debian:12-slim, tagged debian:12 too. Every build runs with
#     --pull=never. Podman's storage keeps it, so CI on the same machine makes
#     it once.
#   - `podman run --rm debian:12-slim true` is the probe. If it fails, a
#     containers.conf drop-in (containers.conf.d/50-microblog-images.conf;
#     /etc/containers for root, ~/.config/containers otherwise) first sets
#     `runtime = "runc"` (crun refuses some sandboxes' hybrid cgroup
#     layout), then, if still needed, `default_ulimits` no higher than this
#     process's hard limits (the runtime's setrlimit fails above them; nproc
#     is lowered step by step down to 4096 until the probe passes).
#
# The build stage compiles the three binaries (Release) inside the
# container without ccache: a few minutes on 2 cores when its layers are not
# cached. The three `podman build` runs share the build stage's cached
# layers, so it runs once per source change.
#
# Needs podman, buildah, runc, uidmap, slirp4netns, fuse-overlayfs and
# debootstrap (scripts/install-deps.sh installs them). Making the base image
# and writing /etc/containers need root.
#
# prefetch and build take a lock (flock on /tmp/microblog-images.lock), so a
# build waits for a prefetch still running instead of racing it.
#
# Exit status: 0 on success; 1 on any failure (the failing command's output
# is shown); 2 on a usage error.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGES=(user-service post-service migrate)
BASE=docker.io/library/debian:12-slim
BASE_FULL=docker.io/library/debian:12
CONF_NAME=50-microblog-images.conf
# As in Debian's own images (podman import sets no environment).
BASE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

log() { printf '[images] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# The one tag of the release's images, as the manifests name it.
image_tag() {
  local tag
  tag="$(sed -n 's/^ *newTag: *\([^ #]*\).*/\1/p' "$ROOT/deploy/k8s/base/kustomization.yaml" | sort -u)"
  [[ -n "$tag" && "$(wc -l <<<"$tag")" -eq 1 ]] ||
    die "deploy/k8s/base/kustomization.yaml must give one newTag for all images, found: ${tag:-none}"
  printf '%s\n' "$tag"
}

conf_dir() {
  if [[ "$(id -u)" -eq 0 ]]; then
    echo /etc/containers/containers.conf.d
  else
    echo "${XDG_CONFIG_HOME:-$HOME/.config}/containers/containers.conf.d"
  fi
}

# The first Debian mirror (and security mirror) this machine's apt uses, in
# one-line or deb822 format; deb.debian.org when none is found.
apt_uri() {
  local pattern="$1" fallback="$2" uri
  uri="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    sed -n -E 's/^deb +(\[[^]]*\] +)?(https?:[^ ]+).*/\2/p; s/^URIs: *(https?:[^ ]+).*/\1/p' |
    grep -E "$pattern" | head -1 || true)"
  printf '%s\n' "${uri:-$fallback}"
}

make_base_image() {
  if podman image exists "$BASE"; then
    podman image exists "$BASE_FULL" || podman tag "$BASE" "$BASE_FULL"
    return
  fi
  [[ "$(id -u)" -eq 0 ]] || die "$BASE is missing and making it with debootstrap needs root"
  command -v debootstrap >/dev/null || die "debootstrap is missing (scripts/install-deps.sh installs it)"
  local mirror security dir
  mirror="$(apt_uri '/debian/?$' http://deb.debian.org/debian)"
  security="$(apt_uri 'debian-security/?$' http://deb.debian.org/debian-security)"
  dir="$(mktemp -d /tmp/microblog-debootstrap.XXXXXX)"
  # shellcheck disable=SC2064
  trap "rm -rf '$dir'" RETURN
  log "$BASE is not in local storage: debootstrap --variant=minbase bookworm from $mirror"
  local start=$SECONDS
  debootstrap --variant=minbase bookworm "$dir" "$mirror" >"$dir.log" 2>&1 ||
    { cat "$dir.log" >&2; rm -f "$dir.log"; die "debootstrap failed"; }
  rm -f "$dir.log"
  # As Debian's own container images: updates and security in the sources,
  # no documentation installed by later layers, no apt cache kept.
  rm -f "$dir/etc/apt/sources.list"
  cat >"$dir/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  cat >"$dir/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
  printf 'APT::Keep-Downloaded-Packages "false";\n' >"$dir/etc/apt/apt.conf.d/docker-clean"
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb \
    "$dir"/var/log/* "$dir"/usr/share/doc/*/changelog* "$dir"/usr/share/man/* "$dir"/usr/share/locale/*
  tar --numeric-owner -C "$dir" -c . |
    podman import --change "ENV PATH=$BASE_PATH" --change 'CMD ["bash"]' - "$BASE" >/dev/null
  podman tag "$BASE" "$BASE_FULL"
  log "made $BASE and $BASE_FULL in $((SECONDS - start)) s"
}

probe() {
  podman run --rm --pull=never --network none "$BASE" true >/dev/null 2>&1
}

# Writes only what the probe shows is needed (see the header).
prepare_podman() {
  command -v podman >/dev/null || die "podman is missing (scripts/install-deps.sh installs it)"
  make_base_image
  probe && return
  local dir conf
  dir="$(conf_dir)"
  conf="$dir/$CONF_NAME"
  mkdir -p "$dir"
  log "podman cannot run a container with its defaults; writing $conf"
  printf '# Written by deploy/images.sh: podman could not run a container without it.\n[engine]\nruntime = "runc"\n' >"$conf"
  if probe; then log "  runtime = \"runc\" was enough"; return; fi
  # The hard limits of this process, then lower nproc values: in some
  # sandboxes the runtime may not even reach this process's own hard limit.
  local nofile max_nproc nproc
  nofile="$(ulimit -Hn)"
  max_nproc="$(ulimit -Hu)"
  [[ "$nofile" == unlimited ]] && nofile=1048576
  [[ "$max_nproc" == unlimited ]] && max_nproc=1048576
  for nproc in "$max_nproc" 65536 32768 16384 8192 4096; do
    ((nproc <= max_nproc)) || continue
    printf '# Written by deploy/images.sh: podman could not run a container without it.\n[engine]\nruntime = "runc"\n[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=%s:%s"]\n' \
      "$nofile" "$nofile" "$nproc" "$nproc" >"$conf"
    if probe; then log "  runtime = \"runc\" and default_ulimits nofile=$nofile nproc=$nproc"; return; fi
  done
  podman run --rm --pull=never --network none "$BASE" true || true
  die "podman still cannot run a container (see above; $conf is left in place)"
}

print_sizes() {
  local tag="$1" name
  for name in "${IMAGES[@]}"; do
    podman image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' "localhost/microblog/$name:$tag"
  done
}

build() {
  local tag name start
  tag="$(image_tag)"
  prepare_podman
  cd "$ROOT"
  for name in "${IMAGES[@]}"; do
    start=$SECONDS
    log "podman build --target $name -t microblog/$name:$tag"
    podman build --pull=never -f deploy/Dockerfile --target "$name" -t "microblog/$name:$tag" .
    log "microblog/$name:$tag built in $((SECONDS - start)) s"
  done
  # The intermediate stages keep a tag (so that pruning keeps this build's
  # layers for the next one); earlier builds' untagged build stages (~700 MB
  # each) go.
  for name in build-deps build runtime; do
    podman build --pull=never -f deploy/Dockerfile --target "$name" -t "microblog/$name:cache" . >/dev/null
  done
  podman image prune --force >/dev/null
  print_sizes "$tag"
}

prefetch() {
  local stage start=$SECONDS
  prepare_podman
  cd "$ROOT"
  for stage in build-deps runtime; do
    log "podman build --target $stage (packages only)"
    podman build --pull=never -f deploy/Dockerfile --target "$stage" -t "microblog/$stage:cache" . >/dev/null
  done
  log "prefetched the package stages in $((SECONDS - start)) s"
}

# Runs "$@" holding the lock shared by prefetch and build.
locked() {
  exec 9>"/tmp/microblog-images.lock"
  flock 9
  "$@"
}

clean() {
  local tag name
  tag="$(image_tag)"
  for name in "${IMAGES[@]}"; do
    podman image rm --force "localhost/microblog/$name:$tag" 2>/dev/null || true
  done
  podman image rm --force localhost/microblog/build-deps:cache localhost/microblog/build:cache \
    localhost/microblog/runtime:cache 2>/dev/null || true
  podman image prune --force >/dev/null
  if [[ "${1:-}" == --all ]]; then
    podman image rm --force "$BASE" "$BASE_FULL" 2>/dev/null || true
  fi
}

case "${1:-}" in
  build) locked build ;;
  prefetch) locked prefetch ;;
  sizes) print_sizes "$(image_tag)" ;;
  clean) clean "${2:-}" ;;
  *)
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
    exit 2
    ;;
esac
