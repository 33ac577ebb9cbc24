//! Read models: what the pages and the JSON API show of a radio, built from a link's state
//! (node rows, the status summary, settings and MQTT health). The HTML views and the API
//! both answer from these, so they never disagree.

pub mod nodes;
pub mod settings;
pub mod summary;
