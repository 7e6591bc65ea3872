# One image for every service; the Deployment's command picks the service
# (python -m services.catalog | services.control | services.router | services.delivery | gateway).
# It carries the whole product and no more: the outbox relay (python -m
# eventstreams_producer.relay), the command line (evs) and the one-machine launcher
# (eventstreams-up); the dev kit (benches, make demo) and the tests stay out.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md requirements.lock ./
COPY proto proto
COPY runtime runtime
COPY services services
COPY gateway gateway
COPY launcher launcher
COPY evs evs
COPY eventstreams_producer eventstreams_producer
# The locked runtime set (and the code generator, removed after use): what make run installs.
RUN pip install --no-cache-dir -r requirements.lock \
 && pip install --no-cache-dir --no-deps . \
 && mkdir -p gen \
 && python -m grpc_tools.protoc -I proto --python_out=gen --grpc_python_out=gen proto/eventstreams/v1/*.proto \
 && touch gen/eventstreams/__init__.py gen/eventstreams/v1/__init__.py \
 && pip uninstall -y grpcio-tools mypy-protobuf
ENV PYTHONPATH=/app:/app/gen PYTHONUNBUFFERED=1
USER 10001
