import asyncio

import uvicorn

from gateway.app import build
from gateway.settings import Settings
from runtime import config, logs


async def main(settings: Settings) -> None:
    # The gRPC channels belong to the loop that serves requests: build inside it.
    app = build(settings)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.gateway_host,
            port=settings.gateway_port,
            log_level=settings.log_level.lower(),
            access_log=False,
        )
    )
    await server.serve()


settings = config.load(Settings)
logs.configure("gateway", settings.log_level, settings.log_format)
try:
    import uvloop

    uvloop.run(main(settings))
except ImportError:
    asyncio.run(main(settings))
