//! pdfq-worker
