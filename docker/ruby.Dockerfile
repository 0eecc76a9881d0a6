# syntax=docker/dockerfile:1
# Ruby (MRI 3.3) image with cgroupsize in front of `ruby`, `bundle exec puma`...
#
# ruby:3.3 images ship no Python, so cgroupsize runs on Debian's python3 with
# Debian's python3-click and python3-psutil (about 22 MB installed); the package
# itself (pure Python) is installed from PyPI into a small venv that sees those
# system packages. The `-bookworm` tag pins the Debian release the package
# versions below belong to.
#
#   docker build -f docker/ruby.Dockerfile -t myapp-ruby .
#   docker run --rm --memory 1g --cpus 2 myapp-ruby

FROM ruby:3.3-slim-bookworm AS cgroupsize
ARG CGROUPSIZE_VERSION=0.1.0
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3-venv=3.11.* \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv --system-site-packages /opt/cgroupsize \
    && /opt/cgroupsize/bin/pip install --no-cache-dir --no-deps "cgroupsize==${CGROUPSIZE_VERSION}" \
    && /opt/cgroupsize/bin/pip uninstall --yes pip setuptools

FROM ruby:3.3-slim-bookworm
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        python3=3.11.* python3-click=8.1.* python3-psutil=5.9.* tini=0.19.* \
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
# signals on. cgroupsize then exec()s ruby with WEB_CONCURRENCY,
# MALLOC_ARENA_MAX... sized to the container, so ruby keeps tini's child PID
# and receives SIGTERM directly. `docker run --init` is the alternative to
# tini. Keep the exec form and the trailing "--": the CMD's own options must
# never be read as cgroupsize's.
ENTRYPOINT ["tini", "--", "cgroupsize", "--"]
# Replace with your application, e.g. ["bundle", "exec", "puma", "-C", "config/puma.rb"].
# This default prints what the container's size was turned into.
CMD ["ruby", "-e", "ENV.each { |k, v| puts \"#{k}=#{v}\" if k =~ /\\A(WEB_CONCURRENCY|MALLOC_|RUBY_|CONTAINER_)/ }"]
