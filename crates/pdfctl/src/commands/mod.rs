//! One module per pdfctl command.

pub mod extract;
pub mod sentences;
pub mod up;
