"""``privaudit serve-example``: serve a demo folder's model over HTTP and write the audit config that queries it.

:func:`prepare_example` loads the model ``privaudit demo`` trained, binds a
port, builds the app of :mod:`privaudit.testing` (all three protocols) and
writes ``http-audit.yaml`` beside the demo's config; :meth:`ExampleServer.run`
serves until Ctrl-C. FastAPI and uvicorn come with the extra ``privaudit[serve]``.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from privaudit.exceptions import ConfigError, PrivauditError, require
from privaudit.testing import bind_socket, build_app, uvicorn_server

__all__ = ["ExampleServer", "prepare_example", "EXAMPLE_CONFIG"]

#: File name of the audit config ``privaudit serve-example`` writes into the demo folder.
EXAMPLE_CONFIG = "http-audit.yaml"


@dataclass
class ExampleServer:
    """What :func:`prepare_example` set up: the app, the bound socket, the URL and the audit config it wrote."""

    app: object
    url: str
    target: str
    config_path: Path
    config_text: str
    protocol: str
    _socket: socket.socket

    def endpoints(self) -> dict[str, str]:
        """Protocol → the endpoint a client posts to."""
        return {"json": f"{self.url}/predict", "mlflow": f"{self.url}/invocations", "kserve_v2": f"{self.url}/v2/models/{self.target}/infer"}

    def run(self, log_level: str = "info") -> None:
        """Serve in this thread until Ctrl-C (or SIGTERM)."""
        server = uvicorn_server(self.app, log_level)
        try:
            server.run(sockets=[self._socket])
        except KeyboardInterrupt:  # uvicorn re-raises the SIGINT it handled once it has shut down
            pass
        finally:
            self._socket.close()


def _example_target(config, name: str | None):
    names = [t.name for t in config.targets]
    if name is None:
        name = "overfit_mlp" if "overfit_mlp" in names else names[0]
    for spec in config.targets:
        if spec.name == name:
            if spec.type == "http":
                raise ConfigError(f"target '{name}' is itself an HTTP target; serve-example serves a model from a file")
            return spec
    raise ConfigError(f"no target '{name}' in the demo config; its targets are: {', '.join(names)}")


def prepare_example(demo_dir: str | Path = "privaudit-demo", *, protocol: str = "json", port: int = 8765, labels_only: bool = False,
                    host: str = "127.0.0.1", target: str | None = None, force: bool = False) -> ExampleServer:
    """Load a demo folder's model, bind ``host:port`` and write ``http-audit.yaml`` beside the demo's config.

    The written config audits the served model black-box with ``protocol``
    (the server answers all three), reusing the demo's data, membership,
    metrics and groups; answers are cached under ``http-cache/`` in the folder.
    Raises :class:`~privaudit.exceptions.ConfigError` when ``demo_dir`` holds no
    ``config.yaml`` written by ``privaudit demo``. ``http-audit.yaml`` is written
    atomically and replaces only a file privaudit wrote (else
    :class:`~privaudit.exceptions.OutputError`, unless ``force``).
    """
    import yaml

    from privaudit.config import load_config
    from privaudit.pipeline.inputs import load_data
    from privaudit.targets import load_target
    from privaudit.targets.http_protocols import HTTP_PROTOCOLS

    HTTP_PROTOCOLS.get(protocol)
    demo_dir = Path(demo_dir)
    if not (demo_dir / "config.yaml").is_file():
        raise ConfigError(f"{demo_dir}: no demo here (config.yaml not found); create it first with: privaudit demo --out {demo_dir}")
    config, base_dir = load_config(demo_dir / "config.yaml")
    spec = _example_target(config, target)
    data = load_data(config.data, base_dir)
    model = load_target(spec, base_dir)
    require("fastapi", "serve")
    require("uvicorn", "serve")
    app = build_app(model, classes=data.records.classes, features=list(data.records.features.columns), labels_only=labels_only, model_name=spec.name)
    sock = bind_socket(host, port)
    url = f"http://{host}:{sock.getsockname()[1]}"
    http_target = {"name": f"{spec.name}_api", "type": "http", "url": url, "protocol": protocol,
                   "outputs": "labels" if labels_only else "probabilities"}
    if protocol == "json":
        http_target.update(url=f"{url}/predict", request={"instances": "{records}"},
                           response="$.predictions[*].label" if labels_only else "$.predictions[*].probabilities")
    if protocol == "kserve_v2":
        http_target["model_name"] = spec.name
    http_target.update({"batch_size": 512, "concurrency": 4, "timeout_s": 30, "retries": 3, "cache": f"http-cache/{spec.name}"})
    audit_config = {"seed": config.seed, "data": config.data.model_dump(mode="json", exclude_none=True), "targets": [http_target],
                    "metrics": config.metrics.model_dump(mode="json")}
    if config.groups:
        audit_config["groups"] = [g.model_dump(mode="json", exclude_none=True) for g in config.groups]
    audit_config["output"] = "http-report"
    text = (f"# Written by `privaudit serve-example`: a black-box audit of {spec.name} through its HTTP API ({protocol}).\n"
            f"# Run it while the server is up: privaudit audit {demo_dir / EXAMPLE_CONFIG}\n" + yaml.safe_dump(audit_config, sort_keys=False))
    from privaudit.output_folder import check_output_file, unwritable_error, write_file_atomic

    path = demo_dir / EXAMPLE_CONFIG
    try:  # one file into the user's demo folder: replaced only when privaudit wrote it (or --force), atomically
        write_file_atomic(check_output_file(path, marker="# Written by `privaudit serve-example`", force=force, what="--dir"), text.encode("utf-8"))
    except BaseException as exc:
        sock.close()
        if isinstance(exc, OSError) and not isinstance(exc, PrivauditError):
            raise unwritable_error(path, exc, "--dir") from None
        raise
    return ExampleServer(app=app, url=url, target=spec.name, config_path=path, config_text=text, protocol=protocol, _socket=sock)
