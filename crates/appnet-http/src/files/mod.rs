//! Static files: the pure decisions (which file, which type, which preconditions, which
//! ranges, which per-path rules), kept apart from the server that reads files and writes responses.

pub mod conditional;
pub mod encoding;
pub mod listing;
pub mod mime;
pub mod path;
pub mod range;
pub mod rules;
