"""What every ssj service shares: settings, event envelope, event store, relay, consumer
runner, tracing, auth, problem+json errors, idempotency, health and embedded infrastructure."""
