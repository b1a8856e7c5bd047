//! Content-stream interpreter: text and graphics state, Form XObjects; emits positioned glyphs.

use std::borrow::Cow;
use std::collections::HashMap;
use std::rc::Rc;

use lopdf::{Dictionary, Document, Object, ObjectId};

use crate::error::ExtractError;
use crate::fonts::{Font, FontCache};
use crate::layout::{ARTIFACT, FIRST_CONTENT_MARK, Glyph, PageGlyphs, UNMARKED};
use crate::lexer::{Lexer, Operand, Token};
use crate::limits::Budget;
use crate::packed::PackedObjects;
use crate::pagetree::{deref, resolve_dict};
use crate::streams;

/// q nesting beyond this is ignored (its Q still pops nothing it should not).
const MAX_GSTATE_DEPTH: usize = 256;
/// Operands kept before an operator; more means garbage, which is dropped.
const MAX_OPERANDS: usize = 64;
/// Marked-content nesting beyond this is counted, not tracked (real files: under 10).
const MAX_MARKED_DEPTH: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Matrix([f32; 6]);

impl Matrix {
    pub const IDENTITY: Matrix = Matrix([1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);

    /// self × other, in PDF's row-vector convention (self applies first).
    pub fn mul(&self, o: &Matrix) -> Matrix {
        let [a, b, c, d, e, f] = self.0;
        let [a2, b2, c2, d2, e2, f2] = o.0;
        Matrix([
            a * a2 + b * c2,
            a * b2 + b * d2,
            c * a2 + d * c2,
            c * b2 + d * d2,
            e * a2 + f * c2 + e2,
            e * b2 + f * d2 + f2,
        ])
    }

    pub fn apply(&self, x: f32, y: f32) -> (f32, f32) {
        let [a, b, c, d, e, f] = self.0;
        (x * a + y * c + e, x * b + y * d + f)
    }

    pub fn apply_vec(&self, x: f32, y: f32) -> (f32, f32) {
        let [a, b, c, d, ..] = self.0;
        (x * a + y * c, x * b + y * d)
    }

    fn translate(tx: f32, ty: f32) -> Matrix {
        Matrix([1.0, 0.0, 0.0, 1.0, tx, ty])
    }

    fn from_operands(ops: &[Operand<'_>]) -> Option<Matrix> {
        if ops.len() < 6 {
            return None;
        }
        let s = &ops[ops.len() - 6..];
        let mut m = [0.0f32; 6];
        for (slot, o) in m.iter_mut().zip(s) {
            *slot = o.num()?;
        }
        m.iter().all(|v| v.is_finite()).then_some(Matrix(m))
    }
}

#[derive(Debug, Clone)]
struct GState {
    ctm: Matrix,
    font: Option<Rc<Font>>,
    size: f32,
    char_spacing: f32,
    word_spacing: f32,
    hscale: f32,
    leading: f32,
    rise: f32,
}

impl GState {
    fn new(ctm: Matrix) -> Self {
        GState {
            ctm,
            font: None,
            size: 0.0,
            char_spacing: 0.0,
            word_spacing: 0.0,
            hscale: 1.0,
            leading: 0.0,
            rise: 0.0,
        }
    }
}

/// Per-document interpreter state shared by all pages.
#[derive(Debug, Default)]
pub(crate) struct DocState {
    pub fonts: FontCache,
    /// Objects the loader kept packed: read where the document does not hold them.
    pub packed: PackedObjects,
    /// Decoded Form XObjects, for forms drawn again (a logo on every page), up to
    /// [`FORM_CACHE_BYTES`] of them: a form's appearance streams are drawn once each.
    forms: HashMap<ObjectId, Rc<Vec<u8>>>,
    form_bytes: usize,
    fallback_font: Option<Rc<Font>>,
}

/// The most decoded form content [`DocState`] holds.
const FORM_CACHE_BYTES: usize = 16 << 20;

impl DocState {
    pub fn new(packed: PackedObjects) -> Self {
        DocState {
            packed,
            ..DocState::default()
        }
    }
}

pub(crate) struct Interpreter<'a, 's> {
    doc: &'a Document,
    state: &'s mut DocState,
    budget: &'s mut Budget,
    pub out: PageGlyphs,
    bbox: [f32; 4],
    ops: u64,
    form_chain: Vec<ObjectId>,
    /// How often each Form XObject has been drawn on this page.
    form_draws: HashMap<ObjectId, u32>,
    scratch: String,
    /// Open marked-content sequences, innermost last: the mark each gives its glyphs.
    marked: Vec<u32>,
    /// Sequences opened past `MAX_MARKED_DEPTH`, closed before any tracked one.
    marked_untracked: u32,
    /// Whose marked-content ids are being read: the page's (`None`) or a Form XObject's that
    /// has its own /StructParents.
    mcid_stream: Option<ObjectId>,
    mark_index: HashMap<(Option<ObjectId>, u32), u32>,
}

impl<'a, 's> Interpreter<'a, 's> {
    pub fn new(
        doc: &'a Document,
        state: &'s mut DocState,
        budget: &'s mut Budget,
        bbox: [f32; 4],
    ) -> Self {
        let max_glyphs = usize::try_from(budget.limits.max_glyphs_per_page).unwrap_or(usize::MAX);
        Interpreter {
            doc,
            state,
            budget,
            out: PageGlyphs {
                max_glyphs,
                ..PageGlyphs::default()
            },
            bbox,
            ops: 0,
            form_chain: Vec::new(),
            form_draws: HashMap::new(),
            scratch: String::new(),
            marked: Vec::new(),
            marked_untracked: 0,
            mcid_stream: None,
            mark_index: HashMap::new(),
        }
    }

    /// Object `id`: the document's, or one kept packed, unpacked for this use.
    fn object(&self, id: ObjectId) -> Option<Cow<'a, Object>> {
        self.object_with(id, true)
    }

    /// As [`Self::object`]; a packed stream without its data unless `data`.
    fn object_with(&self, id: ObjectId, data: bool) -> Option<Cow<'a, Object>> {
        self.state.packed.lookup(self.doc, id, data)
    }

