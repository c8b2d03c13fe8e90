# krbot: build the wheel in one stage, install only the wheel in a slim, non-root runtime stage.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY storage ./storage
COPY templates ./templates
COPY alembic ./alembic
COPY examples ./examples
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 krbot
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER krbot
WORKDIR /home/krbot
ENV KRBOT_HTTP_PORT=3000 \
    KRBOT_LOG_FORMAT=json \
    PYTHONUNBUFFERED=1
EXPOSE 3000
# `krbot run` applies the migrations before it serves.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, sys, urllib.request; url = 'http://127.0.0.1:%s/healthz' % os.environ.get('KRBOT_HTTP_PORT', '3000'); sys.exit(0 if urllib.request.urlopen(url, timeout=4).status == 200 else 1)"]
# SIGTERM (exec form: krbot is PID 1 and gets it) drains what is in flight, then closes; compose waits 20 s for it.
STOPSIGNAL SIGTERM
CMD ["krbot", "run", "--http"]
