//! Login parameter negotiation (RFC 7143 §6, §13).
//!
//! * `keys`: the table of every RFC 7143 key — negotiation kind, value syntax and range, phase,
//!   scope, senders, leading-only flag, RFC default.
//! * `respond` / `check_answer`: the per-key result functions, usable from either side.
//! * [`Negotiator`]: the initiator's operational stage, from [`OperationalConfig`] to the
//!   [`SessionParams`] a session runs with.
//!
//! Values travel as the strings produced by [`crate::text`]; this module gives them meaning.

mod config;
mod error;
pub(crate) mod keys;
mod negotiator;
mod params;
mod rules;
mod value;

pub use config::{DigestPreference, OperationalConfig, SessionType};
pub use error::{NegotiationError, Refusal};
pub use keys::Stage;
pub use negotiator::Negotiator;
pub use params::SessionParams;
pub use value::{Special, ValueProblem};

#[cfg(test)]
mod tests;
