//! Manifests and indexes (Docker schema2, OCI), recognized by media type or by shape.
