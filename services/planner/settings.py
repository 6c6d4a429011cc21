"""Settings of the planner beyond the common ones."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class PlannerSettings(BaseSettings):
    """``SSJ_REGISTRY_URL``: where the registry answers (the planner asks it to count
    subjects for merge suggestions and ratios; it holds no subjects itself).
    ``SSJ_DRAW_URL``: where the draw service answers (asked whether a batch an adjustment
    changes has been drawn). ``SSJ_PEER_TIMEOUT``: seconds to wait for one answer."""

    model_config = SettingsConfigDict(env_prefix="SSJ_", extra="ignore")

    registry_url: str = "http://127.0.0.1:8001"
    draw_url: str = "http://127.0.0.1:8003"
    peer_timeout: float = 30.0
