# syntax=docker/dockerfile:1
# BASE: any Debian-based image with Python 3.11 (scripts/build-image.sh makes one with
# debootstrap where no registry is reachable). TORCH_INDEX: where the CPU build of PyTorch comes
# from. PIP_FIND_LINKS (a directory mounted into the build) takes wheels from there first, and
# PIP_CERT names a CA bundle mounted into the build for a proxy that re-signs TLS.
ARG BASE=python:3.11-slim
FROM ${BASE} AS build
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ARG PIP_FIND_LINKS=
ARG PIP_CERT=
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
       python3-dev python3-venv \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app app
COPY models models
COPY pipelines pipelines
RUN python3 -m venv /opt/weft \
    && PIP="/opt/weft/bin/pip install --no-cache-dir ${PIP_CERT:+--cert $PIP_CERT} \
            ${PIP_FIND_LINKS:+--find-links $PIP_FIND_LINKS}" \
    && $PIP --extra-index-url ${TORCH_INDEX} torch==2.13.0 \
    && $PIP '.[postgres,workers]'
# the ONNX exports of the embedding model (fp32, the default backend, and int8 weights for
# CPUs with and without VNNI), made here from the packaged weights so the image starts with
# them and never needs to write one
RUN export WEFT_EMBEDDING_CACHE_DIR=/opt/weft/models HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    && /opt/weft/bin/python -m app.embedder --backend onnx \
    && /opt/weft/bin/python -m app.embedder --backend onnx-int8 --every-cpu

FROM ${BASE}
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
    WEFT_EMBEDDING_CACHE_DIR=/opt/weft/models \
    WEFT_HOST=0.0.0.0 \
    WEFT_PORT=8000
USER weft
# Bound to 0.0.0.0, the server will not start without WEFT_BOOTSTRAP_TOKEN (16+ characters):
#   docker run -e WEFT_BOOTSTRAP_TOKEN=... -v weft-data:/data weft
# The pseudonym secret is created in /data/var/secrets/ on first start: back the volume up.
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
# exec: the server becomes PID 1 and gets the stop signal (a shell would swallow it)
CMD ["sh", "-c", "alembic upgrade head && exec python3 -m app"]
