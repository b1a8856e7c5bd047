//! The in-process pipeline: load, walk pages, interpret, lay out.

use std::borrow::Cow;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};

use lopdf::Object;
use serde::{Deserialize, Serialize};

use crate::content::{DocState, Interpreter};
use crate::error::ExtractError;
use crate::geometry::{PageLines, Rect, page_lines};
use crate::limits::{Budget, Limits};
use crate::missing::MissingObjects;
use crate::output::OutputBudget;
use crate::pagetree::{PageNode, deref};
use crate::structure::{self, LogicalOrder};
use crate::{load, pagetree, streams};

/// The text of one page. `number` is 1-based.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PageText {
    pub number: u32,
    /// Lines separated by `\n`, in reading order; blocks (paragraphs, columns, cells) separated
    /// by a blank line.
    pub text: String,
    /// Page furniture: the 0-based indexes, among `text.lines()`, of running heads, footers
    /// and page numbers. They stay in `text` and are left out of sentences.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub furniture: Vec<u32>,
    /// The 0-based indexes, among `text.lines()`, of a table's rows, each read as one line
    /// (cells left to right): each is a unit of its own, not a line of running text, so a row
    /// is not run into the next as a sentence.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub table_rows: Vec<u32>,
    /// The page's width and height as a viewer shows it (crop box, /Rotate applied), in
    /// points: the frame of `line_boxes`. 0 when unknown.
    #[serde(default)]
    pub width: f32,
    #[serde(default)]
    pub height: f32,
    /// The box of each line of `text` that is not blank, in order: `[x0, y0, x1, y1]` in
    /// points from the displayed page's top-left corner, y down; all 0 where unknown. Empty
    /// when the page has none (see [`crate::MAX_PAGE_LINES`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub line_boxes: Vec<Rect>,
    /// Indexes in `line_boxes` of the lines that run down the displayed page.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vertical_lines: Vec<u32>,
    /// Every word (whitespace-separated) of those lines in order, as its extent along its
    /// line: from and to, in 65535ths of the line box's width (its height for vertical lines).
    /// Four bytes a word, so a sentence that starts or ends inside a line gets the box of its
    /// own part. Empty when unknown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub words: Vec<[u16; 2]>,
}

impl PageText {
    #[must_use]
    pub fn new(number: u32, text: impl Into<String>) -> Self {
        PageText {
            number,
            text: text.into(),
            ..PageText::default()
        }
    }

    /// The furniture lines' text, in page order.
    pub fn furniture_lines(&self) -> impl Iterator<Item = &str> {
        self.text
            .lines()
            .enumerate()
            .filter(|(i, _)| self.furniture.binary_search(&(*i as u32)).is_ok())
            .map(|(_, l)| l)
    }
}

/// Something an extraction that otherwise succeeded could not read: one page (`page`, 1-based)
/// or, without a page, the document as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageWarning {
    pub page: Option<u32>,
    pub reason: String,
}

/// An extracted document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub pages: Vec<PageText>,
    /// Pages whose text is lost, in page order, and damage to the file as a whole first.
    #[serde(default)]
    pub warnings: Vec<PageWarning>,
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
    let mut pages = Vec::new();
    let warnings = guarded(|| {
        run(Cow::Borrowed(bytes), limits, &mut |page, total| {
            on_page(&page, total);
            pages.push(page);
        })
    })?;
    // Furniture is told by repetition across pages, so only once all are in.
    crate::furniture::mark(&mut pages);
    Ok(Document { pages, warnings })
}

/// As [`extract_pages_streaming`], holding neither the file once it is parsed nor the pages
/// once `on_page` has seen them: what the isolated child runs, so that its memory is the
/// parsed document's and the current page's, not the file's or the whole text's.
pub(crate) fn stream_pages(
    bytes: Vec<u8>,
    limits: &Limits,
    mut on_page: impl FnMut(&PageText, u32),
) -> Result<Vec<PageWarning>, ExtractError> {
    guarded(|| {
        run(Cow::Owned(bytes), limits, &mut |page, total| {
            on_page(&page, total);
        })
    })
}

