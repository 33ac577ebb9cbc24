//! Places for live streams: at most [`PER_SESSION`] per session and a cap over all, so one
//! browser (or a script) cannot hold every connection open.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::error::AppError;
use crate::session::SessionId;

/// Live streams one session may hold (tabs of one browser).
pub const PER_SESSION: usize = 16;

#[derive(Default)]
pub struct Streams {
    open: Mutex<(HashMap<SessionId, usize>, usize)>,
}

impl Streams {
    /// Takes a place for a stream of `id`, or says why not. Give it back with
    /// [`Streams::release`].
    pub fn take(&self, id: &SessionId, max_total: usize) -> Result<usize, AppError> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.1 >= max_total {
            return Err(AppError::TooMany(format!(
                "the server has {max_total} live streams open, its most; try again later"
            )));
        }
        let mine = open.0.entry(id.clone()).or_default();
        if *mine >= PER_SESSION {
            return Err(AppError::TooMany(format!(
                "this browser has {PER_SESSION} live streams open (tabs), its most; close some"
            )));
        }
        *mine += 1;
        open.1 += 1;
        Ok(open.1)
    }

    pub fn release(&self, id: &SessionId) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.0.get_mut(id) {
            *n -= 1;
            if *n == 0 {
                open.0.remove(id);
            }
            open.1 = open.1.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_and_the_server_have_caps() {
        let s = Streams::default();
        let (a, b) = (SessionId::random(), SessionId::random());
        for _ in 0..PER_SESSION {
            s.take(&a, 20).unwrap();
        }
        assert!(s.take(&a, 20).is_err(), "the session's cap");
        for _ in 0..4 {
            s.take(&b, 20).unwrap();
        }
        assert!(s.take(&b, 20).is_err(), "the server's cap");
        s.release(&a);
        assert!(s.take(&b, 20).is_ok());
        s.release(&SessionId::random());
        assert!(s.take(&a, 20).is_err(), "an unknown release frees nothing");
    }
}
