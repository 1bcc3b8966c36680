//! OpenCLM's use cases, below every way in. The HTTP handlers, the dashboard and the command line
//! all call these functions: each takes the store (and, where it needs them, the settings and a
//! clock), typed inputs, and returns typed results or an [`AppError`]. Nothing here knows about
//! HTTP, HTML or the terminal.

pub mod accounts;
pub mod audit;
pub mod caller;
pub mod campaigns;
pub mod content;
pub mod decide;
pub mod deliveries;
pub mod error;
pub mod evaluation;
pub mod events;
pub mod hcps;
pub mod overview;
pub mod page;
pub mod plan;
pub mod privacy;
pub mod pv;
pub mod reports;
pub mod sendgrid;
pub mod simulations;

pub use caller::Caller;
pub use error::AppError;

use openclm_core::Timestamp;
use std::sync::Arc;

/// The source of the current time; injected so tests can pin it.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The wall clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        Timestamp::from_millis(ms)
    })
}
