# ticketbot: one image for `serve` (the default) and `migrate`.
FROM python:3.11-slim AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml README.md ./
COPY app ./app
RUN python -m venv /opt/ticketbot && /opt/ticketbot/bin/pip install .

FROM python:3.11-slim
ENV PATH="/opt/ticketbot/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    TICKETBOT_MIGRATIONS_DIR=/app/migrations \
    LOG_FORMAT=json
RUN useradd --system --create-home --home-dir /app --uid 10001 ticketbot
COPY --from=build /opt/ticketbot /opt/ticketbot
COPY --chown=ticketbot:ticketbot migrations /app/migrations
COPY --chown=ticketbot:ticketbot alembic.ini /app/alembic.ini
WORKDIR /app
USER ticketbot
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:3000/healthz', timeout=2).status == 200 else 1)"]
ENTRYPOINT ["ticketbot"]
CMD ["serve", "--host", "0.0.0.0", "--port", "3000"]
