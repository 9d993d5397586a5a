# Cutaway: slim, non-root, the SQLite file on a volume, no secrets baked in.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
COPY storage ./storage
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DATABASE_PATH=/data/bot.sqlite3
COPY --from=build /install /usr/local
RUN useradd --system --uid 10001 --home-dir /app --create-home cutaway \
    && mkdir -p /data && chown cutaway:cutaway /data && chmod 700 /data
USER cutaway
WORKDIR /app
VOLUME ["/data"]
# Configuration comes from the environment (docker run --env-file .env ...).
CMD ["python", "-m", "bot"]
