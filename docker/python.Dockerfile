# Python 3.12 image with cgroupsize in front of `python`, `gunicorn`...
#
# The python image has an interpreter already: cgroupsize and its two
# dependencies (click; psutil, a binary wheel) are installed into a venv in a
# first stage from wheels in the build context, and only the venv is copied
# into the final image. Install your application into the same venv. The base
# image is a build argument: any Debian or Ubuntu image with python3 and its
# venv module (teams pin their own, e.g. by digest).
#
#   python3 -m pip wheel --wheel-dir cgroupsize-wheels /path/to/cgroupsize
#   docker build -f docker/python.Dockerfile -t myapp-python .
#   docker run --rm --memory 1g --cpus 2 myapp-python

ARG BASE_IMAGE=python:3.12-slim-bookworm
FROM ${BASE_IMAGE} AS venv
# Wheels of cgroupsize, click and psutil, made on the host (docker/README.rst):
# with --no-index, pip installs the cgroupsize that is there and nothing else.
COPY cgroupsize-wheels/ /tmp/cgroupsize-wheels/
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --no-index \
        --find-links /tmp/cgroupsize-wheels cgroupsize
# Your application, e.g.:
# COPY requirements.txt /tmp/requirements.txt
# RUN /opt/venv/bin/pip install --no-cache-dir -r /tmp/requirements.txt

FROM ${BASE_IMAGE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --no-log-init --uid 10001 --user-group --no-create-home app
# The venv's python is a symlink to the base image's python3, the same in both stages.
COPY --from=venv /opt/venv /opt/venv
ENV PATH="/opt/venv/bin:${PATH}"

WORKDIR /app
# COPY . /app

# A numeric user: Kubernetes' runAsNonRoot can only verify a numeric one.
USER 10001:10001

# tini is PID 1: it reaps zombies (multiprocessing and gunicorn workers leave
# them) and passes signals on. cgroupsize then execs python with
# WEB_CONCURRENCY, OMP_NUM_THREADS... sized to the container, so python keeps
# tini's child PID and receives SIGTERM directly. `docker run --init` is the
# alternative to tini. Keep the exec form and the trailing "--": the CMD's own
# options must never be read as cgroupsize's.
ENTRYPOINT ["tini", "--", "cgroupsize", "--"]
# Replace with your application, e.g. ["gunicorn", "app:app"]. This default
# prints what the container's size was turned into.
CMD ["python", "-c", "import os; [print(k, v, sep='=') for k, v in sorted(os.environ.items()) if k.endswith(('_THREADS', 'CONCURRENCY', 'CPU_COUNT', 'ARENA_MAX')) or k.startswith('CONTAINER_')]"]
