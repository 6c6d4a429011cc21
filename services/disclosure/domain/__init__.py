"""一公开 domain: what the public may see, in the national disclosure system's terms."""
