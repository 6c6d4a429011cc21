"""Settings of the draw service beyond the common ones."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_KEY = "ssj-dev-draw-key-change-me"
# How long before the entropy's draw time an announcement must be made at the least, so
# that it is public (disclosed, in the feed) before the numbers exist.
PRODUCTION_LEAD_SECONDS = 600
DEVELOPMENT_LEAD_SECONDS = 2  # the demo and the tests wait this long between the two
FLOOR_LEAD_SECONDS = 300  # the least a production setting may ask for


class DrawSettings(BaseSettings):
    """``SSJ_DRAW_KEY``: the server key draw secrets are sealed under (ssj-draw-3: each
    secret is random, sealed with AES-GCM until execution) or derived from (draws
    announced under ssj-draw-2). Set a long random value in production and keep it out of
    the database; services refuse the development default outside SSJ_ENV=development.

    ``SSJ_DRAW_MIN_LEAD``: seconds an announcement must precede its entropy's draw time;
    600 by default, 2 under SSJ_ENV=development.
    """

    model_config = SettingsConfigDict(env_prefix="SSJ_", extra="ignore")

    draw_key: str = DEV_KEY
    draw_min_lead: int | None = Field(default=None, ge=0, le=30 * 86400)

    def lead_seconds(self, environment: str) -> int:
        """The least lead for this environment; outside development never below
        :data:`FLOOR_LEAD_SECONDS`, whatever the setting says."""
        if environment == "development":
            return (
                self.draw_min_lead if self.draw_min_lead is not None else DEVELOPMENT_LEAD_SECONDS
            )
        asked = self.draw_min_lead
        return max(FLOOR_LEAD_SECONDS, PRODUCTION_LEAD_SECONDS if asked is None else asked)
