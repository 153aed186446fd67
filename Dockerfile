# The bridge: one image for both processes (web is the default; run `bridge worker` for workers).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    BRIDGE_DATA_DIR=/home/bridge/data

RUN useradd --create-home --uid 10001 bridge
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bridge ./bridge
COPY workers ./workers
RUN pip install . && rm -rf /root/.cache

USER bridge
EXPOSE 8000
# The web process's liveness. Worker containers (command `bridge worker`) serve no HTTP: run them
# with the health check disabled (`--no-healthcheck`, compose `healthcheck: {disable: true}`);
# /readyz of any web process and the bridge_workers metric tell whether workers are alive.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD python -c "import os, sys, urllib.request; sys.exit(urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz\", timeout=4).status != 200)"
# Behind a load balancer, set BRIDGE_PUBLIC_URL so provider signatures verify.
CMD ["sh", "-c", "exec uvicorn bridge.app:app --host 0.0.0.0 --port ${PORT:-8000} --proxy-headers"]
