//! Zones: loading master files into a store built for answering.
