//! API inventory: what endpoints exist, learned from traffic. Pure: no I/O, no wall clock.
//!
//! - [`template`]: path templates (`/api/users/{id}`), by byte scan.
//! - [`values`]: value types of parameters.
//! - [`sensitive`]: sensitive data in bodies (cards, SSNs, e-mails, keys, JWTs).
//! - [`endpoints`]: the learned, bounded endpoint inventory.

pub mod endpoints;
pub mod sensitive;
pub mod template;
pub mod values;
