"""`python -m app`: serve Weft with uvicorn on the configured host and port.

Bound beyond loopback (the Docker image binds 0.0.0.0), it refuses to start until creating a
project needs WEFT_BOOTSTRAP_TOKEN; on 127.0.0.1 the embedded default stays open.
"""

from __future__ import annotations

import logging
import sys

import uvicorn

from app.config import Settings
from app.main import create_app
from app.services.projects import ExposedWithoutToken, check_exposure


def main(settings: Settings | None = None) -> None:
    settings = settings or Settings()
    if settings.job_runner == "auto":
        # served on its own, jobs run in a supervised worker process, not the web loop's
        settings = settings.model_copy(update={"job_runner": "process"})
    try:
        check_exposure(settings.host, settings.bootstrap_token)
    except ExposedWithoutToken as exc:
        sys.exit(f"weft: not starting: {exc}")
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("weft").info(
        "dashboard at http://%s:%d/ui/ (API documentation at /docs)", settings.host, settings.port
    )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
    )


if __name__ == "__main__":
    main()
