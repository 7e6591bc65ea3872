from runtime import grpc_core

grpc_core.configure()  # first: gRPC reads its switches once, when it is imported

from runtime import config, logs  # noqa: E402
from runtime.grpc_server import run  # noqa: E402
from services.delivery.app import build  # noqa: E402
from services.delivery.settings import Settings  # noqa: E402

settings = config.load(Settings)
logs.configure("delivery", settings.log_level, settings.log_format)
run(build, settings)
