# syntax=docker/dockerfile:1
# upwatch collector image: the web process (gunicorn) by default; the same image
# runs the worker with `upwatch-statuspage worker` (see compose.yaml).
# Build from the repository root:
#   docker build -f deploy/docker/collector.Dockerfile -t upwatch-collector .

# --- build: a virtualenv with upwatch and its dependencies -------------------
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY agent ./agent
COPY shared ./shared
COPY statuspage ./statuspage
RUN python -m venv /opt/upwatch \
    && /opt/upwatch/bin/pip install --no-compile ".[postgresql]" \
    && /opt/upwatch/bin/python -m compileall -q /opt/upwatch/lib

# --- runtime: the virtualenv only, run as an unprivileged user ---------------
FROM python:3.11-slim-bookworm
RUN groupadd --system --gid 10001 upwatch \
    && useradd --system --uid 10001 --gid upwatch --home-dir /var/lib/upwatch \
       --shell /usr/sbin/nologin upwatch \
    && mkdir -p /var/lib/upwatch /etc/upwatch \
    && chown upwatch:upwatch /var/lib/upwatch
COPY --from=build /opt/upwatch /opt/upwatch
COPY deploy/gunicorn.conf.py /etc/upwatch/gunicorn.conf.py
COPY deploy/examples/upwatch.toml /etc/upwatch/upwatch.toml
ENV PATH=/opt/upwatch/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    UPWATCH_CONFIG=/etc/upwatch/upwatch.toml \
    UPWATCH_DATABASE=/var/lib/upwatch/upwatch.db \
    UPWATCH_LOG_FORMAT=json \
    UPWATCH_WEB_BIND=0.0.0.0:8080
USER 10001:10001
WORKDIR /var/lib/upwatch
VOLUME ["/var/lib/upwatch"]
EXPOSE 8080
# /healthz answers 200 while the app can serve; no curl in a slim image, so Python.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
# Migrate first (one clear message for a newer database), then serve.
CMD ["sh", "-c", "upwatch-statuspage migrate && exec gunicorn --config /etc/upwatch/gunicorn.conf.py"]
