from runtime import config, logs
from runtime.grpc_server import run
from services.catalog.app import build
from services.catalog.settings import Settings

settings = config.load(Settings)
logs.configure("catalog", settings.log_level, settings.log_format)
run(build, settings)
