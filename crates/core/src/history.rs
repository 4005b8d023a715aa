//! `docker history` rows and the history as a Dockerfile.
