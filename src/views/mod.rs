//! maud views: pure functions of plain data (no database, no clock, no async).

pub mod alerts;
pub mod automation;
pub mod chart;
pub mod components;
pub mod connect;
pub mod history;
pub mod layout;
pub mod map;
pub mod messages;
pub mod nodes;
pub mod packets;
pub mod radios;
pub mod settings;
pub mod status;
pub mod topology;
pub mod traceroute;

pub use crate::time::{ago, duration, iso};

/// Text for an XML document (SVG): characters XML 1.0 does not allow (control characters
/// but tab and line breaks, U+FFFE, U+FFFF), which a stranger's node name may hold, become
/// U+FFFD. maud escapes the rest.
pub fn xml_text(s: &str) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| {
        (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{FFFE}' | '\u{FFFF}')
    };
    if !s.chars().any(bad) {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(
        s.chars()
            .map(|c| if bad(c) { '\u{FFFD}' } else { c })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn xml_text_replaces_what_xml_forbids() {
        assert_eq!(super::xml_text("Node 1"), "Node 1");
        assert_eq!(
            super::xml_text("a\u{1}\u{b}\u{1b}b\tc"),
            "a\u{FFFD}\u{FFFD}\u{FFFD}b\tc"
        );
        assert_eq!(super::xml_text("x\u{FFFF}"), "x\u{FFFD}");
    }
}
