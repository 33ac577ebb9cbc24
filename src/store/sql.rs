//! How the typed ids go in and out of SQLite: node numbers and channels as integers, a
//! conversation as its text form (`ch:0`, `!a1b2c3d4`).

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

use crate::ids::{ChannelIndex, Convo, NodeNum};

impl ToSql for NodeNum {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.0))
    }
}

impl FromSql for NodeNum {
    fn column_result(v: ValueRef<'_>) -> FromSqlResult<NodeNum> {
        u32::column_result(v).map(NodeNum)
    }
}

impl ToSql for ChannelIndex {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.get()))
    }
}

impl FromSql for ChannelIndex {
    fn column_result(v: ValueRef<'_>) -> FromSqlResult<ChannelIndex> {
        u32::column_result(v).map(ChannelIndex::from_radio)
    }
}

impl ToSql for Convo {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.to_string()))
    }
}

impl FromSql for Convo {
    fn column_result(v: ValueRef<'_>) -> FromSqlResult<Convo> {
        v.as_str()?
            .parse()
            .map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

impl ToSql for crate::ids::RadioKey {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.0))
    }
}

impl FromSql for crate::ids::RadioKey {
    fn column_result(v: ValueRef<'_>) -> FromSqlResult<crate::ids::RadioKey> {
        i64::column_result(v).map(crate::ids::RadioKey)
    }
}
