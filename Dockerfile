# Backprop Visualizer: one image, no other service. Sessions persist in /data (mount a volume).
FROM node:20-bookworm-slim AS assets
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM python:3.11-slim-bookworm
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 BACKPROP_DATA_DIR=/data
COPY pyproject.toml README.md ./
COPY app ./app
COPY templates ./templates
COPY static ./static
COPY --from=assets /src/node_modules ./node_modules
# Editable, so the app finds templates/, static/ and node_modules/ beside its package.
RUN pip install --no-cache-dir -e .
RUN useradd --system --home /app viz && mkdir -p /data && chown viz /data
USER viz
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["backprop-viz", "--host", "0.0.0.0", "--port", "8000"]
