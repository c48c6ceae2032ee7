# mms-bot: docker build -t mms-bot . && docker run --env-file .env -p 3000:3000 -v mms-data:/data mms-bot
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

# Dependencies first, exactly as locked (hashes checked): a change to the code does not reinstall them.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock

COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
RUN pip install --no-deps .

# A numeric, non-root user (Kubernetes' runAsNonRoot needs a number) that owns /data, where the database
# lives. A bind mount must be writable by uid 10001: `sudo chown 10001:10001 ./data` (the bot says so otherwise).
RUN mkdir /data && chown 10001:10001 /data
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
ENV DATABASE_PATH=/data/mms-bot.db HOST=0.0.0.0 PORT=3000
EXPOSE 3000

# SIGTERM: stop claiming, calls on the wire get MMS_SHUTDOWN_GRACE (8 s) — within `docker stop`'s 10 s.
STOPSIGNAL SIGTERM
# /healthz answers on PORT in both run modes; 503 (unhealthy) when the database cannot be written, Socket
# Mode is disconnected, Slack refused the token, or reports have been failing for minutes.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=4)"]
CMD ["mms-bot"]
