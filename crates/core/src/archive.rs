//! Reading `docker save` and OCI layout archives from their headers.
