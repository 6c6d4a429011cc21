"""The consumer against real PostgreSQL and NATS: leadership, poison events, streams that
went backwards."""
