//! Radio links: the task that owns each radio's TCP stream, what it knows about the radio,
//! and the registry that lets one session at a time hold a radio.

pub mod automation;
pub mod beacon;
pub mod link;
pub mod nodedb;
pub mod packet;
pub mod registry;
pub mod state;
pub mod text;
pub mod trace;

pub use link::{LinkError, LinkEvent, LinkHandle, LinkOptions};
pub use registry::Registry;
pub use state::{LinkStatus, RadioState};
