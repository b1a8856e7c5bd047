//! Untrusted bytes to a lopdf document: header check, nesting pre-scan, bounded load, decryption.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};

use lopdf::{DecompressError, Document, LoadOptions};

use crate::error::{ExtractError, SizeLimit};
use crate::limits::Limits;
use crate::packed::{self, PackedObjects};
use crate::slim;
use crate::structure::{self, StructureRecord};

/// lopdf parses nested objects recursively; the pre-scan bounds the depth, and this stack
/// leaves ample room beyond it without reserving much of the child's address-space limit.
pub(crate) const PARSE_STACK_BYTES: usize = 32 * 1024 * 1024;

/// Set by the isolated child, which may not start threads (RLIMIT_NPROC 0) and whose main
/// thread was given a stack of at least [`PARSE_STACK_BYTES`] (RLIMIT_STACK) at exec.
pub(crate) static PARSE_ON_CALLING_THREAD: AtomicBool = AtomicBool::new(false);

/// Readers accept the header anywhere in the first KiB (PDF 32000-1, annex H).
const HEADER_WINDOW: usize = 1024;

/// How much of a file was there to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Completeness {
    Whole,
    /// It ends before its end-of-file marker (an upload cut short, typically): lopdf rebuilt
    /// its cross-reference from the objects that remain, and its page tree may be a stale one
    /// (an earlier revision's, or an embedded document's) that lists few of its pages.
    Truncated,
    /// Its trailer or catalog could not be read, so its page tree was rebuilt from the page
    /// objects found.
    Rebuilt,
}

/// A loaded document, and how complete the file was: pages may be missing from one that was
/// not whole.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub doc: Document,
    pub completeness: Completeness,
    /// The structure tree, recorded as the loader dropped it.
    pub structure: StructureRecord,
    /// Objects the loader kept packed, not in `doc`.
    pub packed: PackedObjects,
}

pub(crate) fn load(bytes: &[u8], limits: &Limits) -> Result<Loaded, ExtractError> {
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(ExtractError::TooLarge {
            limit: SizeLimit::Bytes,
            actual: bytes.len() as u64,
            max: limits.max_file_bytes,
        });
    }
    let window = &bytes[..bytes.len().min(HEADER_WINDOW)];
    if memchr::memmem::find(window, b"%PDF-").is_none() {
        return Err(ExtractError::NotAPdf {
            reason: "no %PDF- header in the first 1024 bytes".into(),
        });
    }
    let depth = max_nesting_depth(bytes, limits.max_nesting_depth);
    if depth > limits.max_nesting_depth {
        return Err(ExtractError::TooLarge {
            limit: SizeLimit::NestingDepth,
            actual: u64::from(depth),
            max: u64::from(limits.max_nesting_depth),
        });
    }
    let options = LoadOptions {
        max_decompressed_size: Some(usize::try_from(limits.max_stream_bytes).unwrap_or(usize::MAX)),
        filter: Some(slim::keep_what_extraction_reads),
        ..LoadOptions::default()
    };
    let ((doc, Recorded { structure, packed }), rebuilt) =
        match parse_slim(bytes, options.clone(), limits) {
            Ok(parsed) => (parsed, false),
            Err(ExtractError::Damaged { reason }) => {
                // No usable trailer or catalog (a truncated upload, typically): give the page
                // objects that survive a synthetic page tree and let lopdf rebuild the rest.
                match with_synthetic_page_tree(bytes) {
                    Some(patched) => (
                        parse_slim(&patched, options, limits)
                            .map_err(|_| unreadable(bytes, reason))?,
                        true,
                    ),
                    None => return Err(unreadable(bytes, reason)),
                }
            }
            Err(e) => return Err(e),
        };
    if doc.trailer.has(b"Encrypt") {
        // lopdf tries the empty user password itself; an /Encrypt left in place means it failed.
        return Err(ExtractError::PasswordRequired);
    }
    let objects = doc.objects.len() as u64;
    if objects > limits.max_objects {
        return Err(ExtractError::TooLarge {
            limit: SizeLimit::Objects,
            actual: objects,
            max: limits.max_objects,
        });
    }
    if doc.objects.is_empty() {
        return Err(unreadable(bytes, "no readable objects".into()));
    }
    let completeness = if rebuilt {
        Completeness::Rebuilt
    } else if ends_before_its_end(bytes) {
        Completeness::Truncated
    } else {
        Completeness::Whole
    };
    Ok(Loaded {
        doc,
        completeness,
        structure,
        packed,
    })
}

