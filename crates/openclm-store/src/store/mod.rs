//! The operations OpenCLM needs from a database, one trait per domain, and [`Store`], which
//! combines them. Each trait is declared once through [`store_trait!`], which also makes
//! [`AnyStore`](crate::AnyStore) forward its methods to whichever backend it holds.

/// Declares a domain trait of the store and implements it for [`AnyStore`](crate::AnyStore) by
/// calling the same method on the backend it holds, so no forwarding is written by hand.
///
/// Every method is `async`, takes `&self` and owned arguments, and has no default body: what
/// the backends share is written in the crate's domain modules, not here.
macro_rules! store_trait {
    (
        $(#[$trait_meta:meta])*
        pub trait $trait:ident {
            $(
                $(#[$method_meta:meta])*
                async fn $method:ident(&self $(, $arg:ident: $ty:ty)* $(,)?) -> $ret:ty;
            )*
        }
    ) => {
        $(#[$trait_meta])*
        ///
        /// Writes return only once durable. All times are passed in by the caller.
        #[trait_variant::make(Send)]
        pub trait $trait: Send + Sync + 'static {
            $(
                $(#[$method_meta])*
                async fn $method(&self $(, $arg: $ty)*) -> $ret;
            )*
        }

        impl $trait for $crate::AnyStore {
            $(
                async fn $method(&self $(, $arg: $ty)*) -> $ret {
                    match self {
                        $crate::AnyStore::Sqlite(s) => $trait::$method(s $(, $arg)*).await,
                        $crate::AnyStore::Postgres(s) => $trait::$method(s $(, $arg)*).await,
                    }
                }
            )*
        }
    };
}

pub(crate) use store_trait;

mod access;
mod blobs;
mod campaigns;
mod decisions;
mod delivery;
mod events;
mod governance;
mod identity;
mod maintenance;
mod master;
mod plans;
mod reporting;

pub use access::*;
pub use blobs::*;
pub use campaigns::*;
pub use decisions::*;
pub use delivery::*;
pub use events::*;
pub use governance::*;
pub use identity::*;
pub use maintenance::*;
pub use master::*;
pub use plans::*;
pub use reporting::*;

/// Every operation OpenCLM needs from a database: the domain traits together. Every backend
/// passes the same test suite (`tests/store.rs`).
///
/// Code generic over the backend names `S: Store` and calls any method; code holding a concrete
/// store (an [`AnyStore`](crate::AnyStore), a [`SqliteStore`](crate::SqliteStore)) brings the
/// domain traits into scope with `use openclm_store::prelude::*;`.
pub trait Store:
    Clone
    + Maintenance
    + Events
    + Identity
    + MasterData
    + Access
    + Governance
    + Decisions
    + Campaigns
    + Reporting
    + RepPlans
    + Deliveries
    + Blobs
{
}

impl<T> Store for T where
    T: Clone
        + Maintenance
        + Events
        + Identity
        + MasterData
        + Access
        + Governance
        + Decisions
        + Campaigns
        + Reporting
        + RepPlans
        + Deliveries
        + Blobs
{
}
