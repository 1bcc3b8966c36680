//! OpenCLM's use cases, below every way in. The HTTP handlers, the dashboard and the command line
//! all call these functions: each takes the store (and, where it needs them, the settings and a
//! clock), typed inputs, and returns typed results or an [`AppError`]. Nothing here knows about
//! HTTP, HTML or the terminal.

pub mod error;

pub use error::AppError;
