//! `docker image inspect`-shaped JSON and the `docker image ls` row.
