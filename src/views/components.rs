//! Small pieces used on several pages.

use maud::{html, Markup};

/// An error message for the toast area.
pub fn error_toast(message: &str) -> Markup {
    html! { div.toast.error role="alert" { (message) } }
}

/// A notice for the toast area.
pub fn info_toast(message: &str) -> Markup {
    html! { div.toast.info role="status" { (message) } }
}

/// A value or an em dash when unknown.
pub fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "—".to_string())
}

/// A battery level: 101 is "plugged in".
pub fn battery(level: Option<u32>) -> String {
    match level {
        Some(b) if b > 100 => "plugged in".to_string(),
        Some(b) => format!("{b}%"),
        None => "—".to_string(),
    }
}

pub fn card(title: &str, value: &str, detail: &str) -> Markup {
    html! {
        div.card {
            div.card-title { (title) }
            div.card-value { (value) }
            div.card-detail { (detail) }
        }
    }
}
