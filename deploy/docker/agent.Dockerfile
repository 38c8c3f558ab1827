# syntax=docker/dockerfile:1
# upwatch agent image. Build from the repository root:
#   docker build -f deploy/docker/agent.Dockerfile -t upwatch-agent .
# Configure with UPWATCH_AGENT_COLLECTOR_URL, UPWATCH_AGENT_NAME, UPWATCH_AGENT_LABELS,
# and the token as a secret file: CREDENTIALS_DIRECTORY=/run/secrets and the
# secret mounted as /run/secrets/token (see compose.yaml), or UPWATCH_AGENT_TOKEN.

# --- build -------------------------------------------------------------------
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY agent ./agent
COPY shared ./shared
COPY statuspage ./statuspage
# Optional probe kinds (docs/configuration.md, "Service kinds"), e.g.
#   docker build --build-arg UPWATCH_EXTRAS=postgresql,redis -f deploy/docker/agent.Dockerfile .
ARG UPWATCH_EXTRAS=""
RUN python -m venv /opt/upwatch-agent \
    && /opt/upwatch-agent/bin/pip install --no-compile ".${UPWATCH_EXTRAS:+[$UPWATCH_EXTRAS]}" \
    && /opt/upwatch-agent/bin/python -m compileall -q /opt/upwatch-agent/lib

# --- runtime -----------------------------------------------------------------
FROM python:3.11-slim-bookworm
RUN groupadd --system --gid 10002 upwatch-agent \
    && useradd --system --uid 10002 --gid upwatch-agent --home-dir /var/lib/upwatch-agent \
       --shell /usr/sbin/nologin upwatch-agent \
    && mkdir -p /var/lib/upwatch-agent \
    && chown upwatch-agent:upwatch-agent /var/lib/upwatch-agent
COPY --from=build /opt/upwatch-agent /opt/upwatch-agent
ENV PATH=/opt/upwatch-agent/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    UPWATCH_AGENT_SPOOL_PATH=/var/lib/upwatch-agent/spool.db \
    UPWATCH_AGENT_LOG_FORMAT=json
# ICMP probes as a non-root user use unprivileged ping sockets, which Docker
# enables in every container (net.ipv4.ping_group_range); no capability needed.
USER 10002:10002
# The spool (results not yet acknowledged by the collector) lives here.
WORKDIR /var/lib/upwatch-agent
VOLUME ["/var/lib/upwatch-agent"]
# Healthy = the collector answers: an agent that cannot reach it only spools.
HEALTHCHECK --interval=60s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['UPWATCH_AGENT_COLLECTOR_URL'] + '/healthz', timeout=8)"]
ENTRYPOINT ["upwatch-agent"]
CMD ["run"]
