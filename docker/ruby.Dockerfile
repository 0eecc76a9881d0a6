# Ruby (MRI 3.3) image with cgroupsize in front of `ruby`, `bundle exec puma`...
#
# ruby images ship no Python, so cgroupsize runs on the distribution's
# python3 (about 20 MB), in a venv (/opt/cgroupsize) built in a first stage
# from wheels in the build context; only the venv is copied into the image.
# The base image is a build argument: any Debian or Ubuntu image with ruby
# on the PATH (teams pin their own, e.g. by digest).
#
#   python3 -m pip wheel --wheel-dir cgroupsize-wheels /path/to/cgroupsize
#   docker build -f docker/ruby.Dockerfile -t myapp-ruby .
#   docker run --rm --memory 1g --cpus 2 myapp-ruby

ARG BASE_IMAGE=ruby:3.3-slim-bookworm
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
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --no-log-init --uid 10001 --user-group --no-create-home app
COPY --from=cgroupsize /opt/cgroupsize /opt/cgroupsize
RUN ln -s /opt/cgroupsize/bin/cgroupsize /usr/local/bin/cgroupsize

WORKDIR /app
# Your application, e.g.:
# COPY Gemfile Gemfile.lock ./
# RUN bundle config set --local without development:test && bundle install
# COPY . .

# A numeric user: Kubernetes' runAsNonRoot can only verify a numeric one.
USER 10001:10001

# tini is PID 1: it reaps zombies (forking servers leave them) and passes
# signals on. cgroupsize then execs ruby with WEB_CONCURRENCY,
# MALLOC_ARENA_MAX... sized to the container, so ruby keeps tini's child PID
# and receives SIGTERM directly. `docker run --init` is the alternative to
# tini. Keep the exec form and the trailing "--": the CMD's own options must
# never be read as cgroupsize's.
ENTRYPOINT ["tini", "--", "cgroupsize", "--"]
# Replace with your application, e.g. ["bundle", "exec", "puma", "-C", "config/puma.rb"].
# This default prints what the container's size was turned into.
CMD ["ruby", "-e", "ENV.each { |k, v| puts \"#{k}=#{v}\" if k =~ /\\A(WEB_CONCURRENCY|MALLOC_|RUBY_|CONTAINER_)/ }"]
