//! Read models: what the pages and the JSON API show of a radio, built from a link's state
//! (node rows, names, geometry, the status summary, settings and MQTT health). The HTML
//! views and the API both answer from these, so they never disagree. Each is built under
//! the state's read lock and owns its data, so the lock is gone before anything renders.

pub mod company;
pub mod geometry;
pub mod history;
pub mod map;
pub mod mercator;
pub mod names;
pub mod nodes;
pub mod settings;
pub mod summary;
pub mod topology;
pub mod traces;
