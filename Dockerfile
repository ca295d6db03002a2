# syntax=docker/dockerfile:1
FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app app
COPY models models
COPY pipelines pipelines
RUN python -m venv /opt/weft \
    && /opt/weft/bin/pip install --no-cache-dir \
       --extra-index-url https://download.pytorch.org/whl/cpu torch==2.13.0 \
    && /opt/weft/bin/pip install --no-cache-dir '.[postgres,workers]'

FROM python:3.11-slim
# Pango and a font for the PDF reports (WeasyPrint)
RUN apt-get update && apt-get install -y --no-install-recommends libpango-1.0-0 \
    libpangoft2-1.0-0 fonts-dejavu-core && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 weft && mkdir /data && chown weft /data
COPY --from=build /opt/weft /opt/weft
WORKDIR /srv/weft
COPY alembic.ini ./
COPY migrations migrations
ENV PATH=/opt/weft/bin:$PATH \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    WEFT_DATABASE_URL=sqlite:////data/weft.db \
    WEFT_DATA_DIR=/data/var \
    WEFT_HOST=0.0.0.0 \
    WEFT_PORT=8000
USER weft
# Bound to 0.0.0.0, the server will not start without WEFT_BOOTSTRAP_TOKEN (16+ characters):
#   docker run -e WEFT_BOOTSTRAP_TOKEN=... -v weft-data:/data weft
# The pseudonym secret is created in /data/var/secrets/ on first start: back the volume up.
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["sh", "-c", "alembic upgrade head && python -m app"]
