"""``python -m serving.runtime``: read the settings once, start the background threads, serve."""

from __future__ import annotations

import logging
import os


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    import uvicorn

    from serving.runtime.app import Runtime, app_build
    from serving.runtime.config import config_from_settings

    config = config_from_settings()
    if config.torch_threads:
        try:
            import torch

            torch.set_num_threads(config.torch_threads)
        except ImportError:
            pass
    runtime = Runtime(config)
    runtime.start()
    logging.getLogger(__name__).info("serving replica %s on %s:%s", config.replica, config.host, config.port)
    options = dict(host=config.host, port=config.port, lifespan="on", access_log=False, log_level="warning",
                   timeout_graceful_shutdown=5)
    for loop, http in (("uvloop", "httptools"), ("asyncio", "h11")):
        try:
            __import__(loop if loop != "asyncio" else "asyncio")
            __import__(http)
            options.update(loop=loop, http=http)
            break
        except ImportError:
            continue
    uvicorn.Server(uvicorn.Config(app_build(runtime), **options)).run()


if __name__ == "__main__":
    main()
