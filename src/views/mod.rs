//! maud views: pure functions of plain data (no database, no clock, no async).

pub mod automation;
pub mod chart;
pub mod components;
pub mod connect;
pub mod history;
pub mod layout;
pub mod messages;
pub mod nodes;
pub mod packets;
pub mod radios;
pub mod settings;
pub mod status;
pub mod traceroute;

pub use crate::time::{ago, duration, iso};
