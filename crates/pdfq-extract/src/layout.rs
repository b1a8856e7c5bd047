//! Glyph positions to text: baselines make lines, gaps make spaces, right-to-left runs are
//! put in logical order.

use unicode_normalization::UnicodeNormalization;

use lopdf::ObjectId;

use crate::bidi::{is_rtl, visual_to_logical};
use crate::reading_order::{Fragment, Orientation, PageLayout};
use crate::structure::PageOrder;

/// [`Glyph::mark`] of glyphs outside marked content with an id.
pub(crate) const UNMARKED: u32 = 0;
/// [`Glyph::mark`] of glyphs drawn as an /Artifact.
pub(crate) const ARTIFACT: u32 = 1;
/// [`Glyph::mark`] `FIRST_CONTENT_MARK + i`: marked content `PageGlyphs::marks[i]`.
pub(crate) const FIRST_CONTENT_MARK: u32 = 2;
/// Share of a page's text (artifacts aside) the structure tree must rank for its order to be
/// followed.
const MIN_TAGGED_SHARE: f32 = 0.8;

/// A positioned glyph; its text is `PageGlyphs::text[start..end]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Glyph {
    pub start: u32,
    pub end: u32,
    /// Origin and end of the advance, in default user space.
    pub x: f32,
    pub y: f32,
    pub ex: f32,
    pub ey: f32,
    /// Unit writing direction.
    pub dx: f32,
    pub dy: f32,
    /// Font size in user space.
    pub size: f32,
    /// The marked content it was drawn in: [`UNMARKED`], [`ARTIFACT`] or from
    /// [`FIRST_CONTENT_MARK`].
    pub mark: u32,
}

/// A gap wider than this fraction of the font size separates words: above kerning (under
/// 0.1 em in common fonts), below the narrowest justified inter-word space (~0.2 em).
const WORD_GAP: f32 = 0.12;
/// A baseline shift larger than this fraction of the font size starts a new line.
const LINE_SHIFT: f32 = 0.5;
/// Glyphs off the baseline by up to this fraction of the font size can still belong to the
/// line, when it resumes within `EXCURSION_GLYPHS` glyphs.
const MAX_EXCURSION: f32 = 1.0;
const EXCURSION_GLYPHS: usize = 8;
/// A forward leap along the baseline wider than this fraction of the font size ends a
/// fragment (wider than any justified word space, narrower than common column gutters).
const SPLIT_GAP: f32 = 1.0;
/// Letter spacing up to this fraction of the font size can still be inside a word.
const MAX_LETTER_SPACING: f32 = 0.4;

#[derive(Debug)]
pub(crate) struct PageGlyphs {
    pub glyphs: Vec<Glyph>,
    pub text: String,
    /// Glyphs past this are dropped and `overflowed` is set (the page then fails).
    pub max_glyphs: usize,
    pub overflowed: bool,
    /// Marked content drawn on the page: (stream, MCID), `None` for the page's own stream.
    pub marks: Vec<(Option<ObjectId>, u32)>,
}

impl Default for PageGlyphs {
    fn default() -> Self {
        PageGlyphs {
            glyphs: Vec::new(),
            text: String::new(),
            max_glyphs: usize::MAX,
            overflowed: false,
            marks: Vec::new(),
        }
    }
}

impl PageGlyphs {
    pub fn push(&mut self, mut g: Glyph, text: &str) {
        if self.glyphs.len() >= self.max_glyphs {
            self.overflowed = true;
            return;
        }
        let start = self.text.len();
        match ligature(text) {
            Some(expanded) => self.text.push_str(expanded),
            // Control characters a font maps its glyphs to (NUL, BEL: a ToUnicode entry for a
            // glyph with no text) are not text; PostgreSQL cannot even store a NUL.
            None if text.chars().any(char::is_control) => {
                self.text.extend(text.chars().filter(|c| !c.is_control()));
            }
            None => self.text.push_str(text),
        }
        g.start = start as u32;
        g.end = self.text.len() as u32;
        self.glyphs.push(g);
    }

    fn str_of(&self, g: &Glyph) -> &str {
        self.text
            .get(g.start as usize..g.end as usize)
            .unwrap_or("")
    }

