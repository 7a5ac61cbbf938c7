//! palisade-rules
