//! What the exporter factories share.

use oispd_component::{ComponentError, ConfigError};

/// Joins the errors of a config body into one component error
/// (`create` after a `validate` that passed sees none of these).
pub(crate) fn config_error(errors: Vec<ConfigError>) -> ComponentError {
    ComponentError::Config(
        errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("; "),
    )
}
