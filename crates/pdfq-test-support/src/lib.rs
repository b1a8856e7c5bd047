//! pdfq-test-support
