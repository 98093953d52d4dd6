# SalesPortal as a container: a multi-stage build. The first stage builds the executable with
# the Swift runtime linked in (--static-swift-stdlib); the second is a slim Debian with only
# the C libraries it links (libcurl, SQLite, zlib), run as a user without privileges.
#   docker build -t sales-portal .
#   docker run -p 8080:8080 -v sales-data:/var/lib/sales-portal sales-portal
# deploy/cloudrun.md runs it on Cloud Run with Cloud Storage and BigQuery.

FROM swift:6.3-bookworm AS build
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libcurl4-openssl-dev libsqlite3-dev zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The package manifest first, so the dependency layer is reused while only sources change.
COPY Package.swift ./
RUN swift package resolve
COPY Sources ./Sources
COPY Tests ./Tests
COPY scripts/build-static.sh ./scripts/
RUN install -D -m 0755 "$(bash scripts/build-static.sh release)" /out/sales-portal

FROM debian:bookworm-slim
# Versions are not pinned: the slim image's own security updates come with each rebuild.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libcurl4 libsqlite3-0 zlib1g ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 sales-portal \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/sales-portal --create-home sales-portal
COPY --from=build /out/sales-portal /usr/local/bin/sales-portal
COPY Public /usr/local/share/sales-portal/Public
COPY Config/default.json /usr/local/share/sales-portal/default.json
USER 10001:10001
WORKDIR /var/lib/sales-portal
# Every interface of the container, port 8080 (or $PORT, which Cloud Run sets), JSON log
# lines (for Cloud Logging), the data folder as a volume, the pages from the image.
ENV SALES_PORTAL_HOST=0.0.0.0 \
    SALES_PORTAL_LOG_FORMAT=json \
    SALES_PORTAL_DATA_DIR=/var/lib/sales-portal \
    SALES_PORTAL_PUBLIC_DIR=/usr/local/share/sales-portal/Public
VOLUME ["/var/lib/sales-portal"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD ["sh", "-c", "curl -fsS \"http://127.0.0.1:${PORT:-8080}/healthz\" || exit 1"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/sales-portal"]
CMD ["serve"]
