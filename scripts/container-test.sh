#!/usr/bin/env bash
# Builds the image from the repository's Dockerfile and runs `make test` in it, on a clean clone of this
# checkout's HEAD (what is committed; uncommitted changes are not tested), as the image's user `lab`.
# Uses podman, else docker (ENGINE=docker to choose). Prints how long the build and the test took.
# BUILD_ARGS: more flags for the build (--no-cache); TEST_CMD: another command than `make test` (a diagnosis).
#
#   scripts/container-test.sh                 # on a normal Linux machine or a Docker Desktop
#   LEAKLAB_CONTAINER_WORKAROUNDS=1 scripts/container-test.sh   # on the project's sandboxed machine (below)
#
# Empty arrays are expanded as ${a[@]+"${a[@]}"} for macOS's bash 3.2 under set -u.
# Nothing is written to the checkout: the clone lives in a temporary folder, mounted read-only in the container
# and cloned again there, so `make setup` and the tests write only inside the container, which is removed.
set -euo pipefail

repo=${REPO:-$(cd "$(dirname "$0")/.." && pwd)}
engine=${ENGINE:-$(command -v podman || command -v docker || true)}
image=${IMAGE:-go-leak-lab}
[ -n "$engine" ] || { echo "container-test: needs podman or docker" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone --quiet "$repo" "$work/src"
echo "container-test: $(git -C "$work/src" log -1 --format='%h %s' | cut -c1-100)"

build_flags=()
run_flags=()

# The project's machine is a sandbox, not a normal host; three things differ, none of which a normal machine
# (or Docker Desktop on macOS/Windows) needs:
# - No container registry is reachable (only Debian's and PyPI's mirrors are): `FROM debian:bookworm` cannot be
#   pulled, so the same Debian 12 is made locally with debootstrap (minbase, from deb.debian.org) and tagged
#   docker.io/library/debian:bookworm, the name the Dockerfile's short name resolves to.
# - HTTPS leaves through a proxy that re-signs certificates with its own CA, which the host trusts but the
#   image does not: pip (which carries its own CA list) and Go's module downloads would fail. The host's CA
#   bundle is mounted, with a pip.conf naming it, during the build and the test (the image keeps only their
#   two empty mount points).
# - The sandbox has no CAP_SYS_RESOURCE and a hybrid cgroup v1/v2 layout: podman's default rlimits (1048576
#   open files, 4194304 processes) cannot be set ("setrlimit RLIMIT_NOFILE: Operation not permitted"), so they
#   are lowered to what this host allows (20000 files, 32768 processes); and crun 1.8 refuses the hybrid
#   layout ("cgroups in hybrid mode not supported"), so runc runs the containers.
this_machine_workarounds() {
    case "$engine" in *podman) ;; *) echo "container-test: the workarounds are for podman" >&2; exit 2 ;; esac
    if ! "$engine" image exists docker.io/library/debian:bookworm; then
        echo "container-test: making debian:bookworm with debootstrap (no registry here)"
        debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian >"$work/debootstrap.log"
        tar -C "$work/rootfs" -c . | "$engine" import - docker.io/library/debian:bookworm >/dev/null
        rm -rf "$work/rootfs"
    fi
    printf '[global]\ncert = /run/host-ca.crt\n' >"$work/pip.conf"
    local ca=/etc/ssl/certs/ca-certificates.crt
    local common=(--runtime runc --ulimit nofile=20000:20000 --ulimit nproc=32768:32768
                  -v "$ca:/run/host-ca.crt:ro" -v "$work/pip.conf:/etc/pip.conf:ro")
    build_flags+=("${common[@]}")
    run_flags+=("${common[@]}" -e SSL_CERT_FILE=/run/host-ca.crt)
}
[ "${LEAKLAB_CONTAINER_WORKAROUNDS:-0}" = 1 ] && this_machine_workarounds

echo "container-test: $("$engine" --version)"
start=$SECONDS
"$engine" build ${build_flags[@]+"${build_flags[@]}"} ${BUILD_ARGS:-} -t "$image" -f "$work/src/Dockerfile" "$work/src"
build_s=$((SECONDS - start))
echo "container-test: image built in ${build_s} s"

# --init: an init as PID 1 reaps orphaned processes as on a host; without it make or bash is PID 1, and the
# orphans of the programs the tests kill could stay behind as zombies.
start=$SECONDS
status=0
"$engine" run --rm --init ${run_flags[@]+"${run_flags[@]}"} -v "$work/src:/src:ro,z" "$image" \
    bash -c 'git clone --quiet /src ~/go-leak-lab && cd ~/go-leak-lab && eval "$0"' "${TEST_CMD:-make test}" ||
    status=$?
test_s=$((SECONDS - start))
echo "container-test: ${TEST_CMD:-make test} exited $status after ${test_s} s in the image (built in ${build_s} s)"
exit "$status"
