//! The `oispd` library: what the `oispd` command (`src/main.rs`) and the
//! fuzz targets (`fuzz/`) share.
//!
//! - [`config`]: loading collector-style configs (files merged in order,
//!   environment expansion), the OISP Sensor's TOML conversion and, with
//!   the `pipeline` feature, validation against the registry.
//! - `pipeline` feature (default): [`registry`] (every component compiled
//!   in), [`pipeline`] (assembling and running pipelines) and [`admin`]
//!   (the admin extension), [`least_privilege`] (the capabilities kept).
//!   The fuzz targets build without it, so they do
//!   not link the exporters (and librdkafka) they never exercise.

pub mod config;

#[cfg(feature = "pipeline")]
pub mod admin;
#[cfg(feature = "pipeline")]
pub mod least_privilege;
#[cfg(feature = "pipeline")]
pub mod pipeline;
#[cfg(feature = "pipeline")]
pub mod registry;
