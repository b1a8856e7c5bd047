//! pdfq-api
