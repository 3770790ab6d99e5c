# Production image: gunicorn by default; docker-compose.yml runs the worker, beat and migrations
# from the same image with other commands.

# Local state (venv, embedded database files, git history) must never reach the image; this stage
# drops it even when no .dockerignore keeps it out of the build context.
FROM python:3.11-slim AS source
COPY . /src
RUN rm -rf /src/.git /src/.venv /src/.demo /src/.test-services /src/media /src/staticfiles \
        /src/test-artifacts /src/*.egg-info

# htmx for the console, from the npm registry at the version package-lock.json pins.
FROM node:20-slim AS assets
WORKDIR /assets
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN useradd --create-home --uid 10001 app
WORKDIR /app

# Dependencies first, from pyproject.toml alone, so code changes do not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY --from=source /src /app
COPY --from=assets /assets/node_modules /app/node_modules
RUN apt-get update && apt-get install -y --no-install-recommends gettext \
    && pip install --no-deps . \
    && python manage.py compilemessages --ignore 'node_modules/*' \
    && apt-get purge -y gettext && apt-get autoremove -y && rm -rf /var/lib/apt/lists/* \
    && python manage.py collectstatic --noinput \
    && mkdir -p /app/media \
    && chown app:app /app/media

USER app
EXPOSE 8000
CMD ["gunicorn", "superapp.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4", "--access-logfile", "-"]
