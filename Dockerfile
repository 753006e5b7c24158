# The conveyor image: one static-ish binary on a distroless base, run as a non-root user.
# ECS runs it as `conveyor api` and `conveyor worker` (infra/modules/ecs); `docker run IMAGE`
# alone runs `conveyor serve` on the embedded default.

# ---- build -------------------------------------------------------------------------------------
FROM rust:1.89-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates crates
COPY config config
# The cache mounts keep the registry and target directory between builds on the same builder.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p conveyor \
    && install -D target/release/conveyor /out/conveyor \
    && mkdir -p /out/data

# ---- run ---------------------------------------------------------------------------------------
# distroless/cc: glibc, CA certificates and tzdata, no shell, no package manager (about 25 MB).
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/conveyor /usr/local/bin/conveyor
COPY --from=build --chown=nonroot:nonroot /out/data /data
# The shipped configurations, for CONVEYOR_CONFIG (SnSD's tasks run /etc/conveyor/snsd.toml).
COPY config /etc/conveyor
ENV CONVEYOR_DATA_DIR=/data \
    CONVEYOR_LISTEN=0.0.0.0:8080
USER nonroot
EXPOSE 8080 9324
ENTRYPOINT ["/usr/local/bin/conveyor"]
CMD ["serve"]
