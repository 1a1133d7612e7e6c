//! API inventory: what endpoints exist, learned from traffic. Pure: no I/O.

pub mod template;
