# syntax=docker/dockerfile:1
# Node.js image with cgroupsize in front of `node`.
#
# node:22 images ship no Python, so cgroupsize runs on Debian's python3 with
# Debian's python3-click and python3-psutil (about 22 MB installed); the package
# itself (pure Python) is installed from PyPI into a small venv that sees those
# system packages. The `-bookworm` tag pins the Debian release the package
# versions below belong to.
#
#   docker build -f docker/node.Dockerfile -t myapp-node .
#   docker run --rm --memory 512m --cpus 1.5 myapp-node

FROM node:22-bookworm-slim AS cgroupsize
ARG CGROUPSIZE_VERSION=0.1.0
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3-venv=3.11.* \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv --system-site-packages /opt/cgroupsize \
    && /opt/cgroupsize/bin/pip install --no-cache-dir --no-deps "cgroupsize==${CGROUPSIZE_VERSION}" \
    && /opt/cgroupsize/bin/pip uninstall --yes pip setuptools

FROM node:22-bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        python3=3.11.* python3-click=8.1.* python3-psutil=5.9.* tini=0.19.* \
    && rm -rf /var/lib/apt/lists/*
COPY --from=cgroupsize /opt/cgroupsize /opt/cgroupsize
RUN ln -s /opt/cgroupsize/bin/cgroupsize /usr/local/bin/cgroupsize

WORKDIR /app
# Your application, e.g.:
# COPY --chown=node:node package*.json ./
# RUN npm ci --omit=dev
# COPY --chown=node:node . .

# The image's own non-root user "node", numerically: Kubernetes' runAsNonRoot
# can only verify a numeric user.
USER 1000:1000

# tini is PID 1: it reaps zombies and passes signals on. cgroupsize then
# exec()s node with --max-old-space-size sized to the container, so node keeps
# tini's child PID and receives SIGTERM directly. Without tini node would be PID
# 1, which ignores SIGTERM unless the app handles it (`docker run --init` adds
# an init instead). Keep the exec form and the trailing "--": the CMD's own
# options must never be read as cgroupsize's.
ENTRYPOINT ["tini", "--", "cgroupsize", "--"]
# Replace with your application, e.g. ["node", "server.js"]. This default
# prints the heap limit V8 was given.
CMD ["node", "-e", "console.log('V8 heap limit:', require('v8').getHeapStatistics().heap_size_limit / 1048576, 'MiB')"]
