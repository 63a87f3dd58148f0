//! The `appnet dig` query tool's pure parts: dig's argument syntax, the query, the output.
