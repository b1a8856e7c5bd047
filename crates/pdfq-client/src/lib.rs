//! Typed HTTP client for the pdfq API.
