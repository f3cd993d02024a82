//! Authorization tests against the shipped policy set: the full role × action × resource
//! matrix, reveals, read-only tokens and custom roles.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod custom_roles;
mod fixtures;
mod matrix;
mod override_block;
mod read_only;
mod reveal;
