//! The map's projection: Web Mercator (the slippy-map tiles' own), a view of it (centre,
//! zoom, size in pixels) fitted to the nodes or moved by the user, the round length of the
//! scale bar and the tiles a view covers. Pure functions of numbers.

use std::f64::consts::PI;

/// Pixels of one tile, and of the whole world at zoom 0.
pub const TILE: f64 = 256.0;
pub const MIN_ZOOM: f64 = 1.0;
pub const MAX_ZOOM: f64 = 19.0;
/// The latitude where Web Mercator's square world ends.
pub const MAX_LAT: f64 = 85.051_128_78;
/// Zoom of a view fitted to a single node (or nodes on one spot).
const SPOT_ZOOM: f64 = 13.0;
/// Most a fitted view zooms in.
const FIT_MAX_ZOOM: f64 = 16.0;

/// A point of the world in Web Mercator, both coordinates in 0..1 (x east, y south).
pub fn world(lat: f64, lon: f64) -> (f64, f64) {
    let lat = lat.clamp(-MAX_LAT, MAX_LAT).to_radians();
    let x = (lon.clamp(-180.0, 180.0) + 180.0) / 360.0;
    let y = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / PI) / 2.0;
    (x, y)
}

/// Back from [`world`] to (latitude, longitude) in degrees.
pub fn lat_lon(x: f64, y: f64) -> (f64, f64) {
    let lon = x.clamp(0.0, 1.0) * 360.0 - 180.0;
    let lat = (PI * (1.0 - 2.0 * y.clamp(0.0, 1.0)))
        .sinh()
        .atan()
        .to_degrees();
    (lat, lon)
}

/// What the map shows: its centre, zoom (as slippy maps count it) and size in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct View {
    pub lat: f64,
    pub lon: f64,
    pub zoom: f64,
    pub width: f64,
    pub height: f64,
}

/// A tile of a view: its address and where it goes, in the view's pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tile {
    pub z: u32,
    pub x: u32,
    pub y: u32,
    pub px: f64,
    pub py: f64,
    pub size: f64,
}

impl View {
    /// A view, its centre and zoom brought into range (finite values expected; others become
    /// the middle of the range).
    pub fn new(lat: f64, lon: f64, zoom: f64, width: f64, height: f64) -> View {
        let fin = |v: f64, lo: f64, hi: f64| {
            if v.is_finite() {
                v.clamp(lo, hi)
            } else {
                (lo + hi) / 2.0
            }
        };
        View {
            lat: fin(lat, -MAX_LAT, MAX_LAT),
            lon: fin(lon, -180.0, 180.0),
            zoom: fin(zoom, MIN_ZOOM, MAX_ZOOM),
            width: width.max(1.0),
            height: height.max(1.0),
        }
    }

    /// The view that shows every point, `pad` pixels from the edges (a spot alone at a
    /// street's zoom; the whole world when there is nothing).
    pub fn fit(points: &[(f64, f64)], width: f64, height: f64, pad: f64) -> View {
        let pts: Vec<(f64, f64)> = points
            .iter()
            .filter(|(a, b)| a.is_finite() && b.is_finite())
            .map(|&(lat, lon)| world(lat, lon))
            .collect();
        let Some(&first) = pts.first() else {
            return View::new(20.0, 0.0, MIN_ZOOM, width, height);
        };
        let (mut lo, mut hi) = (first, first);
        for &(x, y) in &pts {
            lo = (lo.0.min(x), lo.1.min(y));
            hi = (hi.0.max(x), hi.1.max(y));
        }
        let (dx, dy) = (hi.0 - lo.0, hi.1 - lo.1);
        let room = ((width - 2.0 * pad).max(1.0), (height - 2.0 * pad).max(1.0));
        let zoom = if dx <= 1e-12 && dy <= 1e-12 {
            SPOT_ZOOM
        } else {
            let fits = |span: f64, px: f64| {
                if span <= 1e-12 {
                    f64::INFINITY
                } else {
                    (px / (span * TILE)).log2()
                }
            };
            fits(dx, room.0).min(fits(dy, room.1)).min(FIT_MAX_ZOOM)
        };
        // Two decimals, as the view's links carry it.
        let zoom = (zoom * 100.0).floor() / 100.0;
        let (lat, lon) = lat_lon((lo.0 + hi.0) / 2.0, (lo.1 + hi.1) / 2.0);
        View::new(lat, lon, zoom, width, height)
    }

