pub mod error;
pub mod tc3;
