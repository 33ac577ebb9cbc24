//! Who a radio is: the link asks, after each handshake, which store key the radio at this
//! address with this node number (and public key) has. A radio that claims another radio's
//! node number from another address is kept apart rather than shown that radio's data.

use std::net::SocketAddr;

use futures_util::future::BoxFuture;

use crate::ids::{NodeNum, RadioKey};

/// The answer for one radio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub key: RadioKey,
    /// The address of a known radio with the same node number, when this one is kept
    /// apart from it.
    pub apart_from: Option<String>,
}

/// What tells radios apart (the store, in the app). `None`: it cannot say (the database
/// failed), and the link is not opened rather than shown another radio's data.
pub trait Identities: Send + Sync + std::fmt::Debug + 'static {
    fn identify<'a>(
        &'a self,
        addr: SocketAddr,
        num: NodeNum,
        public_key: &'a [u8],
    ) -> BoxFuture<'a, Option<Identity>>;
}
