from runtime import config, logs
from runtime.grpc_server import run
from services.router.app import build
from services.router.settings import Settings

settings = config.load(Settings)
logs.configure("router", settings.log_level, settings.log_format)
run(build, settings)
