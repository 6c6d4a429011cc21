"""The draw protocol: standard-library only, so anyone can run it without the services."""