    /// The object `reference` names, or `reference` itself when it is direct.
    fn resolve(&self, reference: &'a Object) -> Option<Cow<'a, Object>> {
        match reference {
            Object::Reference(id) => self.object(*id),
            direct => Some(Cow::Borrowed(direct)),
        }
    }

    /// The mark of glyphs drawn now: the innermost marked-content sequence's.
    fn current_mark(&self) -> u32 {
        self.marked.last().copied().unwrap_or(UNMARKED)
    }

    fn open_marked(&mut self, mark: u32) {
        if self.marked.len() >= MAX_MARKED_DEPTH {
            self.marked_untracked = self.marked_untracked.saturating_add(1);
        } else {
            self.marked.push(mark);
        }
    }

    fn close_marked(&mut self, floor: usize) {
        if self.marked_untracked > 0 {
            self.marked_untracked -= 1;
        } else if self.marked.len() > floor {
            self.marked.pop();
        }
    }

    /// The mark of marked content `mcid` of the stream being read.
    fn content_mark(&mut self, mcid: u32) -> u32 {
        let key = (self.mcid_stream, mcid);
        if let Some(&mark) = self.mark_index.get(&key) {
            return mark;
        }
        let mark = FIRST_CONTENT_MARK.saturating_add(self.out.marks.len() as u32);
        self.out.marks.push(key);
        self.mark_index.insert(key, mark);
        mark
    }

    /// The mark a `BDC` opens: `tag` and its properties (inline, or a /Properties resource).
    fn marked_content(
        &mut self,
        resources: Option<&Dictionary>,
        tag: Option<&Operand<'_>>,
        properties: Option<&Operand<'_>>,
    ) -> u32 {
        if matches!(tag, Some(Operand::Name(b"Artifact"))) {
            return ARTIFACT;
        }
        let mcid = match properties {
            Some(dict @ Operand::Dict(_)) => dict.dict_integer(b"MCID"),
            Some(Operand::Name(name)) => resources
                .and_then(|r| resolve_dict(self.doc, r.get(b"Properties").ok()))
                .and_then(|props| resolve_dict(self.doc, props.get(name).ok()))
                .and_then(|d| match d.get(b"MCID") {
                    Ok(Object::Integer(n)) => u32::try_from(*n).ok(),
                    _ => None,
                }),
            _ => None,
        };
        match mcid {
            Some(mcid) => self.content_mark(mcid),
            None => self.current_mark(),
        }
    }

    /// Draws the appearance streams of the page's visible annotations (form field values,
    /// stamps, free text), as viewers and pdftotext do.
    pub fn run_annotations(
        &mut self,
        page: &'a Dictionary,
        resources: Option<&'a Dictionary>,
    ) -> Result<(), ExtractError> {
        // Sequences the page left open do not reach its annotations.
        self.marked.clear();
        self.marked_untracked = 0;
        let doc = self.doc;
        let Some(annots) = page
            .get(b"Annots")
            .ok()
            .and_then(|o| deref(doc, o))
            .and_then(|o| o.as_array().ok())
        else {
            return Ok(());
        };
        for annot in annots.iter().take(10_000) {
            let Some(annot) = self.resolve(annot) else {
                continue;
            };
            let Ok(a) = annot.as_dict() else {
                continue;
            };
            let flags = a
                .get(b"F")
                .ok()
                .and_then(|o| deref(doc, o))
                .and_then(crate::pagetree::number)
                .unwrap_or(0.0) as u32;
            let subtype = a.get(b"Subtype").and_then(Object::as_name).unwrap_or(b"");
            // Hidden (2) or no-view (32) annotations, and pop-ups, are not drawn.
            if flags & (2 | 32) != 0 || subtype == b"Popup" {
                continue;
            }
            let Some(ap) = resolve_dict(doc, a.get(b"AP").ok()) else {
                continue;
            };
            let Some(normal) = ap.get(b"N").ok() else {
                continue;
            };
            // /N is the appearance, or a dictionary of them by state (/AS picks one).
            let (mut id, mut appearance) = match normal {
                Object::Reference(id) => match self.object(*id) {
                    Some(object) => (*id, object),
                    None => continue,
                },
                direct => ((0, 0), Cow::Borrowed(direct)),
            };
            if let Ok(states) = appearance.as_dict() {
                let Some(state) = a.get(b"AS").and_then(Object::as_name).ok() else {
                    continue;
                };
                let Ok(Object::Reference(sid)) = states.get(state) else {
                    continue;
                };
                let sid = *sid;
                let Some(object) = self.object(sid) else {
                    continue;
                };
                (id, appearance) = (sid, object);
            }
            let Ok(stream) = appearance.as_stream() else {
                continue;
            };
            let Some(rect) = rect_entry(doc, a, b"Rect") else {
                continue;
            };
            // Map the form's (transformed) bounding box onto the annotation rectangle.
            let m = matrix_entry(doc, &stream.dict).unwrap_or(Matrix::IDENTITY);
            let bbox = rect_entry(doc, &stream.dict, b"BBox").unwrap_or(rect);
            let corners = [
                m.apply(bbox[0], bbox[1]),
                m.apply(bbox[2], bbox[1]),
                m.apply(bbox[0], bbox[3]),
                m.apply(bbox[2], bbox[3]),
            ];
            let (x0, x1) = corners.iter().fold((f32::MAX, f32::MIN), |(lo, hi), c| {
                (lo.min(c.0), hi.max(c.0))
            });
            let (y0, y1) = corners.iter().fold((f32::MAX, f32::MIN), |(lo, hi), c| {
                (lo.min(c.1), hi.max(c.1))
            });
            let (w, h) = (x1 - x0, y1 - y0);
            let sx = if w.abs() > 1e-6 {
                (rect[2] - rect[0]) / w
            } else {
                1.0
            };
            let sy = if h.abs() > 1e-6 {
                (rect[3] - rect[1]) / h
            } else {
                1.0
            };
            let a_m = Matrix([sx, 0.0, 0.0, sy, rect[0] - x0 * sx, rect[1] - y0 * sy]);
            let gs = GState::new(a_m);
            self.draw_form(id, stream, resources, &gs)?;
        }
        Ok(())
    }

    /// Interprets a page's content streams (already concatenated).
    pub fn run_page(
        &mut self,
        content: &[u8],
        resources: Option<&'a Dictionary>,
    ) -> Result<(), ExtractError> {
        let gs = GState::new(Matrix::IDENTITY);
        self.run(content, resources, gs)
    }

    fn run(
        &mut self,
        content: &[u8],
        resources: Option<&Dictionary>,
        gs: GState,
    ) -> Result<(), ExtractError> {
        let max_depth = self.budget.limits.max_nesting_depth;
        // A stream closes only the sequences it opened.
        let marked_floor = self.marked.len();
        let mut lexer = Lexer::new(content, max_depth);
        let mut operands: Vec<Operand<'_>> = Vec::new();
        let mut gs = gs;
        let mut stack: Vec<GState> = Vec::new();
        let mut tm = Matrix::IDENTITY;
        let mut tlm = Matrix::IDENTITY;
        while let Some(tok) = lexer.next_token() {
            let op = match tok {
                Token::Operand(o) => {
                    if operands.len() >= MAX_OPERANDS {
                        operands.clear();
                    }
                    operands.push(o);
                    continue;
                }
                Token::Operator(op) => op,
            };
            self.ops += 1;
            if self.out.overflowed {
                return Err(self.too_many_glyphs());
            }
            if self.ops & 0xfff == 0 {
                self.budget.check_time()?;
            }
            if self.ops > self.budget.limits.max_operators_per_page {
                return Ok(());
            }
            let n = |i: usize| -> f32 {
                operands
                    .len()
                    .checked_sub(i)
                    .and_then(|k| operands.get(k))
                    .and_then(Operand::num)
                    .unwrap_or(0.0)
            };
            match op {
                b"q" if stack.len() < MAX_GSTATE_DEPTH => stack.push(gs.clone()),
                b"Q" => {
                    if let Some(s) = stack.pop() {
                        gs = s;
                    }
                }
                b"cm" => {
                    if let Some(m) = Matrix::from_operands(&operands) {
                        gs.ctm = m.mul(&gs.ctm);
                    }
                }
                b"BT" => {
                    tm = Matrix::IDENTITY;
                    tlm = Matrix::IDENTITY;
                }
                b"Tf" => {
                    gs.size = n(1);
                    let name = operands.len().checked_sub(2).and_then(|k| operands.get(k));
                    if let Some(Operand::Name(name)) = name {
                        // Loading a font can be slow (CMaps, font programs): time is checked.
                        self.budget.check_time()?;
                        gs.font = self.font(resources, name);
                    }
                }
                b"Tc" => gs.char_spacing = n(1),
                b"Tw" => gs.word_spacing = n(1),
                b"Tz" => gs.hscale = n(1) / 100.0,
                b"TL" => gs.leading = n(1),
                b"Ts" => gs.rise = n(1),
                b"Td" => {
                    tlm = Matrix::translate(n(2), n(1)).mul(&tlm);
                    tm = tlm;
                }
                b"TD" => {
                    gs.leading = -n(1);
                    tlm = Matrix::translate(n(2), n(1)).mul(&tlm);
                    tm = tlm;
                }
                b"Tm" => {
                    if let Some(m) = Matrix::from_operands(&operands) {
                        tm = m;
                        tlm = m;
                    }
                }
                b"T*" => {
                    tlm = Matrix::translate(0.0, -gs.leading).mul(&tlm);
                    tm = tlm;
                }
                b"Tj" | b"'" | b"\"" => {
                    if op != b"Tj" {
                        if op == b"\"" {
                            gs.word_spacing = n(3);
                            gs.char_spacing = n(2);
                        }
                        tlm = Matrix::translate(0.0, -gs.leading).mul(&tlm);
                        tm = tlm;
                    }
                    if let Some(Operand::Str(s)) = operands.last() {
                        self.show(&gs, &mut tm, s);
                    }
                }
                b"TJ" => {
                    if let Some(Operand::Array(items)) = operands.last() {
                        for item in items {
                            match item {
                                Operand::Str(s) => self.show(&gs, &mut tm, s),
                                Operand::Number(adj) => {
                                    let d = -adj / 1000.0 * gs.size;
                                    let vertical = gs.font.as_ref().is_some_and(|f| f.vertical);
                                    tm = if vertical {
                                        Matrix::translate(0.0, d).mul(&tm)
                                    } else {
                                        Matrix::translate(d * gs.hscale, 0.0).mul(&tm)
                                    };
                                }
                                _ => {}
                            }
                        }
                    }
                }
                b"Do" => {
                    if let Some(Operand::Name(name)) = operands.last() {
                        self.form(resources, name, &gs)?;
                    }
                }
                b"ID" => lexer.skip_inline_image(),
                b"BMC" => {
                    let artifact = matches!(operands.last(), Some(Operand::Name(b"Artifact")));
                    let mark = if artifact {
                        ARTIFACT
                    } else {
                        self.current_mark()
                    };
                    self.open_marked(mark);
                }
                b"BDC" => {
                    let tag = operands.len().checked_sub(2).and_then(|k| operands.get(k));
                    let mark = self.marked_content(resources, tag, operands.last());
                    self.open_marked(mark);
                }
                b"EMC" => self.close_marked(marked_floor),
                _ => {}
            }
            operands.clear();
        }
        Ok(())
    }

    fn font(&mut self, resources: Option<&Dictionary>, name: &[u8]) -> Option<Rc<Font>> {
        let found = resources
            .and_then(|r| resolve_dict(self.doc, r.get(b"Font").ok()))
            .and_then(|fonts| fonts.get(name).ok())
            .and_then(|obj| {
                let state = &mut *self.state;
                state.fonts.get(self.doc, &state.packed, obj, self.budget)
            });
        // A font that is missing (a truncated or broken file) reads as WinAnsi, which keeps
        // most Latin text rather than none.
        found.or_else(|| {
            let fallback = self.state.fallback_font.get_or_insert_with(|| {
                let mut d = Dictionary::new();
                d.set("Type", Object::Name(b"Font".to_vec()));
                d.set("Subtype", Object::Name(b"Type1".to_vec()));
                d.set("BaseFont", Object::Name(b"Helvetica".to_vec()));
                d.set("Encoding", Object::Name(b"WinAnsiEncoding".to_vec()));
                Rc::new(Font::load(self.doc, &d, self.budget))
            });
            Some(fallback.clone())
        })
    }

    fn form(
        &mut self,
        resources: Option<&Dictionary>,
        name: &[u8],
        gs: &GState,
    ) -> Result<(), ExtractError> {
        let Some(xobjects) = resources.and_then(|r| resolve_dict(self.doc, r.get(b"XObject").ok()))
        else {
            return Ok(());
        };
        let Ok(Object::Reference(id)) = xobjects.get(name) else {
            return Ok(());
        };
        let id = *id;
        // A form that draws itself, directly or through others, is drawn once.
        if self.form_chain.contains(&id)
            || self.form_chain.len() as u32 >= self.budget.limits.max_recursion_depth
        {
            return Ok(());
        }
        // A form drawn again is decoded already: its data need not be copied out again.
        let decoded = self.state.forms.contains_key(&id);
        let Some(object) = self.object_with(id, !decoded) else {
            return Ok(());
        };
        let Ok(stream) = object.as_stream() else {
            return Ok(());
        };
        if stream.dict.get(b"Subtype").and_then(Object::as_name).ok() != Some(b"Form".as_slice()) {
            return Ok(());
        }
        self.draw_form(id, stream, resources, gs)
    }

    fn draw_form(
        &mut self,
        id: ObjectId,
        stream: &lopdf::Stream,
        resources: Option<&Dictionary>,
        gs: &GState,
    ) -> Result<(), ExtractError> {
        if self.form_chain.contains(&id)
            || self.form_chain.len() as u32 >= self.budget.limits.max_recursion_depth
        {
            return Ok(());
        }
        let draws = self.form_draws.entry(id).or_default();
        *draws = draws.saturating_add(1);
        if *draws > self.budget.limits.max_form_draws_per_page {
            return Ok(());
        }
        let content = match self.state.forms.get(&id) {
            Some(c) => c.clone(),
            None => {
                let c = Rc::new(streams::decode(stream, self.budget)?);
                if self.state.form_bytes + c.len() <= FORM_CACHE_BYTES {
                    self.state.form_bytes += c.len();
                    self.state.forms.insert(id, c.clone());
                }
                c
            }
        };
        // Each drawing costs its content's length: a big form drawn many times is bounded
        // by the operator budget even if it holds few operators.
        self.ops = self.ops.saturating_add(1 + content.len() as u64 / 32);
        if self.ops > self.budget.limits.max_operators_per_page {
            return Ok(());
        }
        self.budget.check_time()?;
        let mut inner = gs.clone();
        if let Some(m) = matrix_entry(self.doc, &stream.dict) {
            inner.ctm = m.mul(&gs.ctm);
        }
        let form_resources =
            resolve_dict(self.doc, stream.dict.get(b"Resources").ok()).or(resources);
        self.form_chain.push(id);
        let (marked, untracked, mcid_stream) =
            (self.marked.len(), self.marked_untracked, self.mcid_stream);
        // A form with /StructParents numbers its marked content itself (PDF 32000-1, 14.7.4.3).
        if stream.dict.has(b"StructParents") {
            self.mcid_stream = Some(id);
        }
        let r = self.run(&content, form_resources, inner);
        self.marked.truncate(marked);
        self.marked_untracked = untracked;
        self.mcid_stream = mcid_stream;
        self.form_chain.pop();
        r
    }

    /// The error of a page that drew more glyphs than `max_glyphs_per_page`.
    pub fn too_many_glyphs(&self) -> ExtractError {
        let max = self.budget.limits.max_glyphs_per_page;
        ExtractError::ResultTooLarge {
            limit: crate::error::ResultLimit::PageGlyphs,
            actual: max.saturating_add(1),
            max,
        }
    }

    fn show(&mut self, gs: &GState, tm: &mut Matrix, bytes: &[u8]) {
        let Some(font) = gs.font.clone() else { return };
        let m = tm.mul(&gs.ctm);
        let fs = gs.size;
        let hs = gs.hscale;
        let vertical = font.vertical;
        // Glyph size and writing direction in device space.
        let (ux, uy) = m.apply_vec(0.0, fs * font.em);
        let size = (ux * ux + uy * uy).sqrt();
        let (dx, dy) = if vertical {
            m.apply_vec(0.0, -1.0)
        } else {
            m.apply_vec(if hs < 0.0 { -1.0 } else { 1.0 }, 0.0)
        };
        let dlen = (dx * dx + dy * dy).sqrt();
        let (dx, dy) = if dlen > 0.0 {
            (dx / dlen, dy / dlen)
        } else {
            (1.0, 0.0)
        };
        let mut off = 0.0f32;
        let mark = self.current_mark();
        let mut scratch = std::mem::take(&mut self.scratch);
        let out = &mut self.out;
        let bbox = self.bbox;
        font.decode(bytes, &mut scratch, |g| {
            let spacing = gs.char_spacing + if g.word_space { gs.word_spacing } else { 0.0 };
            let (origin, end, next) = if vertical {
                let adv = g.advance * fs + gs.char_spacing;
                (
                    m.apply(0.0, off),
                    m.apply(0.0, off + adv),
                    off + adv + if g.word_space { gs.word_spacing } else { 0.0 },
                )
            } else {
                let w = g.advance * fs * hs;
                let adv = (g.advance * fs + spacing) * hs;
                // The glyph ends at its own width: character spacing after it is a gap, which
                // is how some writers set word spaces ("(st)" with Tc = 0.38 em is "s t").
                (m.apply(off, gs.rise), m.apply(off + w, gs.rise), off + adv)
            };
            off = next;
            if g.text.is_empty() || !origin.0.is_finite() || !origin.1.is_finite() {
                return;
            }
            let margin = size.min(50.0);
            if origin.0 < bbox[0] - margin
                || origin.0 > bbox[2] + margin
                || origin.1 < bbox[1] - margin
                || origin.1 > bbox[3] + margin
            {
                return;
            }
            out.push(
                Glyph {
                    start: 0,
                    end: 0,
                    x: origin.0,
                    y: origin.1,
                    ex: end.0,
                    ey: end.1,
                    dx,
                    dy,
                    size,
                    mark,
                },
                g.text,
            );
        });
        self.scratch = scratch;
        *tm = if vertical {
            Matrix::translate(0.0, off).mul(tm)
        } else {
            Matrix::translate(off, 0.0).mul(tm)
        };
    }
}

fn rect_entry(doc: &Document, dict: &Dictionary, key: &[u8]) -> Option<[f32; 4]> {
    let arr = deref(doc, dict.get(key).ok()?)?.as_array().ok()?;
    if arr.len() != 4 {
        return None;
    }
    let mut v = [0.0f32; 4];
    for (slot, o) in v.iter_mut().zip(arr) {
        *slot = crate::pagetree::number(deref(doc, o)?)?;
    }
    v.iter().all(|x| x.is_finite()).then_some([
        v[0].min(v[2]),
        v[1].min(v[3]),
        v[0].max(v[2]),
        v[1].max(v[3]),
    ])
}

fn matrix_entry(doc: &Document, dict: &Dictionary) -> Option<Matrix> {
    let arr = deref(doc, dict.get(b"Matrix").ok()?)?.as_array().ok()?;
    if arr.len() != 6 {
        return None;
    }
    let mut m = [0.0f32; 6];
    for (slot, o) in m.iter_mut().zip(arr) {
        *slot = crate::pagetree::number(deref(doc, o)?)?;
    }
    m.iter().all(|v| v.is_finite()).then_some(Matrix(m))
}

#[cfg(test)]
mod tests {
    use lopdf::{Stream, dictionary};