/// Runs `extract`, turning a panic of the parser into an error.
fn guarded<T>(extract: impl FnOnce() -> Result<T, ExtractError>) -> Result<T, ExtractError> {
    match catch_unwind(AssertUnwindSafe(extract)) {
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

/// Extracts every page, in order, into `on_page`; returns what could not be read.
fn run(
    bytes: Cow<'_, [u8]>,
    limits: &Limits,
    on_page: &mut dyn FnMut(PageText, u32),
) -> Result<Vec<PageWarning>, ExtractError> {
    let load::Loaded {
        doc,
        completeness,
        structure,
        packed,
    } = load::load(&bytes, limits)?;
    // The parsed document holds copies of what it needs (stream data included).
    drop(bytes);
    let tags = Tags {
        order: structure::logical_order(&doc, structure),
        artifacts_are_furniture: structure::is_marked(&doc),
    };
    let mut state = DocState::new(packed);
    let result = extract_loaded(&doc, completeness, limits, &tags, &mut state, on_page);
    if LEAK_ON_EXIT.load(Ordering::Relaxed) {
        // The process exits next: freeing millions of small objects one by one is wasted work.
        std::mem::forget(doc);
        std::mem::forget(state);
    }
    result
}

/// What a tagged document's marks say about its pages.
struct Tags {
    order: Option<LogicalOrder>,
    /// The file says it is tagged: its /Artifact marks are page furniture.
    artifacts_are_furniture: bool,
}

/// Set by the child process, which exits right after one extraction.
pub(crate) static LEAK_ON_EXIT: AtomicBool = AtomicBool::new(false);

fn extract_loaded(
    doc: &lopdf::Document,
    completeness: load::Completeness,
    limits: &Limits,
    tags: &Tags,
    state: &mut DocState,
    on_page: &mut dyn FnMut(PageText, u32),
) -> Result<Vec<PageWarning>, ExtractError> {
    let pagetree::PageTree {
        pages,
        missing_nodes,
    } = pagetree::pages(doc, limits, completeness == load::Completeness::Truncated)?;
    if pages.is_empty() {
        return Err(ExtractError::damaged("no pages found"));
    }
    let total = pages.len() as u32;
    let mut budget = Budget::new(limits);
    let mut output = OutputBudget::new(limits);
    let mut warnings = Vec::new();
    let damage = match completeness {
        load::Completeness::Whole => None,
        load::Completeness::Truncated => Some("it ends before its end-of-file marker"),
        load::Completeness::Rebuilt => Some("no readable trailer or page tree"),
    };
    if let Some(damage) = damage {
        warnings.push(PageWarning {
            page: None,
            reason: format!(
                "the file is truncated or damaged ({damage}): its pages were recovered from the \
                 objects found ({total}), others may be missing"
            ),
        });
    }
    if missing_nodes > 0 {
        warnings.push(PageWarning {
            page: None,
            reason: format!(
                "the file is truncated or damaged: {missing_nodes} parts of its page tree are \
                 missing, so pages beyond the {total} found are lost"
            ),
        });
    }
    let mut missing = MissingObjects::default();
    let mut any_text = false;
    let mut unicode_maps_cut_from = None;
    for (i, page) in pages.iter().enumerate() {
        budget.check_time()?;
        let number = i as u32 + 1;
        let (text, furniture, table_rows, lines) =
            match page_text(doc, page, tags, state, &mut missing, &mut budget) {
                Ok(PageContent {
                    text,
                    furniture,
                    table_rows,
                    lines,
                    damage,
                }) => {
                    if let Some(reason) = damage {
                        warnings.push(PageWarning {
                            page: Some(number),
                            reason,
                        });
                    }
                    (text, furniture, table_rows, lines)
                }
                // One damaged page loses its own text, not the document's.
                Err(ExtractError::Damaged { reason }) => {
                    warnings.push(PageWarning {
                        page: Some(number),
                        reason,
                    });
                    (String::new(), Vec::new(), Vec::new(), PageLines::default())
                }
                Err(e) => return Err(e),
            };
        if unicode_maps_cut_from.is_none() && budget.cmap_cut() {
            unicode_maps_cut_from = Some(number);
        }
        any_text |= text.chars().any(|c| !c.is_whitespace());
        let (width, height) = page.view.size();
        let p = PageText {
            furniture,
            table_rows,
            width,
            height,
            line_boxes: lines.boxes,
            vertical_lines: lines.vertical,
            words: lines.words,
            ..PageText::new(number, text)
        };
        output.add_page(&p)?;
        on_page(p, total);
    }
    if !any_text {
        return Err(nothing_readable(&warnings));
    }
    if let Some(page) = unicode_maps_cut_from {
        // Text still comes out, by the fonts' encodings: say which may be wrong, and why.
        warnings.push(PageWarning {
            page: None,
            reason: format!(
                "the fonts' Unicode maps hold more than {} entries in all, the most one \
                 document may use: from page {page} on, text in fonts whose map was not read \
                 follows their encodings and may be wrong",
                limits.max_cmap_entries
            ),
        });
    }
    Ok(warnings)
}

/// Why a document yielded no text at all: damage when any was found (never "OCR is needed"
/// for a truncated or corrupt file), else no text layer.
fn nothing_readable(warnings: &[PageWarning]) -> ExtractError {
    let Some(first) = warnings.first() else {
        return ExtractError::NoTextLayer;
    };
    let unreadable = warnings.iter().filter(|w| w.page.is_some()).count();
    let detail = match first.page {
        Some(page) => format!(
            "{unreadable} of the pages found could not be read (page {page}: {})",
            first.reason
        ),
        None => first.reason.clone(),
    };
    ExtractError::damaged(format!(
        "no text could be read: {detail}; upload the complete, undamaged file again"
    ))
}

/// A page's text, and why part of it was lost if it was.
struct PageContent {
    text: String,
    /// Lines drawn as artifacts in a tagged file (see [`PageText::furniture`]).
    furniture: Vec<u32>,
    /// A table's rows (see [`PageText::table_rows`]).
    table_rows: Vec<u32>,
    lines: PageLines,
    damage: Option<String>,
}

fn page_text(
    doc: &lopdf::Document,
    page: &PageNode<'_>,
    tags: &Tags,
    state: &mut DocState,
    missing_objects: &mut MissingObjects,
    budget: &mut Budget,
) -> Result<PageContent, ExtractError> {
    let mut content = Vec::new();
    let mut damage = None;
    let missing = || Some("its content stream is missing from the file".to_owned());
    let contents = match page.dict.get(b"Contents") {
        Ok(reference) => {
            let found = deref(doc, reference);
            if found.is_none() {
                damage = missing();
            }
            found
        }
        // No /Contents at all: a blank page, not a damaged one.
        Err(_) => None,
    };
    let parts: Vec<&Object> = match contents {
        Some(Object::Array(a)) => a.iter().collect(),
        Some(o) => vec![o],
        None => Vec::new(),
    };
    for part in parts {
        match deref(doc, part) {
            Some(Object::Stream(s)) => {
                let decoded = streams::decode_checked(s, budget)?;
                if !decoded.intact {
                    damage = Some("its content stream is truncated or corrupt".to_owned());
                }
                content.extend_from_slice(&decoded.data);
                // Streams of one page are concatenated at token boundaries.
                content.push(b'\n');
            }
            Some(_) => {}
            None => damage = missing(),
        }
    }
    if damage.is_none()
        && page
            .resources
            .is_some_and(|resources| missing_objects.in_resources(doc, &state.packed, resources))
    {
        damage = Some("a font, form or image it uses is missing from the file".to_owned());
    }
    let mut interp = Interpreter::new(doc, state, budget, page.bbox);
    interp.run_page(&content, page.resources)?;
    interp.run_annotations(page.dict, page.resources)?;
    // The last operators of a page may have been the ones that overflowed it.
    if interp.out.overflowed {
        return Err(interp.too_many_glyphs());
    }
    let order = tags.order.as_ref().and_then(|o| o.page(page.id));
    let layout = interp.out.into_text(order.as_ref());
    // The boxes are of the lines as finally ordered: the geometry follows the text.
    let lines = page_lines(&page.view, &layout.text, &layout.geometry);
    Ok(PageContent {
        text: layout.text,
        furniture: if tags.artifacts_are_furniture {
            layout.artifact_lines
        } else {
            Vec::new()
        },
        table_rows: layout.table_rows,
        lines,
        damage,
    })
}
