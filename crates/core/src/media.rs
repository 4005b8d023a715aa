//! Media types of manifests, indexes, configs and layers.
