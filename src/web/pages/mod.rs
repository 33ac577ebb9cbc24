//! The HTML side: one file per thing a user does, each with its router, which says next to
//! its routes who may use them (see `access`). One URL, two renderings: an HTMX request gets
//! the fragment, a plain request the whole page.

mod alerts;
mod assets;
mod automation;
mod connect;
mod coverage;
mod events;
mod follow;
mod login;
mod map;
mod messages;
mod nodes;
mod packets;
mod radios;
mod settings;
mod status;
mod topology;
mod traceroute;

use axum::Router;

use super::AppState;

pub fn router() -> Router<AppState> {
    let areas = [
        connect::router(),
        login::router(),
        nodes::router(),
        messages::router(),
        traceroute::router(),
        coverage::router(),
        map::router(),
        topology::router(),
        packets::router(),
        radios::router(),
        automation::router(),
        alerts::router(),
        settings::router(),
        status::router(),
        events::router(),
        assets::router(),
    ];
    areas.into_iter().fold(Router::new(), Router::merge)
}
