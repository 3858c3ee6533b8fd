"""Prefect flows: the orchestration shell over ``ipi``. All logic lives in ``ipi``.

Importing this package sets Prefect defaults that matter on a fresh machine
(they only apply when the environment does not already set them): a temporary
API server can take 20 s to start, right at Prefect's own timeout; no telemetry;
the ``ipi`` library's log records, from INFO up, go to the flow run's log; and the
Prefect API a run starts for itself answers no other web origin and refuses a write
without its CSRF token (Prefect's defaults allow any origin: any page a seller opens could
read the artifacts and start or delete runs).
"""

import logging
import os

for _key, _value in {
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_LOGGING_EXTRA_LOGGERS": "ipi",
    # ipi logs outside flow runs too (ipi ingest): that is not an error.
    "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
    # A temporary API has no page of its own to serve: no other origin may call it.
    "PREFECT_SERVER_API_CORS_ALLOWED_ORIGINS": "http://127.0.0.1",
    "PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED": "true",
}.items():
    os.environ.setdefault(_key, _value)

# Prefect attaches its handlers to the ``ipi`` logger; what each step did (files loaded,
# days scored, alerts sent) belongs in the run log, not only warnings.
if logging.getLogger("ipi").level == logging.NOTSET:
    logging.getLogger("ipi").setLevel(logging.INFO)
