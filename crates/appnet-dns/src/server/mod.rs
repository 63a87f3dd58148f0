//! Tokio drivers for the authoritative server.
