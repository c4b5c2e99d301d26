# The `gitops` image: the CLI for pipelines and the `gitops watch` daemon (deploy/).
# Built for several platforms with buildx (see examples/*.yml): each platform's stage runs
# natively or under QEMU, so no cross-compiler setup is needed.
FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config libssl-dev cmake \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --bin gitops \
 && install -m 0755 target/release/gitops /usr/local/bin/gitops

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 git \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 65532 --user-group --home-dir /home/gitops --create-home gitops
COPY --from=build /usr/local/bin/gitops /usr/local/bin/gitops
USER 65532:65532
WORKDIR /home/gitops
ENTRYPOINT ["/usr/local/bin/gitops"]
CMD ["--help"]
