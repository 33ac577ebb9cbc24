//! `/map`: the nodes with a position on an offline map drawn on the server, moved by
//! `?lat=&lon=&z=` (each optional; the rest fitted to the nodes). A plain request gets the
//! page, an HTMX one the map alone. Tiles are drawn only from the operator's tile server
//! (`--map-tiles`), and only then may the page load images from its origin.

use std::time::{Duration, SystemTime};

use axum::extract::Query;
use axum::http::{header, HeaderValue};
use axum::middleware::from_fn;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use crate::error::{AppError, Result};
use crate::read::map::{self, TRACK_POINTS};
use crate::read::mercator::View;
use crate::views::layout::Tab;
use crate::views::map::{map_page, map_part, MapModel, HEIGHT, WIDTH};
use crate::web::ops::topology;
use crate::web::{access, page, AppState, Ctx};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/map", get(show))
        .route_layer(from_fn(access::operate))
}

/// How far back the tracks go.
const TRACKS_FOR: Duration = Duration::from_secs(24 * 3600);

#[derive(Deserialize, Default)]
#[serde(default)]
struct MapQuery {
    lat: Option<String>,
    lon: Option<String>,
    z: Option<String>,
}

/// A number of the query: absent or empty is none, anything but a finite number an error
/// (an out-of-range one is brought into range by the view).
fn number(name: &str, v: Option<&str>) -> Result<Option<f64>> {
    let Some(v) = v.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let shown: String = v.chars().take(40).collect();
    match v.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(Some(x)),
        _ => Err(AppError::BadRequest(format!(
            "{name} must be a finite number, not {shown:?}"
        ))),
    }
}

async fn show(ctx: Ctx, Query(q): Query<MapQuery>) -> Result<Response> {
    let lat = number("lat", q.lat.as_deref())?;
    let lon = number("lon", q.lon.as_deref())?;
    let z = number("z", q.z.as_deref())?;
    let Some(link) = ctx.link() else {
        return page::no_radio(&ctx).await;
    };
    let state = &ctx.app;
    let now = SystemTime::now();
    let topo = topology::of_link(state, &link).await?;
    let (markers, radio) = {
        let st = link.state();
        (map::markers(&st), st.radio_key)
    };
    let since = now
        .checked_sub(TRACKS_FOR)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let stored = match state.store.tracks(radio, since, TRACK_POINTS).await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = ?e, "reading position tracks failed");
            Default::default()
        }
    };
    let tracks = map::tracks(&markers, &stored);
    let links = map::map_links(&markers, &topo.links);
    let points: Vec<(f64, f64)> = markers.iter().map(|m| (m.lat, m.lon)).collect();
    let fit = View::fit(&points, WIDTH, HEIGHT, 40.0);
    let fitted = lat.is_none() && lon.is_none() && z.is_none();
    let view = View::new(
        lat.unwrap_or(fit.lat),
        lon.unwrap_or(fit.lon),
        z.unwrap_or(fit.zoom),
        WIDTH,
        HEIGHT,
    );
    let tiles_from = &state.config.map_tiles;
    let model = MapModel {
        view,
        markers: &markers,
        tracks: &tracks,
        links: &links,
        tiles: if tiles_from.is_set() {
            MapModel::tiles_of(&view, |z, x, y| tiles_from.url(z, x, y))
        } else {
            Vec::new()
        },
        fitted,
    };
    let mut res = if ctx.htmx {
        map_part(&model, now).into_response()
    } else {
        let body = map_page(&model, now);
        page::full(&ctx, "Map", Some(Tab::Map), None, body).into_response()
    };
    if let Some(origin) = tiles_from.origin() {
        let csp = crate::web::csp_with_images_from(origin);
        if let Ok(v) = HeaderValue::from_str(&csp) {
            res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
        }
    }
    Ok(res)
}
