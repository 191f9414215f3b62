# syntax=docker/dockerfile:1
# The poolcheck command in a container image, for CI systems that run jobs in
# images (GitLab CI, Woodpecker, Drone, Tekton, ...):
#
#   docker build -t poolcheck .
#   docker run --rm -v "$PWD:/src" poolcheck check
#
# Stage 1 compiles the release binary; stage 2 is a slim Debian with only that
# binary and an unprivileged user. Debian rather than distroless or scratch:
# GitLab CI runs a job's `script:` with the image's /bin/sh.

ARG RUST_IMAGE=rust:1-slim-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
WORKDIR /build
COPY . .
# The caches keep the crates.io downloads and compiled dependencies between
# builds; the binary is copied out because a cache mount is not part of the
# image.
ENV CARGO_PROFILE_RELEASE_STRIP=symbols
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/build/target \
    cargo build --release --locked --package poolcheck \
    && install -D --mode=0755 target/release/poolcheck /out/poolcheck

FROM ${RUNTIME_IMAGE}
ARG POOLCHECK_UID=10001
RUN useradd --system --uid "${POOLCHECK_UID}" --user-group --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin poolcheck
COPY --from=build /out/poolcheck /usr/local/bin/poolcheck
USER poolcheck
# Mount the project to check here.
WORKDIR /src
ENTRYPOINT ["poolcheck"]
CMD ["check"]
