//! What the pages and the JSON API both do: queue a probe, send a text, start a sweep, save
//! automation, write a radio's settings. Each operation checks its input before anything
//! reaches the radio and answers with plain data or an [`AppError`](crate::error::AppError);
//! the handlers only parse, call one of these and render. Dependencies run one way:
//! handlers → ops → radio, store, session.

pub mod alerts;
pub mod automation;
pub mod device;
pub mod history;
pub mod sweep;
pub mod text;
pub mod topology;
pub mod trace;
pub mod vnode;
