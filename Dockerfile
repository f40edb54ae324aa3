# syntax=docker/dockerfile:1
# tandem: one image for every command (serve, migrate, rooms, loadtest).
#   docker build -t tandem:dev .
#   docker run --rm -p 4001:4001 tandem:dev                      # serve, embedded mode
#   docker run --rm tandem:dev migrate --config /etc/tandem/tandem.toml --wait 60s
# Build stage: Debian 12 with the -dev packages of scripts/deps (no test or service packages).
# Runtime stage: Debian 12 slim with the shared libraries the binary links, nothing else.
ARG DEBIAN_RELEASE=bookworm

FROM debian:${DEBIAN_RELEASE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
      libcli11-dev libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev \
      libpqxx-dev libhiredis-dev libspdlog-dev libtomlplusplus-dev libsqlite3-dev libssl-dev libjemalloc-dev prometheus-cpp-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# .dockerignore admits only the sources the binary is built from (no .git: the version reads
# "commit unknown"; the image's revision is in its org.opencontainers.image.revision label).
COPY . .
ARG TANDEM_BUILD_JOBS=2
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTANDEM_BUILD_TESTS=OFF \
 && cmake --build build --target tandem -j "${TANDEM_BUILD_JOBS}" \
 && strip --strip-debug -o /tandem build/cli/tandem \
 && /tandem --version

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# The packages of the libraries `ldd tandem` lists (libpq5 and the rest come as their dependencies).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libpqxx-6.4 libhiredis0.14 libspdlog1.10 libfmt9 libboost-json1.81.0 libboost-url1.81.0 \
      libsqlite3-0 libssl3 libtomlplusplus3 libjemalloc2 libprometheus-cpp-core1.0 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 tandem \
 && useradd --uid 10001 --gid tandem --no-create-home --home-dir /var/lib/tandem --shell /usr/sbin/nologin tandem \
 && install -d -o tandem -g tandem -m 0750 /var/lib/tandem \
 && install -d -m 0755 /etc/tandem
COPY --from=build /tandem /usr/local/bin/tandem

ARG TANDEM_REVISION=unknown
LABEL org.opencontainers.image.title="tandem" \
      org.opencontainers.image.description="WebSocket signaling server for watching videos together" \
      org.opencontainers.image.revision="${TANDEM_REVISION}"

# No TANDEM_* variable is set here: the environment overrides tandem.toml, and scripts/check-k8s
# checks each container's configuration with exactly the environment its manifest gives.
# Embedded mode keeps data_dir/tandem.db under the working directory (default data_dir ./data).
USER 10001:10001
WORKDIR /var/lib/tandem
EXPOSE 4001
# bash's /dev/tcp instead of curl, which would pull in a dozen more libraries. Kubernetes ignores
# HEALTHCHECK and uses the Deployment's probes.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${TANDEM_SERVER_PORT:-${PORT:-4001}} && printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3 && read -r -t 2 status <&3 && [[ $status == *' 200 '* ]]"]
# SIGTERM drains (server.drain_timeout); give `docker stop` more time: docker stop -t 35.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/tandem"]
CMD ["serve"]
