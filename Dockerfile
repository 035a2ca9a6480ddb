# Backprop Visualizer: one image, no other service. Sessions persist in /data (mount a volume).
# Three stages: the npm packages, the wheel built with them, and an image holding only Python and
# the installed wheel (no Node, no build tools). Configure with BACKPROP_* variables (README); the
# server and its health check both listen/look at BACKPROP_PORT.

# 1. The front-end packages package-lock.json pins (--ignore-scripts: swagger-ui-dist's postinstall
#    only sends analytics).
FROM node:20-bookworm-slim AS assets
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund

# 2. The wheel, with templates, static files and the npm files inside (setup.py takes them from the
#    node_modules/ of stage 1, so this stage needs no npm).
FROM python:3.11-slim-bookworm AS wheel
WORKDIR /src
COPY pyproject.toml setup.py MANIFEST.in README.md package.json package-lock.json ./
COPY app ./app
COPY templates ./templates
COPY static ./static
COPY --from=assets /src/node_modules ./node_modules
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

# 3. The image.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    BACKPROP_DATA_DIR=/data \
    BACKPROP_HOST=0.0.0.0 \
    BACKPROP_PORT=8000
COPY --from=wheel /dist /tmp/dist
RUN pip install --no-cache-dir /tmp/dist/backprop_viz-*.whl \
    && rm -rf /tmp/dist \
    && groupadd --system --gid 10001 viz \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /data viz \
    && mkdir /data \
    && chown 10001:10001 /data
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 CMD ["backprop-viz", "healthcheck"]
CMD ["backprop-viz"]