/// [`parse`] keeping only what extraction reads ([`slim`]). lopdf rebuilds an unreadable page
/// tree from a scan of the file only on an unfiltered load, so the scan is asked for here.
fn parse_slim(
    bytes: &[u8],
    options: LoadOptions,
    limits: &Limits,
) -> Result<(Document, Recorded), ExtractError> {
    let (mut doc, mut recorded) = parse(bytes, options.clone(), limits)?;
    if !has_page_tree(&doc) {
        let rescan = LoadOptions {
            force_reconstruct: true,
            ..options
        };
        if let Ok((rebuilt, rebuilt_recorded)) = parse(bytes, rescan, limits)
            && (has_page_tree(&rebuilt) || !has_page_objects(&doc))
        {
            doc = rebuilt;
            recorded = rebuilt_recorded;
        }
    }
    // Object streams were parsed into their members at load; their data is not read again.
    doc.objects
        .retain(|_, object| !object.as_stream().is_ok_and(|s| s.dict.has_type(b"ObjStm")));
    Ok((doc, recorded))
}

fn has_page_objects(doc: &Document) -> bool {
    doc.objects
        .values()
        .any(|object| object.as_dict().is_ok_and(|dict| dict.has_type(b"Page")))
}

fn has_page_tree(doc: &Document) -> bool {
    doc.catalog()
        .ok()
        .and_then(|catalog| catalog.get(b"Pages").ok())
        .and_then(|pages| match pages {
            lopdf::Object::Reference(id) => doc.objects.get(id),
            direct => Some(direct),
        })
        .is_some_and(|pages| pages.as_dict().is_ok())
}

/// What the loader's filter set aside on the parsing thread.
#[derive(Debug)]
struct Recorded {
    structure: StructureRecord,
    packed: PackedObjects,
}

/// lopdf's load, with what the filter recorded on the parsing thread.
fn parse(
    bytes: &[u8],
    options: LoadOptions,
    limits: &Limits,
) -> Result<(Document, Recorded), ExtractError> {
    let parser_failed = || ExtractError::damaged("the PDF parser failed on this file");
    let load = move || {
        structure::start_recording();
        packed::start_packing();
        slim::start_counting(limits);
        let loaded = Document::load_mem_with_options(bytes, options);
        let counted = slim::finish_counting();
        let record = Recorded {
            structure: structure::finish_recording(),
            packed: packed::finish_packing(),
        };
        (loaded, counted, record)
    };
    type Parsed = (
        Result<Document, lopdf::Error>,
        Result<(), ExtractError>,
        Recorded,
    );
    let finish = |(loaded, counted, record): Parsed| {
        // Past a count limit the load kept nothing more, so what it returned is incomplete.
        counted?;
        loaded
            .map(|doc| (doc, record))
            .map_err(|e| map_lopdf_error(&e, limits))
    };
    if PARSE_ON_CALLING_THREAD.load(Ordering::Relaxed) {
        let loaded = catch_unwind(AssertUnwindSafe(load)).map_err(|_| parser_failed())?;
        return finish(loaded);
    }
    let loaded = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("pdfq-parse".into())
            .stack_size(PARSE_STACK_BYTES)
            .spawn_scoped(scope, load)
            .map_err(|e| ExtractError::Internal {
                reason: format!("cannot start the parser thread: {e}"),
            })?
            .join()
            .map_err(|_| parser_failed())
    })?;
    finish(loaded)
}

/// A file that could not be read at all, for `reason`. One that ends before its end-of-file
/// marker says so, since the way out is then to upload it whole, not to repair it.
fn unreadable(bytes: &[u8], reason: String) -> ExtractError {
    let reason = if ends_before_its_end(bytes) {
        format!(
            "{reason}; the file ends before its end-of-file marker, so it was probably cut short \
             (an interrupted download or upload): upload the complete file again"
        )
    } else {
        reason
    };
    ExtractError::Damaged { reason }
}

