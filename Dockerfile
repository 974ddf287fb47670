# A slim image that runs `harvest sync` by default.
#   docker build -t harvest .
#   docker run --rm -v "$PWD:/data" harvest                      # sync /data/harvest.yaml
#   docker run --rm -p 8001:8001 -v "$PWD:/data" harvest serve --host 0.0.0.0
FROM python:3.11-slim

# The token store (pseudonym and tombstone keys, the login-cookie key, OAuth sign-ins)
# lives on the data volume, not in the container: `docker run --rm` would lose it.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    HARVEST_CONFIG=/data/harvest.yaml \
    HARVEST_SECRETS_FILE=/data/.harvest/secrets.json

WORKDIR /app
COPY pyproject.toml README.md ./
COPY harvest ./harvest
RUN pip install . && useradd --create-home --uid 1000 harvest

USER harvest
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8001
ENTRYPOINT ["harvest"]
CMD ["sync"]
