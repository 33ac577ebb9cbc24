//! What the alerts page and API share: the radio a request's alerts belong to, mute
//! durations, and alerts' errors as the request's.

use std::time::{Duration, SystemTime};

use crate::alerts::AlertError;
use crate::error::AppError;
use crate::ids::RadioKey;
use crate::radio::LinkHandle;
use crate::store::alerts::muted_for_good;

impl From<AlertError> for AppError {
    fn from(e: AlertError) -> AppError {
        match e {
            AlertError::Invalid(m) => AppError::BadRequest(m),
            AlertError::NotFound(m) => AppError::NotFound(m),
            AlertError::Store(e) => AppError::Internal(e),
        }
    }
}

/// The store key of the radio behind `link`.
pub fn radio(link: &LinkHandle) -> RadioKey {
    link.state().radio_key
}

/// Until when a mute of `minutes` lasts from `now` (`None`: until unmuted).
pub fn mute_until(minutes: Option<u32>, now: SystemTime) -> Result<SystemTime, AppError> {
    match minutes {
        None => Ok(muted_for_good()),
        Some(m) if (1..=crate::alerts::rules::MAX_MINUTES).contains(&m) => {
            Ok(now + Duration::from_secs(u64::from(m) * 60))
        }
        Some(_) => Err(AppError::BadRequest(
            "minutes must be a whole number from 1 to 10080".into(),
        )),
    }
}
