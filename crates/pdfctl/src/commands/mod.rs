//! One module per pdfctl command.

pub mod extract;
pub mod login;
pub mod migrate;
pub mod sentences;
pub mod submit;
pub mod up;
