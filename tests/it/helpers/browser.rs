//! A browser-like client: its own cookie jar, no redirects followed, and one method per
//! endpoint the tests call. JSON calls give `(status, body)`; HTML ones `(status, text)`;
//! the HTMX form posts and streams give the response itself, for its headers.

use std::time::Duration;

use meshdeck::sim::SimRadio;
use serde_json::{json, Value};

use super::eventually;

pub struct Browser {
    pub http: reqwest::Client,
    pub base: String,
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: base.to_string(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(self.url(path))
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.post(self.url(path))
    }

    pub async fn post_json(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self.post(path).json(&body).send().await.unwrap();
        json_of(r).await
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        json_of(self.get(path).send().await.unwrap()).await
    }

    pub async fn get_html(&self, path: &str) -> (u16, String) {
        let r = self.get(path).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// A form posted the way HTMX posts it.
    pub async fn hx_post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let r = self.post(path).header("HX-Request", "true").form(form);
        r.send().await.unwrap()
    }

    /// A page asked for the way HTMX asks: the fragment.
    pub async fn hx_get(&self, path: &str) -> reqwest::Response {
        let r = self.get(path).header("HX-Request", "true");
        r.send().await.unwrap()
    }

    /// Opens a live stream (`/events…`).
    pub async fn events(&self, path: &str) -> reqwest::Response {
        self.get(path).send().await.unwrap()
    }

    pub async fn login(&self, name: &str, password: &str) -> u16 {
        let form = [("name", name), ("password", password)];
        let r = self.post("/login").form(&form).send().await.unwrap();
        r.status().as_u16()
    }

    pub async fn connect(&self, radio: &SimRadio) -> (u16, Value) {
        self.connect_to("127.0.0.1", radio.addr().port()).await
    }

    pub async fn connect_to(&self, host: &str, port: u16) -> (u16, Value) {
        self.post_json("/api/connect", json!({"host": host, "port": port}))
            .await
    }

    /// Connects to `radio` until it answers 200 (a radio that just lost its link may still
    /// be held for a moment) or `timeout` passes; the last status.
    pub async fn reconnect(&self, radio: &SimRadio, timeout: Duration) -> u16 {
        let code = eventually(timeout, "the radio takes a connection", async || match self
            .connect(radio)
            .await
            .0
        {
            200 => Ok(200),
            code => Err(code),
        });
        code.await
    }

    pub async fn disconnect(&self) -> (u16, Value) {
        self.post_json("/api/disconnect", json!({})).await
    }

    pub async fn status(&self) -> Value {
        self.get_json("/api/status").await.1
    }

    /// Waits until the status says connected; panics with `what` after `timeout`.
    pub async fn until_connected(&self, timeout: Duration, what: &str) {
        let connected = async || self.status().await["connected"] == true;
        eventually(timeout, what, connected).await;
    }

    pub async fn nodes(&self, filter: &str) -> Vec<Value> {
        let (s, v) = self.get_json(&format!("/api/nodes?filter={filter}")).await;
        assert_eq!(s, 200, "{v}");
        v.as_array().unwrap().clone()
    }

    pub async fn node(&self, id: &str) -> (u16, Value) {
        self.get_json(&format!("/api/node/{id}")).await
    }

    /// The packet log (JSON).
    pub async fn packets(&self) -> Vec<Value> {
        array(self.get_json("/api/packets").await.1)
    }

    /// The messages (JSON).
    pub async fn messages(&self) -> Vec<Value> {
        array(self.get_json("/api/messages").await.1)
    }

    /// Message `id` as the API lists it (`Null` if it is not listed).
    pub async fn message(&self, id: u64) -> Value {
        let list = self.messages().await;
        let m = list.into_iter().find(|m| m["id"] == id);
        m.unwrap_or(Value::Null)
    }

    pub async fn send(&self, body: Value) -> (u16, Value) {
        self.post_json("/api/send", body).await
    }

    pub async fn autoresponder(&self) -> Value {
        self.get_json("/api/autoresponder").await.1
    }

    pub async fn set_autoresponder(&self, rules: Value) -> (u16, Value) {
        self.post_json("/api/autoresponder", rules).await
    }

    pub async fn beacon(&self) -> Value {
        self.get_json("/api/beacon").await.1
    }

    pub async fn set_beacon(&self, body: Value) -> (u16, Value) {
        self.post_json("/api/beacon", body).await
    }

    pub async fn message_filter(&self) -> Value {
        self.get_json("/api/message-filter").await.1
    }

    pub async fn set_message_filter(&self, body: Value) -> (u16, Value) {
        self.post_json("/api/message-filter", body).await
    }

    pub async fn traceroute(&self, body: Value) -> (u16, Value) {
        self.post_json("/api/traceroute", body).await
    }

    pub async fn traceroute_results(&self) -> Value {
        self.get_json("/api/traceroute/results").await.1
    }

    pub async fn sweep(&self) -> (u16, Value) {
        self.post_json("/api/sweep", json!({})).await
    }

    pub async fn sweep_status(&self) -> Value {
        self.get_json("/api/sweep/status").await.1
    }

    pub async fn mqtt_health(&self) -> (u16, Value) {
        self.get_json("/api/mqtt/health").await
    }

    pub async fn mqtt_config(&self) -> Value {
        self.get_json("/api/device/mqtt/config").await.1
    }
}

async fn json_of(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn array(v: Value) -> Vec<Value> {
    v.as_array().unwrap().clone()
}

/// Reads the live stream `r` until its text holds `want`; panics if `timeout` passes first.
pub async fn read_until(r: &mut reqwest::Response, want: &str, timeout: Duration) -> String {
    let mut body = String::new();
    let end = tokio::time::Instant::now() + timeout;
    while !body.contains(want) {
        let chunk = tokio::time::timeout_at(end, r.chunk())
            .await
            .expect("stream went quiet")
            .unwrap()
            .unwrap();
        body.push_str(&String::from_utf8_lossy(&chunk));
    }
    body
}

/// Reads the live stream `r` until what it sent holds every one of `want` (events of one
/// moment may come in either order).
pub async fn read_until_all(r: &mut reqwest::Response, want: &[&str], timeout: Duration) -> String {
    let mut body = String::new();
    let end = tokio::time::Instant::now() + timeout;
    while !want.iter().all(|w| body.contains(w)) {
        let chunk = tokio::time::timeout_at(end, r.chunk())
            .await
            .unwrap_or_else(|_| panic!("stream went quiet before {want:?}: {body}"))
            .unwrap()
            .unwrap();
        body.push_str(&String::from_utf8_lossy(&chunk));
    }
    body
}

/// What the live stream `r` sends within `d` (less if it ends or fails sooner).
pub async fn read_for(r: &mut reqwest::Response, d: Duration) -> String {
    let mut body = String::new();
    let end = tokio::time::Instant::now() + d;
    while let Ok(Some(Ok(chunk))) = tokio::time::timeout_at(end, r.chunk())
        .await
        .map(|c| c.transpose())
    {
        body.push_str(&String::from_utf8_lossy(&chunk));
    }
    body
}
