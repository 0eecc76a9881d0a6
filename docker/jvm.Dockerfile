# syntax=docker/dockerfile:1
# JVM (Eclipse Temurin 21 JRE) image with cgroupsize in front of `java`.
#
# Temurin images ship no Python, so cgroupsize runs on Ubuntu's python3 with
# Ubuntu's python3-click and python3-psutil (about 25 MB installed); the package
# itself (pure Python) is installed from PyPI into a small venv that sees those
# system packages. The `-noble` tag pins the Ubuntu release (24.04) the package
# versions below belong to.
#
#   docker build -f docker/jvm.Dockerfile -t myapp-jvm .
#   docker run --rm --memory 1g --cpus 1.5 myapp-jvm

FROM eclipse-temurin:21-jre-noble AS cgroupsize
ARG CGROUPSIZE_VERSION=0.1.0
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3-venv=3.12.* \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv --system-site-packages /opt/cgroupsize \
    && /opt/cgroupsize/bin/pip install --no-cache-dir --no-deps "cgroupsize==${CGROUPSIZE_VERSION}" \
    && /opt/cgroupsize/bin/pip uninstall --yes pip

FROM eclipse-temurin:21-jre-noble
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        python3=3.12.* python3-click=8.1.* python3-psutil=5.9.* tini=0.19.* \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --no-log-init --uid 10001 --user-group --no-create-home app
COPY --from=cgroupsize /opt/cgroupsize /opt/cgroupsize
RUN ln -s /opt/cgroupsize/bin/cgroupsize /usr/local/bin/cgroupsize

WORKDIR /app
# Your application, e.g.:
# COPY target/app.jar /app/app.jar

# A numeric user: Kubernetes' runAsNonRoot can only verify a numeric one.
USER 10001:10001

# tini is PID 1: it reaps zombies and passes signals on. cgroupsize then
# exec()s java with -Xmx and friends sized to the container, so the JVM keeps
# tini's child PID and receives SIGTERM directly (shutdown hooks run).
# `docker run --init` is the alternative to tini. Keep the exec form and the
# trailing "--": the CMD's own options must never be read as cgroupsize's.
ENTRYPOINT ["tini", "--", "cgroupsize", "--"]
# Replace with your application, e.g. ["java", "-jar", "/app/app.jar"]. This
# default prints the heap size and CPU count the JVM was given.
CMD ["java", "-XshowSettings:vm", "-version"]
