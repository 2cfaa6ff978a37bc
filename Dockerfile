# syntax=docker/dockerfile:1
# odradek broker image:  docker build -t odradek .
#   docker run -p 9092:9092 -p 9404:9404 -e KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://localhost:9092 odradek
# Configure with KAFKA_* / ODRADEK_* environment variables (KAFKA_NUM_PARTITIONS=3 is
# num.partitions=3) over the defaults in /etc/odradek/server.properties (deploy/server.properties).

FROM python:3.12-slim AS build
WORKDIR /build
COPY pyproject.toml README.md ./
COPY src/ src/
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.12-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links /wheels odradek
RUN groupadd --system --gid 10001 odradek \
 && useradd --system --uid 10001 --gid odradek --home-dir /var/lib/odradek \
      --shell /usr/sbin/nologin odradek \
 && mkdir -p /var/lib/odradek /etc/odradek \
 && chown odradek:odradek /var/lib/odradek
COPY deploy/server.properties /etc/odradek/server.properties
USER odradek:odradek
WORKDIR /var/lib/odradek
VOLUME ["/var/lib/odradek"]
# 9092: Kafka protocol; 9404: /metrics, /jolokia, /live, /ready (metrics.port)
EXPOSE 9092 9404
# Ready: logs recovered, listener accepting, registered in ZooKeeper in a cluster. The start
# period covers log recovery after a crash; Python's urllib, as the image has no curl.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9404/ready', timeout=4)"]
# SIGTERM (docker stop) is a clean shutdown; give it time: docker stop -t 30, or
# stop_grace_period in compose.
STOPSIGNAL SIGTERM
ENTRYPOINT ["odradek", "serve"]
CMD ["/etc/odradek/server.properties"]
