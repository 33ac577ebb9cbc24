//! Limits: connections and the time to send a request's headers, live streams, the login
//! throttle and the password checks, and what a login name can do to the log.

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use meshdeck::auth::Role;

use crate::hardening::{add_user, PASS};
use crate::helpers::*;

/// At the cap, a new connection waits (in the kernel's queue) until another closes.
#[tokio::test]
async fn connections_past_the_cap_wait_for_a_place() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(|c| c.max_connections = 2).await;
    let held: Vec<tokio::net::TcpStream> = futures_util::future::join_all(
        (0..2).map(|_| tokio::net::TcpStream::connect(app.app.addr)),
    )
    .await
    .into_iter()
    .map(|c| c.unwrap())
    .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = tokio::net::TcpStream::connect(app.app.addr).await.unwrap();
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 512];
    let early = tokio::time::timeout(Duration::from_millis(800), third.read(&mut buf)).await;
    assert!(
        early.is_err(),
        "answered while two connections held every place"
    );
    drop(held);
    let n = tokio::time::timeout(secs(5), third.read(&mut buf))
        .await
        .expect("answered once a place is free")
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
}

/// Password checks run on the blocking pool: while they run, the async worker (one thread
/// here) goes on serving.
#[tokio::test]
async fn password_checks_leave_the_async_worker_free() {
    let hasher = meshdeck::auth::Hasher::default();
    let hash = meshdeck::auth::hash("long enough pass").unwrap();
    let ticks = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let t = ticks.clone();
    let ticker = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(5)).await;
            t.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    });
    let start = Instant::now();
    let checks = (0..4).map(|_| hasher.verify("wrong pass word".into(), Some(hash.clone())));
    let results = futures_util::future::join_all(checks).await;
    let took = start.elapsed();
    ticker.abort();
    assert!(results.iter().all(|ok| !ok));
    let n = ticks.load(std::sync::atomic::Ordering::Relaxed);
    // Blocking the one worker thread would leave the ticker at 0 for the whole time.
    assert!(
        u128::from(n) * 5 * 4 >= took.as_millis(),
        "{n} ticks in {took:?}: the worker was blocked"
    );
}

#[tokio::test]
async fn a_half_sent_request_is_closed_and_streams_are_capped() {
    let app = spawn_app_with(|c| c.max_streams = 20).await;
    let radio = app.radio(quiet(0, 5)).await;
    // Half a request, then nothing: closed after the header timeout.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut half = tokio::net::TcpStream::connect(app.app.addr).await.unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 256];
    let read = tokio::time::timeout(Duration::from_secs(20), half.read(&mut buf)).await;
    let n = read.expect("closed within 20 s").unwrap_or(0);
    let waited = start.elapsed();
    assert!(
        n == 0 || String::from_utf8_lossy(&buf[..n]).contains("408"),
        "closed"
    );
    assert!(
        waited >= Duration::from_secs(9) && waited < Duration::from_secs(15),
        "{waited:?}"
    );
    // One session: 16 live streams, the 17th refused.
    let b = app.browser();
    assert_eq!(b.connect(&radio).await.0, 200);
    let mut open = Vec::new();
    for _ in 0..16 {
        let r = b.events("/events").await;
        assert_eq!(r.status(), 200);
        open.push(r);
    }
    let r = b.events("/events").await;
    assert_eq!(r.status(), 429);
    // The server's cap (20 here) over all sessions.
    let c = app.browser();
    assert_eq!(c.connect(&radio).await.0, 200);
    for _ in 0..4 {
        let r = c.events("/events").await;
        assert_eq!(r.status(), 200);
        open.push(r);
    }
    let d = app.browser();
    assert_eq!(d.connect(&radio).await.0, 200);
    let r = d.events("/events").await;
    assert_eq!(r.status(), 429);
    assert!(r.text().await.unwrap().contains("live streams"));
    // Closing one gives its place back.
    drop(open.pop());
    eventually(secs(3), "a place is free again", async || {
        d.events("/events").await.status() == 200
    })
    .await;
}

#[tokio::test]
async fn concurrent_wrong_passwords_get_five_checks_and_a_sprayed_name_is_slowed() {
    let app = spawn_app().await;
    add_user(&app, "ada", Role::Admin).await;
    let tries: Vec<_> = (0..40)
        .map(|_| {
            let b = app.browser();
            tokio::spawn(async move { b.login("ada", "wrong wrong wrong").await })
        })
        .collect();
    let mut checked = 0;
    for t in tries {
        match t.await.unwrap() {
            401 => checked += 1,
            429 => {}
            other => panic!("{other}"),
        }
    }
    assert_eq!(checked, 5, "five checks, however many at once");
    // From other loopback addresses: each gets its own five, but past ten failures of the
    // name every attempt waits its turn.
    let from = |ip: &str| Browser {
        http: reqwest::Client::builder()
            .local_address(ip.parse::<std::net::IpAddr>().unwrap())
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        base: app.base.clone(),
    };
    for i in 2..8 {
        assert_eq!(
            from(&format!("127.0.0.{i}"))
                .login("ada", "nope nope nope")
                .await,
            401
        );
    }
    let start = Instant::now();
    assert_eq!(
        from("127.0.0.9").login("ada", PASS).await,
        303,
        "slowed, not locked"
    );
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn a_login_name_cannot_forge_log_lines() {
    let dir = TempDir::new();
    let data = dir.0.to_str().unwrap();
    let add = run_with_input(
        meshdeck().args(["--data-dir", data, "user", "add", "alice"]),
        "long enough pass\n",
    );
    assert!(add.status.success(), "{add:?}");
    let (mut server, base) = listening(
        meshdeck()
            .args(["--data-dir", data, "--bind", "127.0.0.1:0"])
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stderr(Stdio::piped()),
    );
    let b = Browser::new(&base);
    let forged = "x\n2026-12-01T00:00:00Z  INFO logged in user=alice role=admin\u{1b}[31m";
    assert_eq!(b.login(forged, "whatever pass").await, 401);
    let mut log = String::new();
    let mut stderr = server.stderr.take().unwrap();
    assert!(terminate(&mut server).success());
    stderr.read_to_string(&mut log).unwrap();
    assert!(log.contains("failed login"), "{log}");
    assert!(!log.contains('\u{1b}'), "no raw escape codes: {log:?}");
    assert!(
        !log.lines().any(|l| l.starts_with("2026-12-01T00:00:00Z")),
        "no forged line: {log}"
    );
}
