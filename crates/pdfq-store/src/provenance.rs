//! Where a sentence is drawn, stored compactly: one short text per sentence.
//!
//! The text is a JSON array of two arrays, the pages' sizes `[page, width, height]` and the
//! boxes `[page, x0, y0, x1, y1]`, numbers only: `[[[1,612.0,792.0]],[[1,72.0,90.5,300.0,102.5]]]`.
//! It travels as a string inside a chunk's JSON, which both dialects keep verbatim, and is
//! copied as it is into `job_sentences.provenance`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::StoreError;

/// A page a sentence is on, and its size as a viewer shows it (points).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PageSize {
    pub page: u32,
    pub width: f32,
    pub height: f32,
}

/// One line, or part of a line, of a sentence: its page and box there (points from the
/// displayed page's top-left corner, y down).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SentenceBox {
    pub page: u32,
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
}

/// The pages (with their sizes) a sentence is on, in order, and the boxes of its lines.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Provenance {
    pub pages: Vec<PageSize>,
    pub boxes: Vec<SentenceBox>,
}

type Compact = (Vec<(u32, f32, f32)>, Vec<(u32, f32, f32, f32, f32)>);

impl Provenance {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.pages.is_empty() && self.boxes.is_empty()
    }

    /// The stored text (see the module's note).
    #[must_use]
    pub fn to_compact(&self) -> String {
        let compact: Compact = (
            self.pages
                .iter()
                .map(|p| (p.page, p.width, p.height))
                .collect(),
            self.boxes
                .iter()
                .map(|b| (b.page, b.x0, b.y0, b.x1, b.y1))
                .collect(),
        );
        serde_json::to_string(&compact).unwrap_or_default()
    }

    /// Reads [`Self::to_compact`]'s text.
    pub fn from_compact(text: &str) -> Result<Self, StoreError> {
        let (pages, boxes): Compact = serde_json::from_str(text).map_err(|e| {
            StoreError::Corrupt(format!(
                "a sentence's stored provenance does not decode: {e}"
            ))
        })?;
        Ok(Provenance {
            pages: pages
                .into_iter()
                .map(|(page, width, height)| PageSize {
                    page,
                    width,
                    height,
                })
                .collect(),
            boxes: boxes
                .into_iter()
                .map(|(page, x0, y0, x1, y1)| SentenceBox {
                    page,
                    x0,
                    y0,
                    x1,
                    y1,
                })
                .collect(),
        })
    }
}

impl Serialize for Provenance {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_compact())
    }
}

impl<'de> Deserialize<'de> for Provenance {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Provenance::from_compact(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compact_text_reads_back() {
        let p = Provenance {
            pages: vec![PageSize {
                page: 3,
                width: 612.0,
                height: 792.0,
            }],
            boxes: vec![SentenceBox {
                page: 3,
                x0: 72.0,
                y0: 90.25,
                x1: 300.5,
                y1: 102.75,
            }],
        };
        let text = p.to_compact();
        assert_eq!(text, "[[[3,612.0,792.0]],[[3,72.0,90.25,300.5,102.75]]]");
        assert_eq!(Provenance::from_compact(&text).unwrap(), p);
        assert!(Provenance::from_compact("[[1]]").is_err());
    }
}
