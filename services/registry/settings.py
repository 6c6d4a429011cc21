"""Settings of the registry beyond the common ones."""

from __future__ import annotations

import logging
from functools import cache

from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)
DEV_ID_KEY = "ssj-dev-id-key-change-me"


class RegistrySettings(BaseSettings):
    """``SSJ_ID_KEY``: the key of the registry's public ids of private records (HMAC-SHA256).

    An inspector's id is keyed on its department and certificate number (执法证号), an
    expert's on their name, a conflict's on its inspector and subject: without the key,
    nobody can recover those from an id, nor confirm a guess. Set a long random value in
    production, the same in every registry process and kept out of the database; changing
    it changes the ids of records created afterwards. The default is for development.
    """

    model_config = SettingsConfigDict(env_prefix="SSJ_", extra="ignore")

    id_key: str = DEV_ID_KEY


@cache
def id_key() -> bytes:
    """The key, read once per process (the import's reading process reads the same
    environment, so both derive the same ids)."""
    key = RegistrySettings().id_key
    if key == DEV_ID_KEY:
        log.warning(
            "SSJ_ID_KEY is not set: inspector, expert and conflict ids (公开编号) derive from "
            "the development key"
        )
    return key.encode("utf-8")
