"""Domain errors of the registry; the API maps them to problem+json."""


class RegistryError(Exception):
    """Base of registry rule violations."""


class InvalidIdentifier(RegistryError):
    """A USCC (统一社会信用代码) or other identifier fails validation."""


class InvalidItem(RegistryError):
    """An inspection item breaks a rule of the item list (e.g. general ratio below 5 %)."""


class InvalidRecord(RegistryError):
    """A subject or inspector field breaks a directory rule."""


class ItemStateError(RegistryError):
    """The item is not in a state that allows this change (e.g. published twice)."""


class StaleVersion(RegistryError):
    """The caller edited an older version than the one stored (optimistic concurrency)."""


class NotFound(RegistryError):
    """No record of the expected type under this id (also: the id names another type)."""
