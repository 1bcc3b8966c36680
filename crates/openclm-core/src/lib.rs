//! OpenCLM's pure core: domain types, their validation and the logic on them — no I/O, no async,
//! no database or HTTP types. The clock and the random source are passed in by the caller.

pub mod asset;
pub mod audit;
pub mod auth;
pub mod batch;
pub mod campaign;
pub mod channel;
pub mod consent;
pub mod content;
pub mod crm;
pub mod delivery;
pub mod engine;
pub mod error;
pub mod event;
pub mod hcp;
pub mod json;
pub mod measure;
pub mod privacy;
pub mod pv;
pub mod response;
pub mod screening;
pub mod segment;
pub mod sendgrid;
pub mod state;
pub mod suggest;
pub mod time;

pub use channel::Channel;
pub use error::FieldError;
pub use event::{Event, EventType};
pub use hcp::{Hcp, HcpId};
pub use time::Timestamp;