    /// The page's text in reading order: blocks separated by blank lines (see
    /// [`crate::reading_order`]), in the structure tree's order (`order`) where it is to be
    /// followed, with where each line of that text was drawn.
    pub fn into_text(self, order: Option<&PageOrder>) -> PageLayout {
        let (ranks, mut blocks): (Vec<Option<u32>>, Vec<Option<u32>>) = match order {
            Some(order) => self
                .marks
                .iter()
                .map(|&(stream, mcid)| (order.rank(stream, mcid), order.block(stream, mcid)))
                .unzip(),
            None => Default::default(),
        };
        let (tagged, logical) = self.follows_tree(&ranks);
        if !tagged {
            // Blocks of a tree that names only part of the page's text would split lines of
            // that part from the rest.
            blocks.clear();
        }
        crate::reading_order::page_text(self.fragments(&ranks, &blocks), logical)
    }

    /// What `values` (ranks or blocks, one per marked content) holds for `g`'s marked content.
    fn of_mark(values: &[Option<u32>], g: &Glyph) -> Option<u32> {
        let i = g.mark.checked_sub(FIRST_CONTENT_MARK)?;
        values.get(i as usize).copied().flatten()
    }

    /// Whether the tree names most of the page's text (its blocks can then be trusted), and
    /// whether its order is worth following: it does, and differs from the drawing order (a
    /// tree that repeats the drawing order, as a single element listing its content does, adds
    /// nothing that geometry would not do better).
    fn follows_tree(&self, ranks: &[Option<u32>]) -> (bool, bool) {
        if ranks.iter().all(Option::is_none) {
            return (false, false);
        }
        let (mut text, mut ranked, mut reordered) = (0usize, 0usize, false);
        let mut last: Option<u32> = None;
        for g in &self.glyphs {
            if g.mark == ARTIFACT || self.str_of(g).chars().all(char::is_whitespace) {
                continue;
            }
            text += 1;
            if let Some(rank) = Self::of_mark(ranks, g) {
                ranked += 1;
                reordered |= last.is_some_and(|l| rank < l);
                last = Some(rank);
            }
        }
        let tagged = ranked as f32 >= MIN_TAGGED_SHARE * text as f32;
        (tagged, tagged && reordered)
    }

