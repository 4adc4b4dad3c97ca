# kosuke: the release binary and the web bundle in a small image.
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends npm pkg-config libssl-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo xtask dist

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates git bubblewrap && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 kosuke && mkdir /data && chown kosuke /data
COPY --from=build /src/target/release/kosuke /usr/local/bin/kosuke
COPY --from=build /src/web/dist /usr/share/kosuke/web
USER kosuke
ENV KOSUKE_BIND=0.0.0.0:8080 KOSUKE_DATA_DIR=/data KOSUKE_WEB_DIR=/usr/share/kosuke/web KOSUKE_PREVIEW_BIND=0.0.0.0:8081
EXPOSE 8080 8081
VOLUME /data
ENTRYPOINT ["kosuke"]
CMD ["serve"]
