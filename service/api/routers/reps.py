"""`/v1/reps`: (being built)."""

from __future__ import annotations

from fastapi import APIRouter

from service.api.problems import problem_responses

router = APIRouter(prefix="/v1", tags=["reps"], responses=problem_responses(400, 413, 422))
