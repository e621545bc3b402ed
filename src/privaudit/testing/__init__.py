"""A fault-injecting prediction server for testing HTTP targets and clients (like httpx's ``MockTransport``).

:func:`build_app` puts any privaudit target behind the three HTTP protocols
(``json``, ``mlflow``, ``kserve_v2``); :class:`Faults` makes it misbehave on
purpose — server errors, slow answers, malformed JSON, dropped connections,
rate limiting — and :class:`ServerLog` records every inference request, so a
test can count what reached the server. :class:`RunningServer` serves an app on
a free local port from a background thread::

    from privaudit.testing import Faults, RunningServer, build_app

    app = build_app(target, classes=classes, features=features, faults=Faults(error_rate=0.2))
    with RunningServer(app) as server:
        ...  # query f"{server.url}/predict"; app.log.hits lists what arrived

FastAPI and uvicorn are imported only when an app is built or served (extra
``privaudit[serve]``). ``privaudit serve-example`` (:mod:`privaudit.serve_example`)
serves a demo's model this way.
"""

from privaudit.testing.faults import FaultInjector, Faults, ServerLog
from privaudit.testing.prediction_app import build_app
from privaudit.testing.server import RunningServer, bind_socket, uvicorn_server

__all__ = ["Faults", "ServerLog", "FaultInjector", "build_app", "RunningServer", "bind_socket", "uvicorn_server"]
