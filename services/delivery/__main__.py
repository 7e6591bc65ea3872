from runtime import config, logs
from runtime.grpc_server import run
from services.delivery.app import build
from services.delivery.settings import Settings

settings = config.load(Settings)
logs.configure("delivery", settings.log_level, settings.log_format)
run(build, settings)
