//! Radio links. The [`Registry`] owns them (one per radio address); each is an actor task
//! that owns the radio's TCP stream (`actor/`), reached through its cloneable
//! [`LinkHandle`]. What a link knows is its [`RadioState`] (node DB, packet log, traces);
//! what happens on it goes out as [`LinkEvent`]s.

mod actor;
pub mod automation;
pub mod events;
pub mod handle;
pub mod identity;
pub mod neighbors;
pub mod nodedb;
pub mod notice;
pub mod observe;
pub mod packet;
pub mod packet_log;
pub mod registry;
pub mod state;
pub mod summary;
pub mod text;
pub mod trace;

pub use actor::connect;
pub use automation::beacon;
pub use events::LinkEvent;
pub use handle::{LinkError, LinkHandle, LinkOptions, Liveness, Probe, Queued, TraceError};
pub use registry::Registry;
pub use state::{LinkStatus, RadioState};
