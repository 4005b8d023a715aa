//! Image references: parsing and normalizing `nginx`, `host:5000/a/b:tag@sha256:...`.
