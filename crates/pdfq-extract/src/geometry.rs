//! Where a page's lines are, as a viewer shows the page: the frame sentence boxes are given in.
//!
//! Coordinates are PDF points in the displayed page: the crop box (within the media box) turned
//! by the page's /Rotate, origin at its top-left corner, x to the right and y downwards, as
//! browsers and PDF.js viewports measure. A frontend scales them by its rendered width over
//! the page's `width`.

use serde::{Deserialize, Serialize};

use crate::reading_order::LineGeometry;

/// A line's box in the displayed page: `[x0, y0, x1, y1]`, x0 <= x1 and y0 <= y1.
pub type Rect = [f32; 4];

/// Lines of one page with more than this many get no geometry (their sentences keep their
/// pages, not boxes): it bounds the page's message from the isolated child. The busiest real
/// page measured has a few hundred lines.
pub const MAX_PAGE_LINES: usize = 8192;
/// Words of one page past this get no extents of their own: a sentence starting or ending
/// inside such a page's line is boxed by the whole line.
pub const MAX_PAGE_WORDS: usize = 32768;
/// A word extent covering its whole line (the extent of a word whose place is unknown).
pub const WHOLE_LINE: [u16; 2] = [0, u16::MAX];

/// The part of user space a viewer shows, and how it is turned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PageView {
    /// The crop box within the media box, as x0, y0, x1, y1 in user space.
    crop: [f32; 4],
    /// Clockwise quarter turns: 0 to 3.
    turns: u8,
}

impl PageView {
    /// `rotate` is the page's /Rotate: a multiple of 90 (others are invalid and read as 0).
    pub fn new(media: [f32; 4], crop: Option<[f32; 4]>, rotate: i64) -> Self {
        let crop = crop
            .map(|c| {
                [
                    c[0].max(media[0]),
                    c[1].max(media[1]),
                    c[2].min(media[2]),
                    c[3].min(media[3]),
                ]
            })
            .filter(|c| c[2] > c[0] && c[3] > c[1])
            .unwrap_or(media);
        let turns = if rotate % 90 == 0 {
            (rotate / 90).rem_euclid(4) as u8
        } else {
            0
        };
        PageView { crop, turns }
    }

    /// Width and height of the page as shown.
    pub fn size(&self) -> (f32, f32) {
        let (w, h) = (self.crop[2] - self.crop[0], self.crop[3] - self.crop[1]);
        if self.turns % 2 == 1 { (h, w) } else { (w, h) }
    }

    /// A point of user space in the displayed page.
    pub fn point(&self, x: f32, y: f32) -> (f32, f32) {
        let (w, h) = (self.crop[2] - self.crop[0], self.crop[3] - self.crop[1]);
        // Unturned, from the top-left corner, y down.
        let (u, v) = (x - self.crop[0], self.crop[3] - y);
        match self.turns {
            1 => (h - v, u),
            2 => (w - u, h - v),
            3 => (v, w - u),
            _ => (u, v),
        }
    }

    /// Whether a direction of user space runs up or down the displayed page.
    pub fn is_vertical(&self, dx: f32, dy: f32) -> bool {
        // Turning by a quarter swaps the axes; y flips, which does not matter here.
        (dy.abs() > dx.abs()) != (self.turns % 2 == 1)
    }

    /// A user-space rectangle (x0, y0, x1, y1) as shown, rounded to hundredths of a point.
    pub fn rect(&self, r: [f32; 4]) -> Rect {
        let (ax, ay) = self.point(r[0], r[1]);
        let (bx, by) = self.point(r[2], r[3]);
        [
            round(ax.min(bx)),
            round(ay.min(by)),
            round(ax.max(bx)),
            round(ay.max(by)),
        ]
    }
}

/// A page's lines as [`crate::PageText`] carries them: the box of each line of `text` that is
/// not blank, the indexes of those running down the page, and each of their words' extent
/// along its line (see [`crate::PageText::words`]).
#[derive(Debug, Default)]
pub(crate) struct PageLines {
    pub boxes: Vec<Rect>,
    pub vertical: Vec<u32>,
    pub words: Vec<[u16; 2]>,
}

