//! A tagged page's blocks in the structure tree's logical order.
//!
//! Lines and blocks still come from geometry; the tree only orders them. Each line has the
//! earliest rank, in the page's logical order, of the marked content it shows; lines are read
//! by rank, so a block whose lines the tree puts apart is split, and text the tree does not name
//! follows what geometry reads before it. Artifacts (running heads, footers, page numbers) are
//! printed at the page's edges, where the furniture pass looks for them. A tree that reads the
//! lines of blocks upwards more than now and then does not describe the page: `None`, and the
//! page is ordered by geometry.

use crate::reading_order::{Block, Item};

/// Share of consecutive ranked lines of a block the tree may read upwards and still be followed.
const MAX_UPWARD_SHARE: f32 = 0.2;

/// The reading order of `blocks`: `head`, `body` (in geometric order) and `foot` as
/// [`crate::reading_order`] found them. `None` when the tree should not be followed.
pub(crate) fn order(
    blocks: &[Block],
    head: &[usize],
    body: &[usize],
    foot: &[usize],
) -> Option<Vec<Item>> {
    let (mut pairs, mut upward) = (0u32, 0u32);
    for block in blocks {
        for pair in block.lines.windows(2) {
            if let (Some(above), Some(below)) = (pair[0].rank, pair[1].rank) {
                pairs += 1;
                upward += u32::from(below < above);
            }
        }
    }
    if upward as f32 > MAX_UPWARD_SHARE * pairs as f32 {
        return None;
    }
    let ranked = |b: usize| {
        blocks[b]
            .lines
            .iter()
            .any(|l| l.rank.is_some() && !l.artifact)
    };
    let artifact = |b: usize| blocks[b].lines.iter().all(|l| l.artifact);
    if !body.iter().any(|&b| ranked(b)) {
        return None;
    }
    let (top, bottom) = blocks
        .iter()
        .fold((f32::NEG_INFINITY, f32::INFINITY), |(t, b), block| {
            (t.max(block.top), b.min(block.bottom))
        });
    let middle = (top + bottom) / 2.0;
    // Edge blocks the tree names are read where it puts them; artifacts go to the edges.
    let mut head_band: Vec<usize> = head.iter().copied().filter(|&b| !ranked(b)).collect();
    let mut foot_band: Vec<usize> = foot.iter().copied().filter(|&b| !ranked(b)).collect();
    let mut reading: Vec<usize> = head.iter().copied().filter(|&b| ranked(b)).collect();
    for &b in body {
        if artifact(b) {
            if (blocks[b].top + blocks[b].bottom) / 2.0 >= middle {
                head_band.push(b);
            } else {
                foot_band.push(b);
            }
        } else {
            reading.push(b);
        }
    }
    reading.extend(foot.iter().copied().filter(|&b| ranked(b)));

    // (rank, phase, geometric position, line): phase 0 is untagged text before any tagged
    // text, 1 tagged text, 2 untagged text after the tagged text geometry reads before it.
    let mut keys: Vec<(u32, u8, usize, usize)> = Vec::new();
    let mut last_rank: Option<u32> = None;
    for (position, &b) in reading.iter().enumerate() {
        let lines = &blocks[b].lines;
        let own: Vec<Option<u32>> = lines
            .iter()
            .map(|l| l.rank.filter(|_| !l.artifact))
            .collect();
        let Some(first) = own.iter().flatten().next().copied() else {
            let (rank, phase) = last_rank.map_or((0, 0), |r| (r, 2));
            keys.extend((0..lines.len()).map(|line| (rank, phase, position, line)));
            continue;
        };
        // Untagged lines of a tagged block read with the tagged line above them.
        let mut current = first;
        for (line, rank) in own.iter().enumerate() {
            current = rank.unwrap_or(current);
            keys.push((current, 1, position, line));
        }
        let max = own.iter().flatten().copied().max().unwrap_or(first);
        last_rank = Some(last_rank.map_or(max, |r| r.max(max)));
    }
    keys.sort_unstable();

    let mut items = Vec::with_capacity(keys.len() + 2);
    items.push(Item::Band(head_band));
    let mut run: Option<(usize, usize, usize)> = None;
    for &(_, _, position, line) in &keys {
        let block = reading[position];
        match run.as_mut() {
            Some((b, _, end)) if *b == block && *end == line => *end += 1,
            _ => {
                if let Some((b, start, end)) = run.take() {
                    items.push(Item::Run {
                        block: b,
                        lines: start..end,
                    });
                }
                run = Some((block, line, line + 1));
            }
        }
    }
    if let Some((b, start, end)) = run {
        items.push(Item::Run {
            block: b,
            lines: start..end,
        });
    }
    items.push(Item::Band(foot_band));
    Some(items)
}
