"""HTTP API of the registry: items, subjects, and the people around them."""

from services.registry.api import imports, items, people, subjects

routers = [items.router, subjects.router, people.router, imports.router]
