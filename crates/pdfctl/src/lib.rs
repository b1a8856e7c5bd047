//! pdfctl
