# A slim image that runs `harvest sync` by default (docs/docker.md).
#   docker build -t harvest .
#   docker run --rm -v "$PWD:/data" harvest                      # sync /data/harvest.yaml
#   docker run --rm -p 8001:8001 -v "$PWD:/data" harvest serve --host 0.0.0.0
# config/docker-compose.yml runs a scheduled sync and `serve` behind Caddy (https).
FROM python:3.11-slim

# The token store (pseudonym and tombstone keys, the login-cookie key, OAuth sign-ins)
# lives on the data volume, not in the container: `docker run --rm` would lose it.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    HARVEST_CONFIG=/data/harvest.yaml \
    HARVEST_SECRETS_FILE=/data/.harvest/secrets.json

# Every version comes from constraints.txt (`make constraints`), the build's setuptools
# too (PIP_CONSTRAINT reaches pip's isolated build environment; -c does not).
WORKDIR /app
COPY constraints.txt pyproject.toml README.md LICENSE ./
COPY harvest ./harvest
RUN PIP_CONSTRAINT=/app/constraints.txt pip install /app \
    && groupadd --gid 10001 harvest \
    && useradd --uid 10001 --gid 10001 --create-home harvest \
    && mkdir /data && chown 10001:10001 /data

# A number, not a name, so that a platform that refuses to run as root can check it.
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8001

# For `serve`: any answer from the web server but a 5xx is healthy (a login redirect is).
# The image has no curl, so Python asks. HARVEST_HEALTH_URL suits a server on another port;
# a one-off `sync` container has no server: config/docker-compose.yml turns the check off.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.error, urllib.request\nurl = os.environ.get('HARVEST_HEALTH_URL', 'http://127.0.0.1:8001/-/versions.json')\ntry:\n    urllib.request.urlopen(url, timeout=8)\nexcept urllib.error.HTTPError as error:\n    sys.exit(error.code >= 500)\nexcept OSError as error:\n    sys.exit(f'{url}: {error}')"]

ENTRYPOINT ["harvest"]
CMD ["sync"]
