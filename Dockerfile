# anjia: multi-stage build. The runtime image holds one static-ish binary,
# the layered config files, and nothing that runs as root.
#
#   docker build -t anjia .
#   docker run -p 8080:8080 -e ANJIA__DATABASE__URL=postgres://... -e ANJIA__AUTH__JWT_SECRET=... anjia

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Dependencies first, so source edits do not rebuild them.
COPY Cargo.toml Cargo.lock ./
COPY entity/Cargo.toml entity/Cargo.toml
COPY migration/Cargo.toml migration/Cargo.toml
RUN mkdir -p src entity/src migration/src benches/support \
 && echo 'fn main() {}' > src/main.rs && touch src/lib.rs entity/src/lib.rs migration/src/lib.rs \
 && echo 'fn main() {}' > benches/http.rs \
 && cargo build --release --locked --bin anjia || true
COPY . .
RUN touch src/main.rs src/lib.rs entity/src/lib.rs migration/src/lib.rs \
 && cargo build --release --locked --bin anjia

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin anjia
WORKDIR /app
COPY --from=build /src/target/release/anjia /usr/local/bin/anjia
COPY config ./config
ENV ANJIA_ENV=production \
    ANJIA_CONFIG_DIR=/app/config \
    ANJIA__SERVER__HOST=0.0.0.0 \
    ANJIA__SERVER__PORT=8080
USER anjia
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["anjia", "healthcheck"]
CMD ["anjia", "serve"]
