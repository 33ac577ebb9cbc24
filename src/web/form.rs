//! A posted form with its repeated keys kept (checkbox groups), read field by field with
//! errors that name the field.

use crate::error::{AppError, Result};

pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn parse(body: &str) -> Result<Fields> {
        serde_urlencoded::from_str(body)
            .map(Fields)
            .map_err(|e| AppError::BadRequest(format!("bad form: {e}")))
    }

    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    pub fn text(&self, k: &str) -> String {
        self.get(k).unwrap_or("").to_string()
    }

    /// A checkbox: present means on.
    pub fn on(&self, k: &str) -> bool {
        self.get(k).is_some()
    }

    pub fn all(&self, k: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn num(&self, k: &str) -> Result<u32> {
        self.get(k)
            .unwrap_or("")
            .trim()
            .parse()
            .map_err(|_| AppError::BadRequest(format!("{k} must be a whole number")))
    }

    /// One of `options` by its form value.
    pub fn choice<T: Copy>(&self, k: &str, default: &str, options: &[(T, &str)]) -> Result<T> {
        let v = self.get(k).unwrap_or(default);
        options
            .iter()
            .find(|(_, n)| *n == v)
            .map(|(t, _)| *t)
            .ok_or_else(|| AppError::BadRequest(format!("unknown option {v:?}")))
    }
}