/// `geometry` (one entry per line of `text`, as the layout made them) in the displayed page.
/// Empty when the two do not match or the page has more than [`MAX_PAGE_LINES`] lines.
pub(crate) fn page_lines(
    view: &PageView,
    text: &str,
    geometry: &[Option<LineGeometry>],
) -> PageLines {
    let mut out = PageLines::default();
    if text.lines().count() != geometry.len() {
        return out;
    }
    let mut word_count = 0;
    for (line, geom) in text.lines().zip(geometry) {
        if line.trim().is_empty() {
            continue;
        }
        if out.boxes.len() == MAX_PAGE_LINES {
            return PageLines::default();
        }
        let words = line.split_whitespace().count();
        word_count += words;
        let Some(geom) = geom else {
            out.boxes.push([0.0; 4]);
            out.words.extend(std::iter::repeat_n(WHOLE_LINE, words));
            continue;
        };
        let rect = view.rect(geom.bounds);
        let vertical = view.is_vertical(geom.dir.0, geom.dir.1);
        if vertical {
            out.vertical.push(out.boxes.len() as u32);
        }
        out.boxes.push(rect);
        if word_count > MAX_PAGE_WORDS {
            continue;
        }
        if geom.words.len() != words {
            out.words.extend(std::iter::repeat_n(WHOLE_LINE, words));
            continue;
        }
        let (lo, hi) = if vertical {
            (rect[1], rect[3])
        } else {
            (rect[0], rect[2])
        };
        let span = hi - lo;
        let fraction = |v: f32| {
            if span > 0.0 {
                (((v - lo) / span).clamp(0.0, 1.0) * f32::from(u16::MAX)).round() as u16
            } else {
                0
            }
        };
        for w in &geom.words {
            let r = view.rect(*w);
            let (a, b) = if vertical { (r[1], r[3]) } else { (r[0], r[2]) };
            out.words.push(if span > 0.0 {
                [fraction(a), fraction(b)]
            } else {
                WHOLE_LINE
            });
        }
    }
    if word_count > MAX_PAGE_WORDS {
        out.words = Vec::new();
    }
    out
}

fn round(v: f32) -> f32 {
    (v * 100.0).round() / 100.0
}

/// A sentence's page and its size as shown (see the module's note on coordinates).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PageSize {
    pub page: u32,
    pub width: f32,
    pub height: f32,
}

/// One line, or the part of a line, a sentence covers: `page` (1-based) and its box there.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SentenceBox {
    pub page: u32,
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
}

#[cfg(test)]
mod tests {
    use super::*;

    const LETTER: [f32; 4] = [0.0, 0.0, 612.0, 792.0];

    #[test]
    fn quarter_turns_move_the_top_left_corner_clockwise() {
        // The user space's top-left corner, after each turn of the page.
        let corner = |rotate| PageView::new(LETTER, None, rotate).point(0.0, 792.0);
        assert_eq!(corner(0), (0.0, 0.0));
        assert_eq!(corner(90), (792.0, 0.0));
        assert_eq!(corner(180), (612.0, 792.0));
        assert_eq!(corner(270), (0.0, 612.0));
        assert_eq!(corner(-90), corner(270));
        assert_eq!(corner(45), corner(0));
        assert_eq!(PageView::new(LETTER, None, 90).size(), (792.0, 612.0));
    }

    #[test]
    fn the_crop_box_is_the_frame_within_the_media_box() {
        let view = PageView::new(LETTER, Some([50.0, 100.0, 700.0, 700.0]), 0);
        assert_eq!(view.size(), (562.0, 600.0));
        assert_eq!(view.point(50.0, 700.0), (0.0, 0.0));
        // An empty crop box is ignored.
        let view = PageView::new(LETTER, Some([300.0, 0.0, 300.0, 792.0]), 0);
        assert_eq!(view.size(), (612.0, 792.0));
    }
}