    /// Pixels of the whole world at this zoom.
    fn world_px(&self) -> f64 {
        TILE * self.zoom.exp2()
    }

    /// Where a point is on the view, in pixels from its top left (may be outside it).
    pub fn project(&self, lat: f64, lon: f64) -> (f64, f64) {
        let (cx, cy) = world(self.lat, self.lon);
        let (x, y) = world(lat, lon);
        let s = self.world_px();
        (
            (x - cx) * s + self.width / 2.0,
            (y - cy) * s + self.height / 2.0,
        )
    }

    /// Whether a projected point is on the view or within `margin` pixels of it.
    pub fn shows(&self, (x, y): (f64, f64), margin: f64) -> bool {
        (-margin..=self.width + margin).contains(&x)
            && (-margin..=self.height + margin).contains(&y)
    }

    /// The view moved by a fraction of its width (east positive) and height (south positive).
    pub fn panned(&self, right: f64, down: f64) -> View {
        let (cx, cy) = world(self.lat, self.lon);
        let s = self.world_px();
        let (lat, lon) = lat_lon(cx + right * self.width / s, cy + down * self.height / s);
        View::new(lat, lon, self.zoom, self.width, self.height)
    }

    /// The view zoomed in (positive) or out by `by` steps.
    pub fn zoomed(&self, by: f64) -> View {
        View::new(self.lat, self.lon, self.zoom + by, self.width, self.height)
    }

    /// Metres one pixel spans at the view's centre.
    pub fn metres_per_px(&self) -> f64 {
        const EQUATOR_M: f64 = 40_075_016.686;
        EQUATOR_M * self.lat.to_radians().cos() / self.world_px()
    }

    /// The tiles that cover the view, at the whole zoom below its own (each drawn larger to
    /// fit), at most `max` of them (none when more would be needed).
    pub fn tiles(&self, max: usize) -> Vec<Tile> {
        let z = self.zoom.floor().clamp(0.0, MAX_ZOOM);
        let n = z.exp2();
        let size = TILE * (self.zoom - z).exp2();
        let (cx, cy) = world(self.lat, self.lon);
        // The view's top left in tile units of zoom z.
        let left = cx * n - self.width / 2.0 / size;
        let top = cy * n - self.height / 2.0 / size;
        let (x0, y0) = (left.floor().max(0.0), top.floor().max(0.0));
        let x1 = (left + self.width / size).ceil().min(n);
        let y1 = (top + self.height / size).ceil().min(n);
        let count = (x1 - x0).max(0.0) * (y1 - y0).max(0.0);
        if count > max as f64 {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut ty = y0;
        while ty < y1 {
            let mut tx = x0;
            while tx < x1 {
                out.push(Tile {
                    z: z as u32,
                    x: tx as u32,
                    y: ty as u32,
                    px: (tx - left) * size,
                    py: (ty - top) * size,
                    size,
                });
                tx += 1.0;
            }
            ty += 1.0;
        }
        out
    }
}

/// The scale bar: a round length (1, 2 or 5 times a power of ten metres) and how many pixels
/// it spans, at most `max_px`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleBar {
    pub metres: f64,
    pub px: f64,
    pub label: String,
}

