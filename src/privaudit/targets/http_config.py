"""The config of an ``http`` target (:mod:`privaudit.targets.http` holds the target; its module docstring explains each key)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from privaudit.targets.config_base import ClassifierTargetConfig

__all__ = ["HTTPTargetConfig"]


class HTTPTargetConfig(ClassifierTargetConfig):
    """``{type: http, url, protocol, request, response, outputs, model_name, input_tensor, batch_size, concurrency,
    timeout_s, max_response_bytes, allow_insecure_http, retries, backoff_s, max_queries, headers_from_env, cache, transform}``.

    Unset keys take the defaults of :func:`privaudit.targets.http.load_http_target`.
    A deployed API cannot be retrained: reference models need ``reference.estimator``.
    """

    type: Literal["http"]
    url: str
    protocol: Literal["json", "mlflow", "kserve_v2"] | None = None
    request: dict[str, Any] | None = None
    response: str | None = None
    outputs: Literal["logits", "probabilities", "labels"] | None = None
    model_name: str | None = None
    input_tensor: str | None = None
    transform: str | None = None
    batch_size: int | None = Field(default=None, ge=1)
    concurrency: int | None = Field(default=None, ge=1, le=256)
    timeout_s: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    max_response_bytes: int | None = Field(default=None, ge=1)
    allow_insecure_http: bool | None = None
    retries: int | None = Field(default=None, ge=0, le=100)
    backoff_s: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    max_queries: int | None = Field(default=None, ge=1)
    headers_from_env: dict[str, str] | None = None
    cache: str | None = None


    @model_validator(mode="after")
    def _response_path_parses(self):
        if self.response is not None:
            from privaudit.targets.http_responses import parse_response_path

            parse_response_path(self.response)  # raises ConfigError naming the bad step
        return self