    /// Line fragments in content order: runs of glyphs on one baseline, split where the
    /// drawing jumps back or leaps forward across a gap wider than a word space could be, or
    /// where artifacts start or end.
    fn fragments(&self, ranks: &[Option<u32>], blocks: &[Option<u32>]) -> Vec<Fragment> {
        let mut out: Vec<Fragment> = Vec::new();
        let mut buf = String::new();
        let mut words: Vec<[f32; 4]> = Vec::new();
        let mut run: Vec<(f32, usize)> = Vec::new();
        let gl = &self.glyphs;
        let mut i = 0;
        while i < gl.len() {
            // A run: consecutive glyphs on one baseline, in one (possibly mirrored) direction,
            // never jumping far back (that is another column, or text drawn again).
            let first = gl[i];
            let size = first.size.max(0.1);
            // CJK set upright, one glyph under the other, with a horizontal font: the run's
            // axis is the stacking direction.
            let stacked = gl.get(i + 1).is_some_and(|n| self.is_stacked(&first, n));
            let mut axis = first;
            if let Some(n) = gl.get(i + 1).filter(|_| stacked) {
                let (vx, vy) = (n.x - first.x, n.y - first.y);
                let len = (vx * vx + vy * vy).sqrt().max(1e-6);
                axis.dx = vx / len;
                axis.dy = vy / len;
            }
            let first = axis;
            let own_dir = (gl[i].dx, gl[i].dy);
            run.clear();
            let mut j = i;
            let mut last_along = 0.0f32;
            let mut last_end = 0.0f32;
            let mut has_rtl = false;
            while j < gl.len() {
                let g = &gl[j];
                let along = (g.x - first.x) * first.dx + (g.y - first.y) * first.dy;
                let rtl = self.str_of(g).chars().any(is_rtl);
                if j > i {
                    let dot = g.dx * own_dir.0 + g.dy * own_dir.1;
                    let perp = -(g.x - first.x) * first.dy + (g.y - first.y) * first.dx;
                    let scale = size.max(g.size);
                    let back = along < last_along - 1.0 * scale;
                    // A leap over more than an em is a column gutter or a table gap; the
                    // reading order decides later whether the pieces belong together.
                    let leap = !stacked && !rtl && !has_rtl && along > last_end + SPLIT_GAP * scale;
                    // A sub- or superscript after which the baseline resumes stays in the line.
                    let off_line = perp.abs() > LINE_SHIFT * scale
                        && !self.line_resumes_after(&first, size, j, last_along);
                    let artifact_edge = (g.mark == ARTIFACT) != (gl[i].mark == ARTIFACT);
                    if dot.abs() < 0.95 || off_line || (back && !rtl) || leap || artifact_edge {
                        break;
                    }
                }
                has_rtl |= rtl;
                last_along = along;
                last_end = last_end.max(along + extent(g, &first, stacked));
                run.push((along, j));
                j += 1;
            }
            // Right-to-left text may be drawn in logical order; put it in visual order.
            if has_rtl {
                run.sort_by(|a, b| a.0.total_cmp(&b.0));
            }
            buf.clear();
            words.clear();
            self.emit_run(&run, &first, stacked, &mut buf, &mut words);
            if !buf.is_empty() {
                let mut frag = self.fragment(&run, &first, stacked, has_rtl, &buf);
                let first_ranked = run
                    .iter()
                    .filter_map(|&(_, k)| Some((Self::of_mark(ranks, &gl[k])?, k)))
                    .min();
                frag.rank = first_ranked.map(|(rank, _)| rank);
                frag.block = first_ranked.and_then(|(_, k)| Self::of_mark(blocks, &gl[k]));
                frag.artifact = run.iter().all(|&(_, k)| gl[k].mark == ARTIFACT);
                frag.words.extend_from_slice(&words);
                // The same text drawn again at (nearly) the same place: fake bold or a shadow.
                let tol = 0.2 * size;
                let repeated = out.last().is_some_and(|p| {
                    (p.origin.0 - first.x).abs() < tol
                        && (p.origin.1 - first.y).abs() < tol
                        && p.text == buf
                });
                if !repeated {
                    out.push(frag);
                }
            }
            i = j;
        }
        out
    }

    /// Whether the glyphs from `j` on, off the baseline of the run starting at `first`, are a
    /// brief excursion (a sub- or superscript, a large operator set low) after which the same
    /// baseline goes on: they then belong to the line rather than splitting it.
    fn line_resumes_after(&self, first: &Glyph, size: f32, j: usize, last_along: f32) -> bool {
        let gl = &self.glyphs;
        let mut prev_along = last_along;
        for g in gl.iter().skip(j).take(EXCURSION_GLYPHS) {
            let along = (g.x - first.x) * first.dx + (g.y - first.y) * first.dy;
            let perp = -(g.x - first.x) * first.dy + (g.y - first.y) * first.dx;
            let dot = g.dx * first.dx + g.dy * first.dy;
            let size = size.max(g.size);
            if dot.abs() < 0.95 || along < prev_along - size || perp.abs() > MAX_EXCURSION * size {
                return false;
            }
            if perp.abs() <= LINE_SHIFT * size {
                return true;
            }
            prev_along = along;
        }
        false
    }

