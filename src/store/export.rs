//! CSV exports of a radio's history, streamed: rows are read on the blocking pool and sent
//! on in chunks, so a big export never sits whole in memory. Text from the mesh is quoted,
//! and a cell that a spreadsheet would run as a formula is made plain text.

use rusqlite::params;
use rusqlite::types::ValueRef;
use tokio::sync::mpsc;

use super::history::{from_stored, metric_columns};
use super::{from_ms, Store};
use crate::ids::NodeNum;
use crate::ids::RadioKey;
use crate::radio::observe::Metric;
use crate::time::iso;

/// What to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    Messages,
    /// Raw samples of one node, or of every node.
    Telemetry(Option<NodeNum>),
}

/// Bytes gathered before a chunk goes out.
const CHUNK: usize = 64 * 1024;

/// One CSV cell.
pub fn cell(out: &mut String, v: &str) {
    // A signed number is a number; anything else starting so is a formula to a spreadsheet.
    let formula = v.starts_with(['=', '@', '\t', '\r'])
        || (v.starts_with(['+', '-']) && v.parse::<f64>().is_err());
    let plain = !formula && !v.contains([',', '"', '\n', '\r']);
    if plain {
        out.push_str(v);
        return;
    }
    out.push('"');
    if formula {
        out.push('\'');
    }
    for ch in v.chars() {
        if ch == '"' {
            out.push('"');
        }
        out.push(ch);
    }
    out.push('"');
}

/// One CSV line of `cells`.
pub fn line<'a>(out: &mut String, cells: impl IntoIterator<Item = &'a str>) {
    for (i, c) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        cell(out, c);
    }
    out.push_str("\r\n");
}

/// The header of an export.
pub fn header(what: Export) -> String {
    let mut out = String::new();
    match what {
        Export::Messages => line(
            &mut out,
            [
                "time",
                "packetId",
                "direction",
                "from",
                "to",
                "channel",
                "conversation",
                "state",
                "error",
                "text",
            ],
        ),
        Export::Telemetry(_) => {
            let names = [
                "batteryLevel",
                "voltage",
                "channelUtil",
                "airUtilTx",
                "snr",
                "rssi",
                "hops",
                "temperature",
                "humidity",
                "pressure",
            ];
            line(&mut out, ["time", "node"].into_iter().chain(names));
        }
    }
    out
}

fn text(v: ValueRef<'_>) -> String {
    match v {
        ValueRef::Null => String::new(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => f.to_string(),
        ValueRef::Text(t) | ValueRef::Blob(t) => String::from_utf8_lossy(t).into_owned(),
    }
}

fn row_cells(what: Export, r: &rusqlite::Row<'_>) -> rusqlite::Result<Vec<String>> {
    let time = iso(from_ms(r.get(0)?));
    Ok(match what {
        Export::Messages => {
            let outgoing: bool = r.get(2)?;
            let node =
                |i: usize| -> rusqlite::Result<String> { Ok(r.get::<_, NodeNum>(i)?.to_string()) };
            vec![
                time,
                text(r.get_ref(1)?),
                if outgoing { "out" } else { "in" }.to_string(),
                node(3)?,
                crate::ids::Dest::from(r.get::<_, NodeNum>(4)?).to_string(),
                text(r.get_ref(5)?),
                text(r.get_ref(6)?),
                text(r.get_ref(7)?),
                text(r.get_ref(8)?),
                text(r.get_ref(9)?),
            ]
        }
        Export::Telemetry(_) => {
            let mut cells = vec![time, r.get::<_, NodeNum>(1)?.to_string()];
            for (i, m) in Metric::ALL.into_iter().enumerate() {
                let v: Option<i64> = r.get(2 + i)?;
                cells.push(v.map(|v| from_stored(m, v).to_string()).unwrap_or_default());
            }
            cells
        }
    })
}

impl Store {
    /// Streams an export of a radio's history as CSV chunks (the header first). The reading
    /// stops when the receiver goes away.
    pub fn export_csv(&self, radio: RadioKey, what: Export) -> mpsc::Receiver<String> {
        let (tx, rx) = mpsc::channel(4);
        let store = self.clone();
        tokio::spawn(async move {
            let sent = tx.clone();
            let done = store
                .read(move |c| {
                    let (sql, node) = match what {
                        Export::Messages => (
                            "SELECT at_ms, packet_id, outgoing, from_node, to_node, channel, convo, state, error, text FROM message WHERE radio = ?1 ORDER BY id".to_string(),
                            None,
                        ),
                        Export::Telemetry(node) => (
                            format!(
                                "SELECT at_ms, node, {} FROM sample WHERE radio = ?1 AND (?2 IS NULL OR node = ?2) ORDER BY node, at_ms",
                                metric_columns()
                            ),
                            node,
                        ),
                    };
                    let mut st = c.prepare(&sql)?;
                    let mut rows = match what {
                        Export::Messages => st.query(params![radio])?,
                        Export::Telemetry(_) => st.query(params![radio, node])?,
                    };
                    let mut out = header(what);
                    while let Some(r) = rows.next()? {
                        let cells = row_cells(what, r)?;
                        line(&mut out, cells.iter().map(String::as_str));
                        if out.len() >= CHUNK && sent.blocking_send(std::mem::take(&mut out)).is_err() {
                            return Ok(());
                        }
                    }
                    let _ = sent.blocking_send(out);
                    Ok(())
                })
                .await;
            if let Err(e) = done {
                tracing::error!(error = ?e, "export failed");
            }
            drop(tx);
        });
        rx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_formulas_made_plain() {
        let mut out = String::new();
        line(
            &mut out,
            [
                "a",
                "b,c",
                "say \"hi\"",
                "=HYPERLINK(1)",
                "-3",
                "-cmd",
                "x\ny",
            ],
        );
        assert_eq!(
            out,
            "a,\"b,c\",\"say \"\"hi\"\"\",\"'=HYPERLINK(1)\",-3,\"'-cmd\",\"x\ny\"\r\n"
        );
    }
}
