# One image for every service; the Deployment's command picks the service
# (python -m services.catalog | services.control | services.router | services.delivery | gateway).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY proto proto
COPY runtime runtime
COPY services services
COPY gateway gateway
COPY devkit devkit
RUN pip install --no-cache-dir . grpcio-tools \
 && mkdir -p gen \
 && python -m grpc_tools.protoc -I proto --python_out=gen --grpc_python_out=gen proto/eventstreams/v1/*.proto \
 && touch gen/eventstreams/__init__.py gen/eventstreams/v1/__init__.py \
 && pip uninstall -y grpcio-tools
ENV PYTHONPATH=/app:/app/gen PYTHONUNBUFFERED=1
USER 10001
