"""Settings of the draw service beyond the common ones."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_KEY = "ssj-dev-draw-key-change-me"


class DrawSettings(BaseSettings):
    """``SSJ_DRAW_KEY``: the server key each draw's secret is derived from (HMAC-SHA256).

    Deriving the secret instead of storing it means nothing secret sits in the database
    between announcement and execution, and a restart loses nothing. Set a long random
    value in production and keep it out of the database; the default is for development.
    """

    model_config = SettingsConfigDict(env_prefix="SSJ_")

    draw_key: str = DEV_KEY
