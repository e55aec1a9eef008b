"""The base of every part of a rule document."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Frozen, no unknown keys, no NaN or infinity: documents are data written by people."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
