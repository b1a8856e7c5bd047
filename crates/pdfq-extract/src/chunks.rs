//! Pages grouped into a bounded number of contiguous chunks, for progress and batching.

use serde::{Deserialize, Serialize};

use crate::extract::PageText;

pub const DEFAULT_MAX_CHUNKS: usize = 10;

/// A contiguous range of pages. `index` is 0-based; pages are 1-based and inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    pub index: u32,
    pub count: u32,
    pub first_page: u32,
    pub last_page: u32,
}

impl Chunk {
    /// This chunk's pages out of the document's.
    pub fn pages<'a>(&self, pages: &'a [PageText]) -> &'a [PageText] {
        let start = pages
            .iter()
            .position(|p| p.number >= self.first_page)
            .unwrap_or(pages.len());
        let end = pages
            .iter()
            .position(|p| p.number > self.last_page)
            .unwrap_or(pages.len());
        &pages[start..end.max(start)]
    }
}

/// Splits `pages` into at most `max_chunks` (at least 1) chunks of near-equal page counts.
pub fn chunk_pages(pages: &[PageText], max_chunks: usize) -> Vec<Chunk> {
    let n = pages.len();
    if n == 0 {
        return Vec::new();
    }
    let k = max_chunks.clamp(1, n);
    let (base, extra) = (n / k, n % k);
    let mut out = Vec::with_capacity(k);
    let mut at = 0;
    for i in 0..k {
        let len = base + usize::from(i < extra);
        out.push(Chunk {
            index: i as u32,
            count: k as u32,
            first_page: pages[at].number,
            last_page: pages[at + len - 1].number,
        });
        at += len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pages(n: u32) -> Vec<PageText> {
        (1..=n)
            .map(|number| PageText::new(number, String::new()))
            .collect()
    }

    #[test]
    fn chunks_cover_all_pages_evenly() {
        let p = pages(23);
        let c = chunk_pages(&p, 10);
        assert_eq!(c.len(), 10);
        assert_eq!(c[0].first_page, 1);
        assert_eq!(c[9].last_page, 23);
        for w in c.windows(2) {
            assert_eq!(w[0].last_page + 1, w[1].first_page);
        }
        assert_eq!(c[0].pages(&p).len(), 3);
        assert_eq!(chunk_pages(&pages(3), 10).len(), 3);
        assert!(chunk_pages(&[], 10).is_empty());
    }
}