/// Whether no end-of-file marker follows the file's last object. Markers of earlier revisions
/// (incremental updates, a linearized file's first page) come before objects of later ones.
fn ends_before_its_end(bytes: &[u8]) -> bool {
    let after_last_object =
        memchr::memmem::rfind(bytes, b"endobj").map_or(bytes, |at| &bytes[at..]);
    memchr::memmem::find(after_last_object, b"%%EOF").is_none()
}

/// `bytes` with a page tree, a catalog and a trailer appended, listing every `/Type /Page`
/// object found in the file (in file order); `None` when there is none.
fn with_synthetic_page_tree(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut pages: Vec<(u32, u32)> = Vec::new();
    let mut max_id = 0u32;
    for at in memchr::memmem::find_iter(bytes, b"obj") {
        if let Some((id, _)) = object_header_before(bytes, at + 3) {
            max_id = max_id.max(id);
        }
    }
    for at in memchr::memmem::find_iter(bytes, b"/Type") {
        let mut i = at + 5;
        while bytes.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
            i += 1;
        }
        let is_page = bytes[i..].starts_with(b"/Page")
            && !bytes.get(i + 5).is_some_and(u8::is_ascii_alphanumeric);
        if !is_page {
            continue;
        }
        let window = &bytes[at.saturating_sub(4096)..at];
        if let Some(pos) = memchr::memmem::rfind(window, b"obj")
            && let Some(id) = object_header_before(window, pos + 3)
            && !pages.contains(&id)
        {
            pages.push(id);
        }
    }
    if pages.is_empty() || max_id >= u32::MAX - 2 {
        return None;
    }
    let kids: Vec<String> = pages.iter().map(|(n, g)| format!("{n} {g} R")).collect();
    let (tree, catalog) = (max_id + 1, max_id + 2);
    let tail = format!(
        "\n{tree} 0 obj\n<< /Type /Pages /Kids [{}] /Count {} >>\nendobj\n{catalog} 0 obj\n<< /Type /Catalog /Pages {tree} 0 R >>\nendobj\ntrailer\n<< /Size {} /Root {catalog} 0 R >>\n%%EOF\n",
        kids.join(" "),
        pages.len(),
        catalog + 1
    );
    let mut out = Vec::with_capacity(bytes.len() + tail.len());
    out.extend_from_slice(bytes);
    out.extend_from_slice(tail.as_bytes());
    Some(out)
}

/// Parses `N G obj` ending at `end` (just after "obj"), if that is what precedes it.
fn object_header_before(bytes: &[u8], end: usize) -> Option<(u32, u32)> {
    let head = bytes.get(end.checked_sub(3)?..end)?;
    if head != b"obj" {
        return None;
    }
    let mut i = end - 3;
    let mut numbers = [0u32; 2];
    for slot in numbers.iter_mut().rev() {
        while i > 0 && bytes[i - 1].is_ascii_whitespace() {
            i -= 1;
        }
        let digits_end = i;
        while i > 0 && bytes[i - 1].is_ascii_digit() && digits_end - i < 10 {
            i -= 1;
        }
        if i == digits_end {
            return None;
        }
        *slot = std::str::from_utf8(&bytes[i..digits_end])
            .ok()?
            .parse()
            .ok()?;
    }
    Some((numbers[0], numbers[1]))
}

fn map_lopdf_error(e: &lopdf::Error, limits: &Limits) -> ExtractError {
    match e {
        lopdf::Error::InvalidPassword => ExtractError::PasswordRequired,
        lopdf::Error::Decompress(DecompressError::MemoryLimitExceeded { .. }) => {
            ExtractError::TooLarge {
                limit: SizeLimit::DecompressedBytes,
                actual: limits.max_stream_bytes.saturating_add(1),
                max: limits.max_stream_bytes,
            }
        }
        lopdf::Error::Decryption(_) => ExtractError::PasswordRequired,
        other => ExtractError::damaged(other.to_string()),
    }
}

