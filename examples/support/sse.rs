//! The live-stream client: read a server-sent event stream chunk by chunk until it ends,
//! fails or the caller stops it, counting its `event:` lines on the way (across chunk
//! boundaries).

use std::future::Future;

/// Why a stream stopped being read.
pub enum End {
    /// The caller's stop came first.
    Stopped,
    /// The server ended the stream.
    Ended,
    Failed(reqwest::Error),
}

/// Reads `r` until it ends or fails or `stop` completes, handing every chunk to `chunk`.
pub async fn read(
    r: &mut reqwest::Response,
    stop: impl Future,
    mut chunk: impl FnMut(&[u8]),
) -> End {
    let mut stop = std::pin::pin!(stop);
    loop {
        let next = tokio::select! {
            c = r.chunk() => c,
            _ = &mut stop => return End::Stopped,
        };
        match next {
            Ok(Some(c)) => chunk(&c),
            Ok(None) => return End::Ended,
            Err(e) => return End::Failed(e),
        }
    }
}

/// Counts the `event:` lines of a stream, and among them the `event: packet` ones.
#[derive(Default)]
pub struct Events {
    line: Vec<u8>,
}

impl Events {
    /// The `event:` lines and `event: packet` lines that end in `chunk`.
    pub fn count(&mut self, chunk: &[u8]) -> (u64, u64) {
        let (mut events, mut packets) = (0, 0);
        for &b in chunk {
            if b == b'\n' {
                if self.line.starts_with(b"event:") {
                    events += 1;
                    if self.line.starts_with(b"event: packet") {
                        packets += 1;
                    }
                }
                self.line.clear();
            } else if self.line.len() < 32 {
                self.line.push(b);
            }
        }
        (events, packets)
    }
}
