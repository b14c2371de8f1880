//! Tests of the negotiation layer, one file per concern.

mod keys;
mod negotiator;
mod proptests;
mod rules;

/// Owned pairs from string literals.
fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}
