//! meshdeck: a multi-user web dashboard for Meshtastic radios.
pub mod proto;
pub mod sim;
