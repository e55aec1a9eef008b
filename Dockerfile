# syntax=docker/dockerfile:1
# driftcoach image: migrations run first, then one cycle (sync every enabled connection,
# then evaluate it); run it on a schedule (cron, a Kubernetes CronJob) until the
# long-running service (`driftcoach serve`: API, scheduler, workers) arrives.
#   docker build -t driftcoach .
#   docker run -v driftcoach-data:/data driftcoach
# For PostgreSQL, set DRIFTCOACH_DATABASE_URL=postgresql://user:pass@host/db.

ARG PYTHON_VERSION=3.12

FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
RUN python -m venv /opt/driftcoach
COPY pyproject.toml README.md alembic.ini ./
COPY service ./service
COPY connectors ./connectors
COPY rules ./rules
COPY migrations ./migrations
COPY sandbox ./sandbox
RUN /opt/driftcoach/bin/pip install .

FROM python:${PYTHON_VERSION}-slim AS runtime
RUN groupadd --system --gid 10001 driftcoach \
 && useradd --system --uid 10001 --gid driftcoach --home-dir /data --no-create-home driftcoach \
 && mkdir /data && chown driftcoach:driftcoach /data
COPY --from=build /opt/driftcoach /opt/driftcoach
ENV PATH=/opt/driftcoach/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DRIFTCOACH_ENVIRONMENT=production \
    DRIFTCOACH_DATABASE_URL=sqlite:////data/driftcoach.db
USER driftcoach
WORKDIR /data
VOLUME ["/data"]
# Migrate, sync, then replace the shell with the evaluation so it receives SIGTERM directly.
CMD ["sh", "-c", "driftcoach db upgrade && driftcoach sync && exec driftcoach evaluate"]