pub fn scale_bar(metres_per_px: f64, max_px: f64) -> ScaleBar {
    let most = (metres_per_px * max_px).max(1.0);
    let mag = 10f64.powf(most.log10().floor());
    let metres = [5.0, 2.0, 1.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|m| *m <= most)
        .unwrap_or(mag);
    let label = if metres >= 1000.0 {
        format!("{} km", metres / 1000.0)
    } else {
        format!("{metres} m")
    };
    ScaleBar {
        metres,
        px: metres / metres_per_px.max(f64::MIN_POSITIVE),
        label,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, eps: f64) -> bool {
        (a - b).abs() < eps
    }

    #[test]
    fn the_projection_goes_there_and_back() {
        assert_eq!(world(0.0, 0.0), (0.5, 0.5));
        let (x, y) = world(47.3769, 8.5417);
        let (lat, lon) = lat_lon(x, y);
        assert!(close(lat, 47.3769, 1e-9) && close(lon, 8.5417, 1e-9));
        // North is up, east is right.
        let v = View::new(47.0, 8.0, 10.0, 800.0, 600.0);
        let c = v.project(47.0, 8.0);
        assert!(close(c.0, 400.0, 1e-6) && close(c.1, 300.0, 1e-6));
        let north = v.project(47.1, 8.0);
        let east = v.project(47.0, 8.1);
        assert!(north.1 < c.1 && close(north.0, c.0, 1e-6));
        assert!(east.0 > c.0 && close(east.1, c.1, 1e-6));
    }

    #[test]
    fn a_fitted_view_shows_every_point_and_a_spot_gets_a_street_zoom() {
        let pts = [(47.30, 8.40), (47.45, 8.70), (47.35, 8.55)];
        let v = View::fit(&pts, 800.0, 600.0, 30.0);
        for (lat, lon) in pts {
            let p = v.project(lat, lon);
            assert!(v.shows(p, 0.0), "{p:?} of {v:?}");
            assert!(p.0 >= 29.0 && p.0 <= 771.0 && p.1 >= 29.0 && p.1 <= 571.0);
        }
        assert!(v.zoom > 9.0 && v.zoom < 12.0, "{}", v.zoom);
        assert_eq!(View::fit(&[(1.0, 2.0)], 800.0, 600.0, 30.0).zoom, 13.0);
        assert_eq!(View::fit(&[], 800.0, 600.0, 30.0).zoom, MIN_ZOOM);
        assert_eq!(
            View::fit(&[(f64::NAN, 2.0)], 800.0, 600.0, 30.0).zoom,
            MIN_ZOOM
        );
    }

    #[test]
    fn views_are_clamped_and_pan_and_zoom_move_them() {
        let v = View::new(f64::NAN, 500.0, 99.0, 800.0, 600.0);
        assert_eq!((v.lat, v.lon, v.zoom), (0.0, 180.0, MAX_ZOOM));
        let v = View::new(47.0, 8.0, 10.0, 800.0, 600.0);
        let e = v.panned(0.5, 0.0);
        assert!(e.lon > v.lon && close(e.lat, v.lat, 1e-9));
        assert!(close(e.project(v.lat, v.lon).0, 0.0, 1e-6));
        let s = v.panned(0.0, 0.5);
        assert!(s.lat < v.lat);
        assert_eq!(v.zoomed(1.0).zoom, 11.0);
        assert_eq!(v.zoomed(-100.0).zoom, MIN_ZOOM);
        assert!(close(
            v.metres_per_px() * 2.0,
            v.zoomed(-1.0).metres_per_px(),
            1e-6
        ));
    }

    #[test]
    fn the_scale_bar_is_a_round_length_that_fits() {
        let b = scale_bar(10.0, 200.0);
        assert_eq!((b.metres, b.label.as_str()), (2000.0, "2 km"));
        assert!(close(b.px, 200.0, 1e-9));
        let b = scale_bar(3.3, 200.0);
        assert_eq!((b.metres, b.label.as_str()), (500.0, "500 m"));
        assert!(b.px <= 200.0 && b.px > 100.0);
        let b = scale_bar(0.01, 150.0);
        assert_eq!(b.label, "1 m");
        assert_eq!(scale_bar(80.0, 150.0).label, "10 km");
    }

    #[test]
    fn tiles_cover_the_view_and_are_bounded() {
        let v = View::new(47.0, 8.0, 10.5, 800.0, 600.0);
        let tiles = v.tiles(64);
        assert!(!tiles.is_empty());
        assert!(tiles
            .iter()
            .all(|t| t.z == 10 && close(t.size, 256.0 * 2f64.sqrt(), 1e-9)));
        let covers = |x: f64, y: f64| {
            tiles
                .iter()
                .any(|t| x >= t.px && x <= t.px + t.size && y >= t.py && y <= t.py + t.size)
        };
        assert!(covers(0.0, 0.0) && covers(800.0, 600.0) && covers(400.0, 300.0));
        assert!(v.tiles(2).is_empty());
        // Zoom 1 is a 2 × 2 world: never a tile outside it.
        let w = View::new(0.0, 0.0, 1.0, 800.0, 600.0);
        assert!(w.tiles(64).iter().all(|t| t.x < 2 && t.y < 2));
    }
}
