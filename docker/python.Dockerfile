# syntax=docker/dockerfile:1
# Python 3.12 image with cgroupsize in front of `python`, `gunicorn`...
#
# The python image has an interpreter already: cgroupsize and its two
# dependencies (click; psutil, a binary wheel) are installed from PyPI into a
# venv in a builder stage, and only the venv is copied into the final image.
# Install your application into the same venv. The `-bookworm` tag pins the
# Debian release (for the tini version below).
#
#   docker build -f docker/python.Dockerfile -t myapp-python .
#   docker run --rm --memory 1g --cpus 2 myapp-python

FROM python:3.12-slim-bookworm AS venv
ARG CGROUPSIZE_VERSION=0.1.0
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir "cgroupsize==${CGROUPSIZE_VERSION}"
# Your application, e.g.:
# COPY requirements.txt /tmp/requirements.txt
# RUN /opt/venv/bin/pip install --no-cache-dir -r /tmp/requirements.txt

FROM python:3.12-slim-bookworm
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini=0.19.* \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --no-log-init --uid 10001 --user-group --no-create-home app
# The venv's python is a symlink to /usr/local/bin/python, the same in both stages.
COPY --from=venv /opt/venv /opt/venv
ENV PATH="/opt/venv/bin:${PATH}"

WORKDIR /app
# COPY . /app

# A numeric user: Kubernetes' runAsNonRoot can only verify a numeric one.
USER 10001:10001

# tini is PID 1: it reaps zombies (multiprocessing and gunicorn workers leave
# them) and passes signals on. cgroupsize then exec()s python with
# WEB_CONCURRENCY, OMP_NUM_THREADS... sized to the container, so python keeps
# tini's child PID and receives SIGTERM directly. `docker run --init` is the
# alternative to tini. Keep the exec form and the trailing "--": the CMD's own
# options must never be read as cgroupsize's.
ENTRYPOINT ["tini", "--", "cgroupsize", "--"]
# Replace with your application, e.g. ["gunicorn", "app:app"]. This default
# prints what the container's size was turned into.
CMD ["python", "-c", "import os; [print(k, v, sep='=') for k, v in sorted(os.environ.items()) if k.endswith(('_THREADS', 'CONCURRENCY', 'CPU_COUNT', 'ARENA_MAX')) or k.startswith('CONTAINER_')]"]
