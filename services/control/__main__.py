from runtime import config, logs
from runtime.grpc_server import run
from services.control.app import build
from services.control.settings import Settings

settings = config.load(Settings)
logs.configure("control", settings.log_level, settings.log_format)
run(build, settings)
