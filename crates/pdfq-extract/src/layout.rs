//! Glyph positions to text: baselines make lines, gaps make spaces, right-to-left runs are
//! put in logical order.

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
}

/// A gap wider than this fraction of the font size separates words.
const WORD_GAP: f32 = 0.15;
/// A baseline shift larger than this fraction of the font size starts a new line.
const LINE_SHIFT: f32 = 0.5;

#[derive(Debug, Default)]
pub(crate) struct PageGlyphs {
    pub glyphs: Vec<Glyph>,
    pub text: String,
}

impl PageGlyphs {
    pub fn push(&mut self, mut g: Glyph, text: &str) {
        let start = self.text.len();
        match ligature(text) {
            Some(expanded) => self.text.push_str(expanded),
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

    /// The page's text: one line per baseline run, in content order.
    pub fn into_text(self) -> String {
        let mut out = String::with_capacity(self.text.len() + self.text.len() / 4);
        let mut run: Vec<(f32, usize)> = Vec::new();
        let mut i = 0;
        let gl = &self.glyphs;
        while i < gl.len() {
            // A run: consecutive glyphs on one baseline and in one direction.
            let first = gl[i];
            let size = first.size.max(0.1);
            run.clear();
            let mut j = i;
            while j < gl.len() {
                let g = &gl[j];
                if j > i {
                    let same_dir = g.dx * first.dx + g.dy * first.dy > 0.95;
                    let perp = -(g.x - first.x) * first.dy + (g.y - first.y) * first.dx;
                    if !same_dir || perp.abs() > LINE_SHIFT * size.max(g.size) {
                        break;
                    }
                }
                let along = (g.x - first.x) * first.dx + (g.y - first.y) * first.dy;
                run.push((along, j));
                j += 1;
            }
            // Visual order along the baseline (content order breaks ties).
            run.sort_by(|a, b| a.0.total_cmp(&b.0));
            self.emit_run(&run, &first, &mut out);
            out.push('\n');
            i = j;
        }
        out
    }

    fn emit_run(&self, run: &[(f32, usize)], first: &Glyph, out: &mut String) {
        let line_start = out.len();
        let mut prev: Option<(f32, &Glyph)> = None;
        let mut rtl = false;
        for &(along, idx) in run {
            let g = &self.glyphs[idx];
            let t = self.str_of(g);
            if t.chars().all(char::is_whitespace) {
                // An explicit space: remembered as a gap, not copied (avoids doubles).
                if let Some((_, p)) = prev
                    && !out[line_start..].ends_with(' ')
                    && !out[line_start..].is_empty()
                {
                    let _ = p;
                    out.push(' ');
                }
                continue;
            }
            if let Some((p_along, p)) = prev {
                let p_len = (p.ex - p.x) * first.dx + (p.ey - p.y) * first.dy;
                let gap = along - (p_along + p_len);
                let size = p.size.max(g.size).max(0.1);
                // The same glyph drawn again at (nearly) the same spot: fake bold or shadow.
                if t == self.str_of(p) && (along - p_along).abs() < 0.1 * size {
                    continue;
                }
                if gap > WORD_GAP * size && !out.ends_with(' ') {
                    out.push(' ');
                }
            }
            rtl |= t.chars().any(is_rtl);
            out.push_str(t);
            prev = Some((along, g));
        }
        while out.len() > line_start && out.ends_with(' ') {
            out.pop();
        }
        if rtl {
            let fixed = visual_to_logical(&out[line_start..]);
            out.truncate(line_start);
            out.push_str(&fixed);
        }
    }
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

pub(crate) fn is_rtl(c: char) -> bool {
    matches!(c as u32,
        0x0590..=0x08FF | 0xFB1D..=0xFDFF | 0xFE70..=0xFEFF | 0x10800..=0x10FFF | 0x1E800..=0x1EFFF)
}

/// Glyphs come in visual (left-to-right) order; right-to-left text is read the other way.
/// Reverses each maximal stretch of right-to-left characters (with the spaces and marks
/// between them), so words and the word order inside the stretch come out logical; a line
/// that is mostly right-to-left also has its stretches put in right-to-left order.
fn visual_to_logical(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let strong_rtl = |c: char| is_rtl(c) && !is_arabic_digit(c);
    // Segments: (is_rtl, chars)
    let mut segments: Vec<(bool, Vec<char>)> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if strong_rtl(chars[i]) {
            let mut j = i + 1;
            let mut last_rtl = i;
            while j < chars.len() {
                let c = chars[j];
                if strong_rtl(c) {
                    last_rtl = j;
                } else if !(c.is_whitespace() || is_neutral(c)) {
                    break;
                }
                j += 1;
            }
            let mut seg: Vec<char> = chars[i..=last_rtl].to_vec();
            seg.reverse();
            segments.push((true, seg));
            i = last_rtl + 1;
        } else {
            let start = i;
            while i < chars.len() && !strong_rtl(chars[i]) {
                i += 1;
            }
            segments.push((false, chars[start..i].to_vec()));
        }
    }
    let rtl_count = chars.iter().filter(|c| strong_rtl(**c)).count();
    let ltr_count = chars
        .iter()
        .filter(|c| c.is_alphabetic() && !strong_rtl(**c))
        .count();
    if rtl_count > ltr_count {
        segments.reverse();
    }
    let mut s: String = segments.into_iter().flat_map(|(_, seg)| seg).collect();
    // Reversal moves the boundary spaces; keep the line trimmed.
    let trimmed = s.trim().to_string();
    s.clear();
    s.push_str(&trimmed);
    s
}

fn is_arabic_digit(c: char) -> bool {
    matches!(c as u32, 0x0660..=0x0669 | 0x06F0..=0x06F9)
}

fn is_neutral(c: char) -> bool {
    !c.is_alphanumeric() || matches!(c as u32, 0x0300..=0x036F)
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
        }
    }

    #[test]
    fn spaces_and_lines_from_positions() {
        let mut p = PageGlyphs::default();
        p.push(g(0.0, 100.0, 5.0), "a");
        p.push(g(5.0, 100.0, 5.0), "b");
        p.push(g(13.0, 100.0, 5.0), "c");
        p.push(g(0.0, 88.0, 5.0), "\u{FB01}");
        assert_eq!(p.into_text(), "ab c\nfi\n");
    }

    #[test]
    fn fake_bold_is_dropped_and_order_is_visual() {
        let mut p = PageGlyphs::default();
        p.push(g(5.0, 100.0, 5.0), "b");
        p.push(g(0.0, 100.0, 5.0), "a");
        p.push(g(0.2, 100.0, 5.0), "a");
        assert_eq!(p.into_text(), "ab\n");
    }

    #[test]
    fn rtl_is_reversed() {
        assert_eq!(
            visual_to_logical("\u{645}\u{644}\u{633} \u{627}\u{628}"),
            "\u{628}\u{627} \u{633}\u{644}\u{645}"
        );
        assert_eq!(visual_to_logical("abc"), "abc");
    }
}
