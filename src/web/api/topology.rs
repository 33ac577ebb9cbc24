//! `GET /api/topology` (our extension): the radio's nodes that links join and its links,
//! `{nodes:[{id,name,lat?,lon?}], links:[{from,to,snr,source,time}]}`; a link goes from the
//! node heard to the node that heard it, `snr` in dB (null when unknown), `source`
//! `neighborinfo` or `traceroute`. No radio: empty lists.

use axum::middleware::from_fn;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::error::Result;
use crate::time::iso_us;
use crate::web::ops::topology;
use crate::web::{access, AppState, Ctx};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/topology", get(show))
        .route_layer(from_fn(access::operate))
}

async fn show(ctx: Ctx) -> Result<Json<Value>> {
    let Some(link) = ctx.link() else {
        return Ok(Json(json!({"nodes": [], "links": []})));
    };
    let t = topology::of_link(&ctx.app, &link).await?;
    let nodes: Vec<Value> = t
        .nodes
        .iter()
        .map(|n| {
            let mut v = json!({"id": n.id, "name": n.name});
            if let Some((lat, lon)) = n.lat.zip(n.lon) {
                v["lat"] = json!(lat);
                v["lon"] = json!(lon);
            }
            v
        })
        .collect();
    let links: Vec<Value> = t
        .links
        .iter()
        .map(|l| {
            json!({
                "from": l.from.to_string(),
                "to": l.to.to_string(),
                "snr": l.snr,
                "source": l.source.name(),
                "time": iso_us(l.at),
            })
        })
        .collect();
    Ok(Json(json!({"nodes": nodes, "links": links})))
}