    /// The box and direction of a run whose text is `text`.
    fn fragment(
        &self,
        run: &[(f32, usize)],
        first: &Glyph,
        stacked: bool,
        rtl: bool,
        text: &str,
    ) -> Fragment {
        let (mut x0, mut x1) = (f32::INFINITY, f32::NEG_INFINITY);
        let (mut y0, mut y1) = (f32::INFINITY, f32::NEG_INFINITY);
        let mut size = 0.0f32;
        // The glyphs' boxes whatever their direction (ascent and descent along their "up"):
        // what a highlight covers.
        let mut bounds = [
            f32::INFINITY,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NEG_INFINITY,
        ];
        for &(_, idx) in run {
            let g = &self.glyphs[idx];
            x0 = x0.min(g.x.min(g.ex));
            x1 = x1.max(g.x.max(g.ex));
            y0 = y0.min(g.y.min(g.ey));
            y1 = y1.max(g.y.max(g.ey));
            size = size.max(g.size);
            let (ux, uy) = (-g.dy * g.size, g.dx * g.size);
            for (px, py) in [(g.x, g.y), (g.ex, g.ey)] {
                for k in [-0.25f32, 0.75] {
                    let (cx, cy) = (px + k * ux, py + k * uy);
                    bounds = [
                        bounds[0].min(cx),
                        bounds[1].min(cy),
                        bounds[2].max(cx),
                        bounds[3].max(cy),
                    ];
                }
            }
        }
        let size = size.max(0.1);
        let horizontal = !stacked && first.dx > 0.9 && first.dy.abs() < 0.2;
        let vertical = stacked || first.dy < -0.9;
        if stacked {
            // Upright glyphs stacked downwards: the advance is horizontal, the column an em wide.
            x1 = x1.max(x0 + size);
        }
        Fragment {
            text: text.to_owned(),
            origin: (first.x, first.y),
            x0,
            x1,
            // Ascent and descent of common fonts, as fractions of the em.
            bottom: y0 - 0.25 * size,
            top: y1 + 0.75 * size,
            baseline: first.y,
            size,
            bounds,
            dir: (first.dx, first.dy),
            words: Vec::new(),
            orientation: if horizontal {
                Orientation::Horizontal
            } else if vertical {
                Orientation::Vertical
            } else {
                Orientation::Other
            },
            rtl,
            rank: None,
            block: None,
            artifact: false,
        }
    }

    /// Whether `n` sits right under `g` (one em down, not advanced along the baseline).
    fn is_stacked(&self, g: &Glyph, n: &Glyph) -> bool {
        let size = g.size.max(0.1);
        let (vx, vy) = (n.x - g.x, n.y - g.y);
        let along = vx * g.dx + vy * g.dy;
        let down = -(-vx * g.dy + vy * g.dx);
        let cjk = |t: &str| t.chars().next().is_some_and(is_cjk);
        along.abs() < 0.3 * size
            && (0.7 * size..1.6 * size).contains(&down)
            && cjk(self.str_of(g))
            && cjk(self.str_of(n))
    }

