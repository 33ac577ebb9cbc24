//! The simulated radio (being written).
