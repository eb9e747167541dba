# Liaison: `docker build -t liaison .` then see deploy/compose.yaml and the README's
# "Deploying" section. One image for every mode (Slack HTTP or Socket Mode, DingTalk Stream).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The CJK font the charts need (Chinese labels), and nothing else from the distribution.
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY schedules ./schedules
COPY templates ./templates
RUN pip install . && rm -rf /src

# A user of its own; /data holds the SQLite file when no PostgreSQL is configured.
RUN useradd --create-home --uid 10001 liaison \
    && mkdir /data && chown liaison:liaison /data
USER liaison
WORKDIR /home/liaison

ENV DATABASE_URL=sqlite:////data/liaison.db \
    LIAISON_OPS_PORT=9095
VOLUME ["/data"]
# 3000: Slack's HTTP mode (POST /slack/events). 9095: /healthz, /readyz, /metrics (private).
EXPOSE 3000 9095

# Ready when the database answers (bot/ops.py); slim images have no curl, Python will do.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('LIAISON_OPS_PORT', '9095'), timeout=3).status == 200 else 1)"]

CMD ["liaison", "run"]
