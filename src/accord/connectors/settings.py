"""What every ``apps:`` entry of accord.yaml has in common; each vendor module's settings model
(``HubSpotSettings`` …) subclasses :class:`AppSettings` and is found through the registry
(:mod:`accord.connectors.registry`). It lives apart from :mod:`accord.config` so that vendor
modules never import the config parser that reads them."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(value: str | int | float) -> float:
    """``5m`` → 300.0 seconds; bare numbers are seconds."""
    if isinstance(value, int | float):
        return float(value)
    m = _DURATION.match(str(value))
    if not m:
        raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 5m, 1h)")
    return float(m.group(1)) * _UNITS[m.group(2)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Duration = Annotated[float, Field(gt=0)]

_WORDS = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}


def _verify_words(v: Any) -> Any:
    """``verify: ${SF_VERIFY}`` arrives as a string: "true" / "false" mean the booleans, not a
    CA file of that name."""
    return _WORDS.get(v.strip().lower(), v) if isinstance(v, str) else v


# TLS verification: on, off, or the path of a CA bundle (a sandbox's, a proxy's certificate)
Verify = Annotated[bool | str, BeforeValidator(_verify_words)]


class AppSettings(Strict):
    """One app: its vendor ``type`` (a ``Literal`` in each vendor's model) and how often it is polled."""

    poll: Duration = 300.0
    type: str

    @field_validator("poll", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> float:
        return parse_duration(v)


def setting_error(model: str, field: str, message: str) -> ValidationError:
    """A model validator's error placed on one setting (``apps.NAME.FIELD: message``), not on the
    whole entry: where a person looks for what to fill in."""
    kind = PydanticCustomError("credential", "{message}", {"message": message})
    return ValidationError.from_exception_data(model, [InitErrorDetails(type=kind, loc=(field,), input=None)])


__all__ = ["AppSettings", "Duration", "Strict", "Verify", "parse_duration", "setting_error"]
