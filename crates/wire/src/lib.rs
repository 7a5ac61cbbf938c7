//! palisade-wire
