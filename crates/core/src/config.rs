//! Image configuration documents (Docker and OCI).