    /// Appends the run's text to `out` and, to `words`, the extent in user space (x0, y0, x1,
    /// y1 of its glyphs' origins and ends) of each word it appended; `words` is left empty when
    /// they cannot be told (right-to-left text, reordered after).
    fn emit_run(
        &self,
        run: &[(f32, usize)],
        first: &Glyph,
        stacked: bool,
        out: &mut String,
        words: &mut Vec<[f32; 4]>,
    ) {
        let line_start = out.len();
        // Letter-spaced text: a word gap must clearly exceed the run's own letter spacing.
        let mut min_gap = f32::INFINITY;
        let mut prev_end: Option<f32> = None;
        for &(along, idx) in run {
            let g = &self.glyphs[idx];
            if self.str_of(g).chars().all(char::is_whitespace) {
                prev_end = None;
                continue;
            }
            if let Some(pe) = prev_end {
                min_gap = min_gap.min(along - pe);
            }
            prev_end = Some(along + extent(g, first, stacked));
        }
        let mut prev: Option<(f32, &Glyph)> = None;
        let mut pending_space = false;
        let mut rtl = false;
        let mut k = 0;
        while k < run.len() {
            let (mut along, idx) = run[k];
            k += 1;
            let mut g = &self.glyphs[idx];
            let mut t = self.str_of(g);
            if t.chars().all(char::is_whitespace) {
                // An explicit space: remembered, not copied (avoids doubles).
                pending_space = prev.is_some();
                continue;
            }
            let mut mark_after: Option<char> = None;
            if let Some(mark) = combining_form(t) {
                // A diacritic drawn over the previous letter joins it (its middle is over the
                // letter: a spacing "^" or "~" after it, as in "a^2", is a character)...
                if let Some((p_along, p)) = prev {
                    let size = p.size.max(g.size).max(0.1);
                    let middle = along + extent(g, first, stacked).max(0.0) / 2.0;
                    if middle < p_along + extent(p, first, stacked).max(0.0) + 0.05 * size
                        && along + 0.05 * size >= p_along
                    {
                        out.push(mark);
                        continue;
                    }
                }
                // ...or the next one, when drawn before it.
                if let Some(&(n_along, n_idx)) = run.get(k) {
                    let n = &self.glyphs[n_idx];
                    if along + 0.05 * g.size >= n_along
                        && along <= n_along + extent(n, first, stacked)
                    {
                        mark_after = Some(mark);
                        along = n_along;
                        g = n;
                        t = self.str_of(n);
                        k += 1;
                    }
                }
            }
            if let Some((p_along, p)) = prev {
                let p_len = extent(p, first, stacked);
                let gap = along - (p_along + p_len);
                let size = p.size.max(g.size).max(0.1);
                if mark_after.is_none()
                    && t == self.str_of(p)
                    && (along - p_along).abs() < 0.1 * size
                {
                    continue;
                }
                let wide = if min_gap.is_finite() {
                    (min_gap * 1.3).min(MAX_LETTER_SPACING * size)
                } else {
                    0.0
                };
                let threshold = (WORD_GAP * size).max(wide);
                if (pending_space || gap > threshold) && !out.ends_with(' ') {
                    out.push(' ');
                }
            }
            pending_space = false;
            rtl |= t.chars().any(is_rtl);
            let extent = [g.x.min(g.ex), g.y.min(g.ey), g.x.max(g.ex), g.y.max(g.ey)];
            match words.last_mut() {
                Some(w) if out.len() > line_start && !out.ends_with(' ') => {
                    *w = union(*w, extent);
                }
                _ => words.push(extent),
            }
            out.push_str(t);
            if let Some(mark) = mark_after {
                out.push(mark);
            }
            prev = Some((along, g));
        }
        while out.len() > line_start && out.ends_with(' ') {
            out.pop();
        }
        let line = &out[line_start..];
        if rtl || line.split_whitespace().count() != words.len() {
            words.clear();
        }
        let needs_nfc = line.chars().any(|c| ('\u{0300}'..='\u{036F}').contains(&c));
        if rtl || needs_nfc {
            let mut fixed = if rtl {
                visual_to_logical(line)
            } else {
                line.to_string()
            };
            if needs_nfc {
                fixed = fixed.nfc().collect();
            }
            out.truncate(line_start);
            out.push_str(&fixed);
        }
    }
}

/// The smallest rectangle (x0, y0, x1, y1) holding both.
pub(crate) fn union(a: [f32; 4], b: [f32; 4]) -> [f32; 4] {
    [
        a[0].min(b[0]),
        a[1].min(b[1]),
        a[2].max(b[2]),
        a[3].max(b[3]),
    ]
}

/// The combining mark for a spacing diacritic (TeX and others draw accents as glyphs).
fn combining_form(t: &str) -> Option<char> {
    let mut chars = t.chars();
    let c = chars.next()?;
    if chars.next().is_some() {
        return None;
    }
    Some(match c {
        '`' | '\u{02CB}' => '\u{0300}',
        '\u{00B4}' | '\u{02CA}' => '\u{0301}',
        '^' | '\u{02C6}' => '\u{0302}',
        '~' | '\u{02DC}' => '\u{0303}',
        '\u{00AF}' | '\u{02C9}' => '\u{0304}',
        '\u{02D8}' => '\u{0306}',
        '\u{02D9}' => '\u{0307}',
        '\u{00A8}' => '\u{0308}',
        '\u{02DA}' => '\u{030A}',
        '\u{02DD}' => '\u{030B}',
        '\u{02C7}' => '\u{030C}',
        '\u{00B8}' => '\u{0327}',
        '\u{02DB}' => '\u{0328}',
        c @ '\u{0300}'..='\u{036F}' => c,
        _ => return None,
    })
}

