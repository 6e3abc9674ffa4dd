# syntax=docker/dockerfile:1.7
# The operator image: /readyroll (the operator) and /readyroll-shim (copied
# into App pods by an init container), static, on an empty base, as nobody.
#
#   docker build -t readyroll.dev/readyroll:dev \
#     --build-arg READYROLL_GIT_COMMIT="$(git rev-parse --short=12 HEAD)" .
#
# Binaries are built exactly as the tests build them: the gnu target with a
# statically linked C library, so nothing but the two files is needed.

ARG RUST_VERSION=1.95

FROM docker.io/library/rust:${RUST_VERSION}-slim-bookworm AS builder
# `readyroll version` names this commit (.git is not in the build context).
ARG READYROLL_GIT_COMMIT=unknown
WORKDIR /src
COPY . .
# The target directory and the registry live in BuildKit caches; the
# binaries are copied out to /out inside the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    set -eux; \
    target="$(rustc -vV | sed -n 's/^host: //p')"; \
    export RUSTFLAGS="-C target-feature=+crt-static"; \
    cargo build --locked --target "$target" --release -p readyroll; \
    # The shim is copied into every App pod: its own size-tuned profile.
    cargo build --locked --target "$target" --profile shim -p readyroll-shim; \
    mkdir -p /out; \
    cp "target/$target/release/readyroll" "target/$target/shim/readyroll-shim" /out/; \
    strip /out/readyroll; \
    # A dynamically linked binary would not start on an empty base: fail here instead.
    for bin in /out/readyroll /out/readyroll-shim; do \
      if ldd "$bin" 2>&1 | grep -q '=>'; then echo "$bin is not static" >&2; exit 1; fi; \
    done; \
    /out/readyroll version

FROM scratch
COPY --from=builder --chmod=0555 /out/readyroll /readyroll
COPY --from=builder --chmod=0555 /out/readyroll-shim /readyroll-shim
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/readyroll"]
CMD ["run"]
