//! One integration binary: the real server on an ephemeral port, simulated radios over real
//! TCP on loopback, a temporary SQLite file, HTTP clients with cookie jars.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod alerts;
mod automation;
mod compat;
mod deploy;
mod firmware;
mod fuzz;
mod hardening;
mod helpers;
mod history;
mod kept;
mod limits;
mod links;
mod map;
mod messages;
mod nodes;
mod pages;
mod security;
mod sessions;
mod settings;
mod shared;
mod traceroute;
mod vnode;
