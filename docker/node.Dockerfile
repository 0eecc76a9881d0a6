# Node.js image with cgroupsize in front of `node`.
#
# node images ship no Python, so cgroupsize runs on the distribution's
# python3 (about 20 MB), in a venv (/opt/cgroupsize) built in a first stage
# from wheels in the build context; only the venv is copied into the image.
# The base image is a build argument: any Debian or Ubuntu image with node
# on the PATH (teams pin their own, e.g. by digest).
#
#   python3 -m pip wheel --wheel-dir cgroupsize-wheels /path/to/cgroupsize
#   docker build -f docker/node.Dockerfile -t myapp-node .
#   docker run --rm --memory 512m --cpus 1.5 myapp-node

ARG BASE_IMAGE=node:22-bookworm-slim
FROM ${BASE_IMAGE} AS cgroupsize
# Wheels of cgroupsize, click and psutil, made on the host (docker/README.rst):
# with --no-index, pip installs the cgroupsize that is there and nothing else.
COPY cgroupsize-wheels/ /tmp/cgroupsize-wheels/
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3-venv \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/cgroupsize \
    && /opt/cgroupsize/bin/pip install --no-cache-dir --no-index \
        --find-links /tmp/cgroupsize-wheels cgroupsize \
    && /opt/cgroupsize/bin/pip uninstall --yes pip setuptools

FROM ${BASE_IMAGE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 tini \
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
# execs node with --max-old-space-size sized to the container, so node keeps
# tini's child PID and receives SIGTERM directly. Without tini node would be PID
# 1, which ignores SIGTERM unless the app handles it (`docker run --init` adds
# an init instead). Keep the exec form and the trailing "--": the CMD's own
# options must never be read as cgroupsize's.
ENTRYPOINT ["tini", "--", "cgroupsize", "--"]
# Replace with your application, e.g. ["node", "server.js"]. This default
# prints the heap limit V8 was given.
CMD ["node", "-e", "console.log('V8 heap limit:', require('v8').getHeapStatistics().heap_size_limit / 1048576, 'MiB')"]
