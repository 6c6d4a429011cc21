"""双随机 draw domain: seeded, reproducible selection of subjects and inspector groups."""
