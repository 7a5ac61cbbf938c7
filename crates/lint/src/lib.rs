//! palisade-lint