/// A glyph's length along the run's axis (stacked glyphs take one em).
fn extent(g: &Glyph, axis: &Glyph, stacked: bool) -> f32 {
    if stacked {
        g.size
    } else {
        (g.ex - g.x) * axis.dx + (g.ey - g.y) * axis.dy
    }
}

/// Han, kana, Hangul, CJK punctuation and full-width forms.
pub(crate) fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3000..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0xFE10..=0xFE4F | 0xFF00..=0xFFEF | 0x20000..=0x2FFFF)
}

fn ligature(t: &str) -> Option<&'static str> {
    let mut chars = t.chars();
    let c = chars.next()?;
    if chars.next().is_some() {
        return None;
    }
    Some(match c {
        '\u{FB00}' => "ff",
        '\u{FB01}' => "fi",
        '\u{FB02}' => "fl",
        '\u{FB03}' => "ffi",
        '\u{FB04}' => "ffl",
        '\u{FB05}' | '\u{FB06}' => "st",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(x: f32, y: f32, w: f32) -> Glyph {
        Glyph {
            start: 0,
            end: 0,
            x,
            y,
            ex: x + w,
            ey: y,
            dx: 1.0,
            dy: 0.0,
            size: 10.0,
            mark: UNMARKED,
        }
    }

    #[test]
    fn spaces_and_lines_from_positions() {
        let mut p = PageGlyphs::default();
        p.push(g(0.0, 100.0, 5.0), "a");
        p.push(g(5.0, 100.0, 5.0), "b");
        p.push(g(13.0, 100.0, 5.0), "c");
        p.push(g(0.0, 88.0, 5.0), "\u{FB01}");
        assert_eq!(p.into_text(None).text, "ab c\nfi\n");
    }

    #[test]
    fn fake_bold_is_dropped() {
        let mut p = PageGlyphs::default();
        p.push(g(0.0, 100.0, 5.0), "a");
        p.push(g(0.2, 100.0, 5.0), "a");
        p.push(g(5.0, 100.0, 5.0), "b");
        p.push(g(20.0, 100.0, 5.0), "c");
        // The whole line drawn again, slightly offset.
        p.push(g(0.3, 100.3, 5.0), "a");
        p.push(g(5.3, 100.3, 5.0), "b");
        p.push(g(20.3, 100.3, 5.0), "c");
        assert_eq!(p.into_text(None).text, "ab c\n");
    }

    #[test]
    fn accents_join_their_letters() {
        let mut p = PageGlyphs::default();
        p.push(g(0.0, 100.0, 5.0), "e");
        p.push(g(1.0, 100.0, 3.0), "\u{00B4}");
        p.push(g(5.0, 100.0, 5.0), "t");
        p.push(g(10.0, 100.0, 5.0), "e");
        assert_eq!(p.into_text(None).text, "\u{00E9}te\n");
    }

    #[test]
    fn logical_order_rtl_is_sorted_visually_then_read_right_to_left() {
        // Drawn in logical order (right to left positions): alef at the right.
        let mut p = PageGlyphs::default();
        p.push(g(20.0, 100.0, 5.0), "\u{0627}");
        p.push(g(15.0, 100.0, 5.0), "\u{0628}");
        assert_eq!(p.into_text(None).text, "\u{0627}\u{0628}\n");
    }

    #[test]
    fn accent_drawn_before_its_letter_mid_line() {
        let mut p = PageGlyphs::default();
        p.push(g(0.0, 100.0, 5.0), "x");
        p.push(g(6.0, 100.0, 3.0), "\u{02C6}");
        p.push(g(5.0, 100.0, 5.0), "u");
        assert_eq!(p.into_text(None).text, "x\u{00FB}\n");
    }

    #[test]
    fn stacked_cjk_is_one_vertical_line() {
        let mut p = PageGlyphs::default();
        for (k, t) in ["\u{7B2C}", "\u{4E8C}", "\u{6761}"].iter().enumerate() {
            p.push(g(100.0, 700.0 - 10.0 * k as f32, 10.0), t);
        }
        p.push(g(80.0, 700.0, 10.0), "\u{306E}");
        assert_eq!(
            p.into_text(None).text,
            "\u{7B2C}\u{4E8C}\u{6761}\n\u{306E}\n"
        );
    }
}
