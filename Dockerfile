# syntax=docker/dockerfile:1
# mqtk in a small image: the binary on a distroless base (glibc, CA certificates, no
# shell), running as an unprivileged user. Used by deploy/kubernetes/ for `mqtk bench`
# fleets; `docker run --rm mqtk:latest pub -h broker -t a -m hi` works as well.
#
#   docker build -t mqtk:latest .
#
# CI has no container engine, so this file is not built there; the Kubernetes test
# runs the Job's container command with the binary it built instead.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# Cache mounts keep the registry and the build between image builds; the binary is
# copied out of the cached target directory.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin mqtk \
    && cp target/release/mqtk /mqtk \
    && strip /mqtk

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /mqtk /usr/local/bin/mqtk
# distroless's "nonroot" user (65532), as the Job's securityContext expects.
USER 65532:65532
# `mqtk bench --metrics 0.0.0.0:9464`
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/mqtk"]
CMD ["--help"]
