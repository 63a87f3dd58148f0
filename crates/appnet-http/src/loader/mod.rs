//! The page loader: fetch a page the way a browser does and measure where the time goes.
//!
//! - [`discover`]: which resources a document needs (HTML and CSS; pure).
//! - [`mode`]: the fetching strategies compared (`http1.0`, `parallel:N`, `persistent`,
//!   `pipelined`, `h2`).
pub mod discover;