    use super::*;
    use crate::limits::Limits;

    /// The (stream, MCID) or artifact each glyph of `content` is marked with, by its text.
    fn marks_of(doc: &Document, content: &str, resources: &Dictionary) -> Vec<(String, String)> {
        let mut state = DocState::default();
        let mut budget = Budget::new(&Limits::default());
        let mut interp = Interpreter::new(doc, &mut state, &mut budget, [0.0, 0.0, 612.0, 792.0]);
        interp
            .run_page(content.as_bytes(), Some(resources))
            .unwrap();
        let out = &interp.out;
        out.glyphs
            .iter()
            .map(|g| {
                let text = out.text[g.start as usize..g.end as usize].to_owned();
                let mark = match g.mark {
                    UNMARKED => "none".to_owned(),
                    ARTIFACT => "artifact".to_owned(),
                    m => format!("{:?}", out.marks[(m - FIRST_CONTENT_MARK) as usize]),
                };
                (text, mark)
            })
            .collect()
    }

    #[test]
    fn glyphs_carry_their_innermost_marked_content() {
        let mut doc = Document::with_version("1.7");
        let font = doc.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
        });
        // A form numbering its own marked content (/StructParents), and one that does not.
        let own = doc.add_object(Stream::new(
            dictionary! { "Type" => "XObject", "Subtype" => "Form", "BBox" => vec![0.into(), 0.into(), 612.into(), 792.into()], "StructParents" => 7 },
            b"/Span <</MCID 0>> BDC BT /F1 10 Tf 0 0 Td (f) Tj ET EMC".to_vec(),
        ));
        let plain = doc.add_object(Stream::new(
            dictionary! { "Type" => "XObject", "Subtype" => "Form", "BBox" => vec![0.into(), 0.into(), 612.into(), 792.into()] },
            b"BT /F1 10 Tf 0 0 Td (g) Tj ET /P <</MCID 9>> BDC".to_vec(),
        ));
        let resources = dictionary! {
            "Font" => dictionary! { "F1" => Object::Reference(font) },
            "XObject" => dictionary! { "X0" => Object::Reference(own), "X1" => Object::Reference(plain) },
            "Properties" => dictionary! { "MC3" => dictionary! { "MCID" => 3 } },
        };
        let content = "BT /F1 10 Tf 72 700 Td (a) Tj ET \
            /P <</MCID 1>> BDC BT /F1 10 Tf 72 680 Td (b) Tj ET \
              /Span BMC BT /F1 10 Tf 72 660 Td (c) Tj ET EMC \
              /Artifact BMC BT /F1 10 Tf 72 640 Td (d) Tj ET EMC \
              q 1 0 0 1 72 620 cm /X0 Do Q \
              q 1 0 0 1 72 600 cm /X1 Do Q \
              BT /F1 10 Tf 72 580 Td (e) Tj ET \
            EMC \
            /P /MC3 BDC BT /F1 10 Tf 72 560 Td (h) Tj ET EMC \
            EMC EMC BT /F1 10 Tf 72 540 Td (i) Tj ET";
        let got = marks_of(&doc, content, &resources);
        let page = |mcid: u32| format!("{:?}", (None::<ObjectId>, mcid));
        let expected = [
            ("a", "none".to_owned()),
            ("b", page(1)),
            ("c", page(1)),
            ("d", "artifact".to_owned()),
            ("f", format!("{:?}", (Some(own), 0u32))),
            // Inherits the sequence it is drawn in; its unclosed BDC ends with it.
            ("g", page(1)),
            ("e", page(1)),
            ("h", page(3)),
            // Stray EMCs close nothing that was not opened.
            ("i", "none".to_owned()),
        ];
        let expected: Vec<(String, String)> = expected
            .into_iter()
            .map(|(t, m)| (t.to_owned(), m))
            .collect();
        assert_eq!(got, expected);
    }
}
