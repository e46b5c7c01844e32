//! oispd's processors.

pub mod ottl;
