//! What the radio tells its client in a `ClientNotification`: a level and up to 400
//! characters of text, or one of its variants (a key verification step, a public key another
//! node shares, a weak key). Shown to every session on the radio as a notice; the text may
//! carry names strangers chose, so it is cut to size, stripped of control characters and
//! always escaped by the views. A radio that repeats itself is rate-limited here.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use crate::proto::pb;
use pb::client_notification::PayloadVariant as Kind;

/// Longest text firmware sends in a notification.
pub const TEXT_MAX: usize = 400;
/// Notices a link keeps (the newest).
const KEPT: usize = 3;
/// A new notice within this long of the last one kept is dropped.
const AT_MOST_EVERY: Duration = Duration::from_secs(2);
/// The same text again within this long only counts up the one shown.
const SAME_WITHIN: Duration = Duration::from_secs(60);
/// How long a notice is shown.
pub const SHOWN_FOR: Duration = Duration::from_secs(600);

/// How serious a notice is, from the firmware's log level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warning,
    Error,
}

/// One notice from the radio.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub at: SystemTime,
    pub level: Level,
    pub text: String,
    /// How many times it came within [`SAME_WITHIN`].
    pub times: u32,
}

/// The text a notification carries: its message, or what its variant means.
pub fn describe(n: &pb::ClientNotification) -> String {
    let said = clean(&n.message);
    let variant = match &n.payload_variant {
        None => None,
        Some(Kind::KeyVerificationNumberInform(k)) => Some(format!(
            "key verification with {}: the security number is {:03}",
            clean(&k.remote_longname),
            k.security_number % 1000
        )),
        Some(Kind::KeyVerificationNumberRequest(k)) => Some(format!(
            "{} asks to verify keys: enter the number it shows (on the radio or in a phone app)",
            clean(&k.remote_longname)
        )),
        Some(Kind::KeyVerificationFinal(k)) => Some(format!(
            "key verification with {}: compare {}",
            clean(&k.remote_longname),
            clean(&k.verification_characters)
        )),
        Some(Kind::DuplicatedPublicKey(_)) => {
            Some("another node uses this radio's public key: regenerate the key".to_string())
        }
        Some(Kind::LowEntropyKey(_)) => {
            Some("this radio's key is weak (low entropy): regenerate it".to_string())
        }
    };
    let text = match (variant, said.is_empty()) {
        (Some(v), true) => v,
        (Some(v), false) => format!("{said} ({v})"),
        (None, _) => said,
    };
    text.chars().take(TEXT_MAX).collect()
}

/// A level as firmware numbers them (`LogRecord.Level`).
pub fn level(n: &pb::ClientNotification) -> Level {
    match n.level {
        l if l >= pb::log_record::Level::Error as i32 => Level::Error,
        l if l >= pb::log_record::Level::Warning as i32 => Level::Warning,
        _ => Level::Info,
    }
}

/// Control characters out (newlines become spaces), at most [`TEXT_MAX`] characters.
fn clean(s: &str) -> String {
    s.chars()
        .take(TEXT_MAX)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

/// The notices of one link, newest last.
#[derive(Debug, Default)]
pub struct Notes(VecDeque<Note>);

impl Notes {
    /// Keeps a notice unless the rate limit says no; true when what is shown changed.
    pub fn add(&mut self, level: Level, text: String, now: SystemTime) -> bool {
        if text.is_empty() {
            return false;
        }
        let since = |n: &Note| now.duration_since(n.at).unwrap_or_default();
        if let Some(same) = self
            .0
            .iter_mut()
            .rev()
            .find(|n| n.text == text && since(n) < SAME_WITHIN)
        {
            same.times = same.times.saturating_add(1);
            return true;
        }
        if self.0.back().is_some_and(|n| since(n) < AT_MOST_EVERY) {
            return false;
        }
        if self.0.len() == KEPT {
            self.0.pop_front();
        }
        self.0.push_back(Note {
            at: now,
            level,
            text,
            times: 1,
        });
        true
    }

    /// The notices still shown at `now`, newest first.
    pub fn shown(&self, now: SystemTime) -> Vec<Note> {
        self.0
            .iter()
            .rev()
            .filter(|n| now.duration_since(n.at).unwrap_or_default() < SHOWN_FOR)
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(message: &str, variant: Option<Kind>) -> pb::ClientNotification {
        pb::ClientNotification {
            message: message.into(),
            level: pb::log_record::Level::Warning as i32,
            payload_variant: variant,
            ..Default::default()
        }
    }

    #[test]
    fn a_notice_is_cut_to_400_characters_and_loses_its_control_characters() {
        let long = format!("a\nb\u{7}{}", "é".repeat(1000));
        let text = describe(&note(&long, None));
        assert_eq!(text.chars().count(), TEXT_MAX);
        assert!(text.starts_with("a b "));
        assert!(!text.chars().any(char::is_control));
    }

    #[test]
    fn variants_say_what_they_mean() {
        let weak = describe(&note("", Some(Kind::LowEntropyKey(pb::LowEntropyKey {}))));
        assert!(weak.contains("weak"), "{weak}");
        let dup = describe(&note(
            "Compromised keys",
            Some(Kind::DuplicatedPublicKey(pb::DuplicatedPublicKey {})),
        ));
        assert!(dup.starts_with("Compromised keys (another node"), "{dup}");
        let inform = pb::KeyVerificationNumberInform {
            nonce: 1,
            remote_longname: "<b>Ridge</b>".into(),
            security_number: 42,
        };
        let text = describe(&note("", Some(Kind::KeyVerificationNumberInform(inform))));
        assert_eq!(
            text,
            "key verification with <b>Ridge</b>: the security number is 042"
        );
    }

    #[test]
    fn a_chatty_radio_is_rate_limited_and_repeats_count_up() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut notes = Notes::default();
        assert!(notes.add(Level::Warning, "one".into(), at(0)));
        assert!(
            notes.add(Level::Warning, "one".into(), at(100)),
            "a repeat counts"
        );
        assert!(
            !notes.add(Level::Warning, "two".into(), at(500)),
            "too soon"
        );
        assert!(notes.add(Level::Error, "three".into(), at(2500)));
        let shown = notes.shown(at(3000));
        let texts: Vec<(&str, u32)> = shown.iter().map(|n| (n.text.as_str(), n.times)).collect();
        assert_eq!(texts, vec![("three", 1), ("one", 2)]);
        for i in 0..5 {
            notes.add(Level::Info, format!("n{i}"), at(10_000 + i * 3000));
        }
        assert_eq!(notes.shown(at(30_000)).len(), KEPT);
        assert!(
            notes.shown(at(30_000) + SHOWN_FOR).is_empty(),
            "old ones go"
        );
    }
}
