# Cutaway: one image for the bot (the default command) and the local engine (python -m engine …).
# Slim, non-root, no secrets baked in. Everything that must survive the container lives in the /data
# volume, which is also the working folder: a relative DATABASE_PATH (data/bot.sqlite3, as in
# .env.example) or ENGINE_DATA_DIR lands in the volume too, never in the container's writable layer.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
COPY storage ./storage
COPY engine ./engine
COPY devkit ./devkit
RUN pip install --no-cache-dir --prefix=/install ".[soundfont]"

FROM python:3.11-slim
# Debian's FluidR3 General MIDI soundfont (MIT): the engine's composer renders music through it (with the
# [soundfont] extra's renderer, installed above).
RUN apt-get update \
    && apt-get install -y --no-install-recommends fluid-soundfont-gm \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /install /usr/local
RUN useradd --system --uid 10001 --home-dir /data --no-create-home cutaway \
    && mkdir -p /data && chown cutaway:cutaway /data && chmod 700 /data
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DATABASE_PATH=/data/bot.sqlite3 \
    HEALTH_PORT=9108 \
    ENGINE_DATA_DIR=/data/engine \
    ENGINE_SOUNDFONT=/usr/share/sounds/sf2/FluidR3_GM.sf2
USER cutaway
WORKDIR /data
VOLUME ["/data"]
# Port 9108: /healthz and /metrics (on 127.0.0.1 unless HEALTH_HOST=0.0.0.0); 8765: the engine.
EXPOSE 9108 8765
# The bot: /healthz answers 200 (gateway and database); the engine: its port answers (bot/healthcheck.py).
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["python", "-m", "bot.healthcheck"]
# Configuration comes from the environment (docker run --env-file .env …); see docs/deploy.md.
CMD ["python", "-m", "bot"]
