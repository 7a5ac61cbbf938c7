//! palisade-conntrack
