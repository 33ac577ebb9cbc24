//! Automation settings per radio: auto-responder rules, beacon, message filter.

use crate::ids::RadioKey;
use rusqlite::{params, OptionalExtension};

use super::Store;
use crate::radio::automation::{Beacon, Filter, Responder};

/// A radio's stored automation; `None` where it never saved one.
#[derive(Debug, Default)]
pub struct Saved {
    pub responder: Option<Responder>,
    pub beacon: Option<Beacon>,
    pub filter: Option<Filter>,
}

/// A stored document, or `None` when absent or unreadable (then the default applies).
fn parse<T: serde::de::DeserializeOwned>(s: Option<String>) -> Option<T> {
    s.and_then(|s| serde_json::from_str(&s).ok())
}

impl Store {
    pub async fn automation(&self, radio: RadioKey) -> anyhow::Result<Saved> {
        let row: Option<(Option<String>, Option<String>, Option<String>)> = self
            .read(move |c| {
                c.query_row(
                    "SELECT responder, beacon, filter FROM automation WHERE radio = ?1",
                    params![radio],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()
            })
            .await?;
        let Some((r, b, f)) = row else {
            return Ok(Saved::default());
        };
        Ok(Saved {
            responder: parse(r),
            beacon: parse(b),
            filter: parse(f),
        })
    }

    async fn set_column(
        &self,
        radio: RadioKey,
        column: &'static str,
        json: String,
    ) -> anyhow::Result<()> {
        self.write(move |c| {
            c.execute(
                &format!("INSERT INTO automation (radio, {column}) VALUES (?1, ?2) ON CONFLICT (radio) DO UPDATE SET {column} = excluded.{column}"),
                params![radio, json],
            )
        })
        .await?;
        Ok(())
    }

    pub async fn save_responder(&self, radio: RadioKey, r: &Responder) -> anyhow::Result<()> {
        self.set_column(radio, "responder", serde_json::to_string(r)?)
            .await
    }

    pub async fn save_beacon(&self, radio: RadioKey, b: &Beacon) -> anyhow::Result<()> {
        self.set_column(radio, "beacon", serde_json::to_string(b)?)
            .await
    }

    pub async fn save_filter(&self, radio: RadioKey, f: &Filter) -> anyhow::Result<()> {
        self.set_column(radio, "filter", serde_json::to_string(f)?)
            .await
    }
}
