//! The sans-IO answer core of the authoritative server.