/// Deepest `[`/`<<` nesting outside strings, comments and stream data; stops counting past
/// `cap`. A cheap guard: lopdf's recursive parser would otherwise overflow the stack.
fn max_nesting_depth(bytes: &[u8], cap: u32) -> u32 {
    let mut depth: u32 = 0;
    let mut max = 0;
    let mut i = 0;
    let n = bytes.len();
    while i < n {
        match bytes[i] {
            b'%' => {
                while i < n && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'(' => {
                let mut level = 1u32;
                i += 1;
                while i < n && level > 0 {
                    match bytes[i] {
                        b'\\' => i += 1,
                        b'(' => level += 1,
                        b')' => level -= 1,
                        _ => {}
                    }
                    i += 1;
                }
                continue;
            }
            b'<' if bytes.get(i + 1) == Some(&b'<') => {
                depth += 1;
                i += 1;
            }
            b'<' => {
                while i < n && bytes[i] != b'>' {
                    i += 1;
                }
            }
            b'>' if bytes.get(i + 1) == Some(&b'>') => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'[' => depth += 1,
            b']' => depth = depth.saturating_sub(1),
            b's' if bytes[i..].starts_with(b"stream")
                && matches!(bytes.get(i + 6), Some(b'\r' | b'\n')) =>
            {
                match memchr::memmem::find(&bytes[i + 6..], b"endstream") {
                    Some(off) => i += 6 + off + 9,
                    None => return max,
                }
                continue;
            }
            b'e' if bytes[i..].starts_with(b"endobj") => depth = 0,
            _ => {}
        }
        max = max.max(depth);
        if max > cap {
            return max;
        }
        i += 1;
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forms_widgets_appearances_and_fonts_are_held_packed_and_still_drawn() {
        let value = |n: usize| format!("Value of field {n}.");
        let pdf = pdfq_test_support::pdf::form_pdf(10, 30, value);
        let loaded = load(&pdf, &Limits::default()).unwrap();
        // Catalog, page tree, 10 pages and their contents, and the check boxes' appearances
        // (their font is inline); not a widget, an appearance and a font for each field.
        assert!(
            loaded.doc.objects.len() <= 32,
            "{} objects held",
            loaded.doc.objects.len()
        );
        let text: String = crate::extract_pages(&pdf, &Limits::default())
            .unwrap()
            .pages
            .iter()
            .map(|page| page.text.as_str())
            .collect();
        for n in 0..300 {
            assert!(text.contains(&value(n)), "field {n} is drawn");
        }
        assert!(text.contains("Form page 10"));
    }

    #[test]
    fn only_what_extraction_reads_is_held() {
        let texts: Vec<String> = (1..=20).map(|i| format!("Page {i} says hello.")).collect();
        let pages: Vec<&str> = texts.iter().map(String::as_str).collect();
        let pdf = pdfq_test_support::pdf::hyperlinked_pdf(&pages, 200, 256 * 1024);
        let everything = Document::load_mem(&pdf).unwrap();
        assert!(everything.objects.len() > 4_000, "the file holds its links");

        let held = load(&pdf, &Limits::default()).unwrap().doc;
        // Catalog, page tree, font, image, 20 pages and their contents; not the 4,000 links,
        // outline, destinations and name tree.
        assert!(
            held.objects.len() <= 44,
            "{} objects held",
            held.objects.len()
        );
        let stream_bytes: usize = held
            .objects
            .values()
            .filter_map(|o| o.as_stream().ok())
            .map(|s| s.content.len())
            .sum();
        assert!(
            stream_bytes < 8 * 1024,
            "{stream_bytes} bytes of stream data held"
        );

        let extracted = crate::extract_pages(&pdf, &Limits::default()).unwrap();
        let got: Vec<&str> = extracted.pages.iter().map(|p| p.text.trim()).collect();
        assert_eq!(got, pages);
        assert!(extracted.warnings.is_empty(), "{:?}", extracted.warnings);
    }

    #[test]
    fn nesting_scan_ignores_strings_and_streams() {
        let pdf = b"1 0 obj << /A [ [ (((( [[[[ ) ] ] >> endobj 2 0 obj << /Length 5 >> stream\n[[[[[[[[ endstream endobj";
        assert_eq!(max_nesting_depth(pdf, 100), 3);
        let deep = [b"[".repeat(500), b"]".repeat(500)].concat();
        assert!(max_nesting_depth(&deep, 64) > 64);
    }
}
