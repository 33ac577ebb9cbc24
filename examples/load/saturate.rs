//! The nodes list without think time: `--saturate-conns` connections sharing session 0's
//! cookie fetch `/nodes`, then `/api/nodes`, for `--saturate-secs` each.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::figures::{ms, ppp, Errors};
use crate::support::proc::cpu_secs;
use crate::Args;

/// One path's figures.
pub struct Saturated {
    pub path: &'static str,
    /// Requests per second.
    pub rps: f64,
    /// p50 / p95 / p99 ms.
    pub ppp: String,
    /// Server CPU seconds.
    pub cpu: Option<f64>,
    pub count: f64,
    /// Bytes of the last answer.
    pub bytes: usize,
}

pub async fn run(
    args: &Args,
    pid: Option<u32>,
    http: &reqwest::Client,
    base: &str,
    errors: &Arc<Errors>,
) -> anyhow::Result<Vec<Saturated>> {
    let mut saturate = Vec::new();
    if args.saturate_secs == 0 {
        return Ok(saturate);
    }
    for path in ["/nodes", "/api/nodes"] {
        eprintln!(
            "saturating {path} from {} connections for {} s",
            args.saturate_conns, args.saturate_secs
        );
        let until = Instant::now() + Duration::from_secs(args.saturate_secs);
        let t = Instant::now();
        let c0 = pid.and_then(cpu_secs);
        let mut hs = Vec::new();
        for _ in 0..args.saturate_conns {
            // One client per connection, sharing session 0's cookie.
            let (http, base, errors, gzip) = (
                http.clone(),
                base.to_string(),
                errors.clone(),
                !args.no_gzip,
            );
            hs.push(tokio::spawn(async move {
                let mut v = Vec::new();
                let mut bytes = 0;
                while Instant::now() < until {
                    let t = Instant::now();
                    let mut req = http
                        .get(format!("{base}{path}"))
                        .timeout(Duration::from_secs(30));
                    if gzip {
                        req = req.header("accept-encoding", "gzip");
                    }
                    match req.send().await {
                        Ok(r) if r.status() == 200 => match r.bytes().await {
                            Ok(b) => {
                                bytes = b.len();
                                v.push(ms(t.elapsed()));
                            }
                            Err(e) => errors.add(format!("saturate {path} body: {e}")),
                        },
                        Ok(r) => errors.add(format!("saturate {path}: HTTP {}", r.status())),
                        Err(e) => errors.add(format!("saturate {path}: {e}")),
                    }
                }
                (v, bytes)
            }));
        }
        let mut v = Vec::new();
        let mut bytes = 0;
        for h in hs {
            let (l, b) = h.await?;
            v.extend(l);
            bytes = b;
        }
        let el = t.elapsed().as_secs_f64();
        let cpu = c0.zip(pid.and_then(cpu_secs)).map(|(a, b)| b - a);
        let count = v.len() as f64;
        saturate.push(Saturated {
            path,
            rps: count / el,
            ppp: ppp(&mut v),
            cpu,
            count,
            bytes,
        });
    }
    Ok(saturate)
}
