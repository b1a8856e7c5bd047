//! The in-process pipeline: load, walk pages, interpret, lay out.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};

use lopdf::Object;
use serde::{Deserialize, Serialize};

use crate::content::{DocState, Interpreter};
use crate::error::ExtractError;
use crate::limits::{Budget, Limits};
use crate::output::OutputBudget;
use crate::pagetree::{PageNode, deref};
use crate::{load, pagetree, streams};

/// The text of one page. `number` is 1-based.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageText {
    pub number: u32,
    /// Lines separated by `\n`, in reading order.
    pub text: String,
}

/// An extracted document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    pub pages: Vec<PageText>,
}

impl Document {
    /// All pages' text separated by form feeds, as pdftotext prints it.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for p in &self.pages {
            out.push_str(&p.text);
            out.push('\x0c');
        }
        out
    }
}

/// Extracts every page's text, in-process. Bounded by `limits`, but a bug in the parser
/// (a stack overflow, an abort) would still take the process down: untrusted uploads
/// should go through [`crate::extract_isolated`].
pub fn extract_pages(bytes: &[u8], limits: &Limits) -> Result<Document, ExtractError> {
    extract_pages_streaming(bytes, limits, |_, _| {})
}

/// As [`extract_pages`], calling `on_page(page, total_pages)` as each page is done.
pub fn extract_pages_streaming(
    bytes: &[u8],
    limits: &Limits,
    mut on_page: impl FnMut(&PageText, u32),
) -> Result<Document, ExtractError> {
    match catch_unwind(AssertUnwindSafe(|| run(bytes, limits, &mut on_page))) {
        Ok(r) => r,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into());
            Err(ExtractError::ExtractorCrashed {
                reason: format!("internal error: {msg}"),
            })
        }
    }
}

fn run(
    bytes: &[u8],
    limits: &Limits,
    on_page: &mut dyn FnMut(&PageText, u32),
) -> Result<Document, ExtractError> {
    let doc = load::load(bytes, limits)?;
    let mut state = DocState::default();
    let result = extract_loaded(&doc, limits, &mut state, on_page);
    if LEAK_ON_EXIT.load(Ordering::Relaxed) {
        // The process exits next: freeing millions of small objects one by one is wasted work.
        std::mem::forget(doc);
        std::mem::forget(state);
    }
    result
}

/// Set by the child process, which exits right after one extraction.
pub(crate) static LEAK_ON_EXIT: AtomicBool = AtomicBool::new(false);

fn extract_loaded(
    doc: &lopdf::Document,
    limits: &Limits,
    state: &mut DocState,
    on_page: &mut dyn FnMut(&PageText, u32),
) -> Result<Document, ExtractError> {
    let pages = pagetree::pages(doc, limits)?;
    if pages.is_empty() {
        return Err(ExtractError::damaged("no pages found"));
    }
    let total = pages.len() as u32;
    let mut budget = Budget::new(limits);
    let mut output = OutputBudget::new(limits);
    let mut out = Document {
        pages: Vec::with_capacity(pages.len()),
    };
    let mut any_text = false;
    for (i, page) in pages.iter().enumerate() {
        budget.check_time()?;
        let text = page_text(doc, page, state, &mut budget)?;
        any_text |= text.chars().any(|c| !c.is_whitespace());
        let p = PageText {
            number: i as u32 + 1,
            text,
        };
        output.add_page(&p)?;
        on_page(&p, total);
        out.pages.push(p);
    }
    if !any_text {
        return Err(ExtractError::NoTextLayer);
    }
    Ok(out)
}

fn page_text(
    doc: &lopdf::Document,
    page: &PageNode<'_>,
    state: &mut DocState,
    budget: &mut Budget,
) -> Result<String, ExtractError> {
    let mut content = Vec::new();
    let contents = page.dict.get(b"Contents").ok().and_then(|o| deref(doc, o));
    let parts: Vec<&Object> = match contents {
        Some(Object::Array(a)) => a.iter().collect(),
        Some(o) => vec![o],
        None => Vec::new(),
    };
    for part in parts {
        if let Some(Object::Stream(s)) = deref(doc, part) {
            let data = streams::decode(s, budget)?;
            content.extend_from_slice(&data);
            // Streams of one page are concatenated at token boundaries.
            content.push(b'\n');
        }
    }
    let mut interp = Interpreter::new(doc, state, budget, page.bbox);
    interp.run_page(&content, page.resources)?;
    interp.run_annotations(page.dict, page.resources)?;
    // The last operators of a page may have been the ones that overflowed it.
    if interp.out.overflowed {
        return Err(interp.too_many_glyphs());
    }
    Ok(interp.out.into_text())
}
