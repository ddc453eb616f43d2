# syntax=docker/dockerfile:1
#
# The sluice image: one static-ish binary on distroless/cc (glibc, libgcc,
# CA certificates; no shell, no package manager).
#
#   docker build --build-arg SLUICE_VERSION=0.1.0 -t REGION-docker.pkg.dev/PROJECT/sluice/sluice:0.1.0 .
#
# SLUICE_VERSION is compiled into the binary (`sluice --version`) and set as
# the image's OCI version label, so the two cannot disagree; the build fails
# if they do. The image runs as the distroless `nonroot` user (65532) and
# writes nothing to its root filesystem: state goes to the pipeline's
# data_dir, a volume (see deploy/kubernetes/).

ARG RUST_VERSION=1.95
ARG SLUICE_VERSION=0.1.0

FROM rust:${RUST_VERSION}-bookworm AS build
ARG SLUICE_VERSION
WORKDIR /src
# The whole context (filtered by .dockerignore): the binary embeds the
# dry-run pipeline and fixtures with include_bytes!.
COPY . .
# Cache mounts keep the registry and target dir between builds; the binary
# is copied out of the cached target dir so the next stage can see it.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    SLUICE_BUILD_VERSION="${SLUICE_VERSION}" cargo build --release --locked --bin sluice \
    && install -D -m 0755 target/release/sluice /out/sluice \
    && test "$(/out/sluice --version)" = "sluice ${SLUICE_VERSION}"

FROM gcr.io/distroless/cc-debian12:nonroot
ARG SLUICE_VERSION
LABEL org.opencontainers.image.title="sluice" \
      org.opencontainers.image.description="GKE log pipeline that redacts PII on the node before BigQuery and GCS" \
      org.opencontainers.image.version="${SLUICE_VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/sluice /usr/local/bin/sluice
COPY --chown=0:0 pipelines /etc/sluice/pipelines
WORKDIR /etc/sluice
USER 65532:65532
# 9598: /metrics, /health/live, /health/ready (global.metrics_address).
EXPOSE 9598
ENTRYPOINT ["/usr/local/bin/sluice"]
CMD ["run", "/etc/sluice/pipelines/gke-node.toml"]
