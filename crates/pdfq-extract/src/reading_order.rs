//! Line fragments to a page's text in reading order, whatever order they were drawn in.
//!
//! Fragments on one baseline are joined into lines unless a column gutter (whitespace that
//! the neighbouring lines leave open too) separates them; lines stacked at a steady leading,
//! with one font size and overlapping horizontally, form blocks; blocks are ordered by the
//! two rules of Breuel's layout analysis ("High performance document layout analysis", 2003):
//! a block comes before one below it that it overlaps horizontally, and before one entirely
//! to its right (left, on right-to-left pages) unless a block in between spans both, which is
//! what puts titles and wide figures before or between the columns they span. A single-line
//! row set off at the very top or bottom (running heads, footers, page numbers) is kept out of
//! the body's order and printed first or last, so the document-wide furniture pass
//! ([`crate::furniture`]) finds it at the page's edges.

use std::ops::Range;

/// A run of glyphs on one baseline, with its text already in logical order.
#[derive(Debug, Clone)]
pub(crate) struct Fragment {
    pub text: String,
    /// Where its first glyph was drawn (to recognise the same text drawn twice).
    pub origin: (f32, f32),
    pub x0: f32,
    pub x1: f32,
    pub bottom: f32,
    pub top: f32,
    pub baseline: f32,
    pub size: f32,
    /// Its glyphs' boxes, as x0, y0, x1, y1 in user space, whatever the text's direction.
    pub bounds: [f32; 4],
    /// The unit direction its text runs in (user space).
    pub dir: (f32, f32),
    /// Each word's extent in user space (x0, y0, x1, y1 of its glyphs' origins and ends), in
    /// text order; empty when unknown.
    pub words: Vec<[f32; 4]>,
    pub orientation: Orientation,
    pub rtl: bool,
    /// Its earliest place in the structure tree's logical order, when tagged.
    pub rank: Option<u32>,
    /// The structure tree's block (paragraph, cell, aside...) its text belongs to, when the
    /// page's text is tagged: lines of two blocks are never joined, however close.
    pub block: Option<u32>,
    /// Drawn as an /Artifact (page furniture, in a tagged file) only.
    pub artifact: bool,
}

/// Where one line of a page's text was drawn, in user space.
#[derive(Debug, Clone)]
pub(crate) struct LineGeometry {
    pub bounds: [f32; 4],
    pub dir: (f32, f32),
    /// One per whitespace-separated word of the line's text, or empty when unknown.
    pub words: Vec<[f32; 4]>,
}

impl LineGeometry {
    fn of(line: &mut Fragment) -> Option<Self> {
        Some(LineGeometry {
            bounds: line.bounds,
            dir: line.dir,
            words: std::mem::take(&mut line.words),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Orientation {
    Horizontal,
    /// Top to bottom: stacked CJK, or text rotated a quarter turn clockwise.
    Vertical,
    Other,
}

/// Fragments on one baseline closer than this (in ems) are one line whatever their neighbours.
const ALWAYS_JOIN_GAP: f32 = 0.3;
/// Fragments further apart than this (in ems) are never one line.
const NEVER_JOIN_GAP: f32 = 3.0;
/// Without neighbouring lines to judge by, fragments this close (in ems) are one line.
const LONE_JOIN_GAP: f32 = 1.6;
/// Whitespace narrower than this (in ems) is no column gutter.
const MIN_GUTTER: f32 = 0.8;
/// Baselines closer than this (in ems) are one row (superscripts, subscripts included).
const ROW_TOLERANCE: f32 = 0.6;
/// Above this many blocks a page is ordered top to bottom, left to right: the pairwise
/// ordering rules cost a cube of the block count.
const MAX_ORDERED_BLOCKS: usize = 200;

/// A gap wider than this fraction of the font size between joined fragments is a space.
const SPACE_GAP: f32 = 0.12;

/// A page's text, where each of its lines was drawn, and which of them are furniture.
#[derive(Debug, Default)]
pub(crate) struct PageLayout {
    /// Lines separated by `\n`, blocks by a blank line.
    pub text: String,
    /// Where each line of `text` was drawn, one entry per line (none for the blank lines).
    pub geometry: Vec<Option<LineGeometry>>,
    /// Indexes, among `text.lines()`, of lines drawn as artifacts only (ascending).
    pub artifact_lines: Vec<u32>,
    /// Indexes, among `text.lines()`, of a table's rows (ascending).
    pub table_rows: Vec<u32>,
}

/// The page's text: blocks in reading order, lines separated by `\n`, blocks by a blank line;
/// and where each line of it was drawn. With `logical`, the structure tree's order (the
/// fragments' ranks) is followed where it is consistent with the page's blocks
/// ([`crate::logical_order`]); geometry orders the rest.
pub(crate) fn page_text(fragments: Vec<Fragment>, logical: bool) -> PageLayout {
    let lines = join_rows(fragments);
    if lines.is_empty() {
        return PageLayout::default();
    }
    let rtl_lines = lines.iter().filter(|l| l.rtl).count();
    let rtl_page = rtl_lines * 2 > lines.len();
    let vertical = lines
        .iter()
        .filter(|l| l.orientation == Orientation::Vertical)
        .count();
    let horizontal = lines
        .iter()
        .filter(|l| l.orientation == Orientation::Horizontal && l.text.chars().nth(1).is_some())
        .count();
    let mut blocks = form_blocks(lines);
    let order = if vertical > 0 && vertical >= horizontal {
        vertical_order(&blocks)
    } else {
        let (head, body, foot) = edge_bands(&blocks);
        let mut geometric = Vec::with_capacity(blocks.len());
        for band in horizontal_bands(&blocks, &body) {
            geometric.extend(body_order(&blocks, &band, rtl_page));
        }
        keep_paragraphs_whole(&blocks, &mut geometric);
        let tagged = if logical {
            crate::logical_order::order(&blocks, &head, &geometric, &foot)
        } else {
            None
        };
        tagged.unwrap_or_else(|| {
            let mut order = Vec::with_capacity(blocks.len() + 2);
            order.push(Item::Band(head));
            if rtl_page {
                order.extend(geometric.into_iter().map(Item::Block));
            } else {
                order.extend(with_tables(&blocks, &geometric));
            }
            order.push(Item::Band(foot));
            order
        })
    };
    let mut out = Output::default();
    for item in order {
        let start = out.text.len();
        match item {
            Item::Block(b) => {
                for line in &mut blocks[b].lines {
                    out.fragment(line);
                }
            }
            Item::Band(members) => {
                band_text(&blocks, &members, rtl_page, &mut out);
            }
            Item::Rows(members) => {
                for mut row in table_rows(&blocks, &members) {
                    out.table_rows.push(out.lines);
                    out.fragment(&mut row);
                }
            }
            Item::Lines(members) => {
                for &b in &members {
                    for line in &mut blocks[b].lines {
                        out.fragment(line);
                    }
                }
            }
            Item::Run { block, lines } => {
                let run = blocks[block].lines.get_mut(lines).unwrap_or_default();
                for line in run {
                    out.fragment(line);
                }
            }
        }
        if out.text.len() > start {
            out.line("", false, None);
        }
    }
    // No blank line after the last block.
    if out.text.ends_with("\n\n") {
        out.text.pop();
        out.geometry.pop();
    }
    PageLayout {
        text: out.text,
        geometry: out.geometry,
        artifact_lines: out.artifact_lines,
        table_rows: out.table_rows,
    }
}

/// The page's text as it is written, counting its lines and keeping where each was drawn.
#[derive(Default)]
struct Output {
    text: String,
    lines: u32,
    /// One entry per line of `text`.
    geometry: Vec<Option<LineGeometry>>,
    artifact_lines: Vec<u32>,
    table_rows: Vec<u32>,
}

impl Output {
    fn line(&mut self, text: &str, artifact: bool, geometry: Option<LineGeometry>) {
        if artifact {
            self.artifact_lines.push(self.lines);
        }
        self.text.push_str(text);
        self.text.push('\n');
        self.geometry.push(geometry);
        self.lines += 1;
    }

    /// A line of a block, its word extents moved into the geometry.
    fn fragment(&mut self, line: &mut Fragment) {
        let geometry = LineGeometry::of(line);
        self.line(&line.text, line.artifact, geometry);
    }
}

pub(crate) enum Item {
    Block(usize),
    /// Single-line blocks at a page edge, printed as one block, row by row.
    Band(Vec<usize>),
    /// Blocks printed as one, one after the other.
    Lines(Vec<usize>),
    /// A table's columns, left to right, printed row by row.
    Rows(Vec<usize>),
    /// Some consecutive lines of a block, printed as a block.
    Run {
        block: usize,
        lines: Range<usize>,
    },
}

/// Fewest rows side-by-side blocks share to be read as a table.
const MIN_TABLE_ROWS: usize = 3;
/// Share of each column's lines that sit on a row of the column beside it, in a table.
const MIN_SHARED_ROWS: f32 = 0.8;
/// Most words the median line of a table's column holds: a column of running text holds
/// more on each line, however narrow.
const MAX_CELL_WORDS: usize = 4;
/// A column is ragged when its median line is at most this share of its width: cells, not
/// justified or filled lines.
const RAGGED_SHARE: f32 = 0.75;

/// `order` (blocks in reading order) with each run of consecutive columns side by side that
/// share their rows and hold cells (a table's columns) made one [`Item::Rows`], so that a
/// table is read row by row, as its rows are meant: each column alone would be read down, the
/// first column's cells before any of the second's. A column is a block or, where cells are
/// padded apart (a word processor's bordered table), a [`stack`] of one-line blocks.
///
/// Cells are told from columns of running text, which may share a baseline grid too, by
/// their lines: few words each, and ragged in at least one column, or at most two words in
/// every column. A Chinese, Japanese or Korean character counts as a word: those scripts
/// leave no spaces, and their justified columns of running text keep to a baseline grid.
fn with_tables(blocks: &[Block], order: &[usize]) -> Vec<Item> {
    let mut items = Vec::with_capacity(order.len());
    let mut i = 0;
    // Where the last stack tried ends: the other blocks of a stack that is no table's column
    // start no stack of their own (a one-line block alone is never a column: it shares too
    // few rows), so a page of one-line blocks is looked at once, not once a block.
    let mut stacked_to = 0;
    while i < order.len() {
        let found = if i >= stacked_to {
            let first = stack(blocks, order, i);
            stacked_to = first.end;
            table_from(blocks, order, first)
        } else {
            None
        };
        if let Some(end) = found {
            items.push(Item::Rows(order[i..end].to_vec()));
            i = end;
        } else {
            items.push(Item::Block(order[i]));
            i += 1;
        }
    }
    items
}

/// The end, in `order`, of the table whose first column is `first` (a range of `order`):
/// columns follow while each shares its rows with the one before; `None` unless two or more
/// do and they hold cells.
fn table_from(blocks: &[Block], order: &[usize], first: Range<usize>) -> Option<usize> {
    let mut columns = vec![Column::of(blocks, &order[first.clone()])];
    let mut end = first.end;
    while end < order.len() {
        let next = stack(blocks, order, end);
        let column = Column::of(blocks, &order[next.clone()]);
        if !columns
            .last()
            .is_some_and(|left| shares_rows(left, &column))
        {
            break;
        }
        columns.push(column);
        end = next.end;
    }
    (columns.len() >= 2 && holds_cells(&columns)).then_some(end)
}

/// The blocks from `order[start]` that stand one below the other, each a single line
/// overlapping the one above across the page: one column's cells, where a table pads its
/// rows apart so far that each cell is a block of its own. Just `start` when that block has
/// more than one line.
fn stack(blocks: &[Block], order: &[usize], start: usize) -> Range<usize> {
    let mut end = start + 1;
    if blocks[order[start]].lines.len() != 1 {
        return start..end;
    }
    while let Some(&next) = order.get(end) {
        let (above, below) = (&blocks[order[end - 1]], &blocks[next]);
        let single = below.lines.len() == 1;
        let under = below.top <= above.bottom;
        let overlaps = below.x0 < above.x1 && above.x0 < below.x1;
        if !(single && under && overlaps) {
            break;
        }
        end += 1;
    }
    start..end
}

/// A possible column of a table: the lines of one or more blocks, top to bottom, and their
/// horizontal extent.
struct Column<'a> {
    lines: Vec<&'a Fragment>,
    x0: f32,
    x1: f32,
}

impl<'a> Column<'a> {
    fn of(blocks: &'a [Block], members: &[usize]) -> Column<'a> {
        let mut column = Column {
            lines: Vec::new(),
            x0: f32::INFINITY,
            x1: f32::NEG_INFINITY,
        };
        for &b in members {
            column.lines.extend(&blocks[b].lines);
            column.x0 = column.x0.min(blocks[b].x0);
            column.x1 = column.x1.max(blocks[b].x1);
        }
        column
    }
}

/// Whether `right` stands right of `left` with its lines on `left`'s rows: most lines of each
/// on a baseline of the other, at least [`MIN_TABLE_ROWS`] of them.
fn shares_rows(left: &Column<'_>, right: &Column<'_>) -> bool {
    if right.x0 < left.x1 {
        return false;
    }
    // Lines run top to bottom in both: one merge-like walk pairs their baselines.
    let (a, b) = (&left.lines, &right.lines);
    let (mut i, mut j, mut shared) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        if on_one_row(a[i], b[j]) {
            shared += 1;
            i += 1;
            j += 1;
        } else if a[i].baseline > b[j].baseline {
            i += 1;
        } else {
            j += 1;
        }
    }
    let enough = |lines: usize| shared as f32 >= MIN_SHARED_ROWS * lines as f32;
    shared >= MIN_TABLE_ROWS && enough(a.len()) && enough(b.len())
}

/// Whether `columns` hold a table's cells rather than running text.
fn holds_cells(columns: &[Column<'_>]) -> bool {
    let words = |column: &Column<'_>| {
        let mut counts: Vec<usize> = column.lines.iter().map(|l| words_in(&l.text)).collect();
        counts.sort_unstable();
        counts[counts.len() / 2]
    };
    let ragged = |column: &Column<'_>| {
        let mut widths: Vec<f32> = column.lines.iter().map(|l| l.x1 - l.x0).collect();
        widths.sort_by(f32::total_cmp);
        widths[widths.len() / 2] <= RAGGED_SHARE * (column.x1 - column.x0)
    };
    let medians: Vec<usize> = columns.iter().map(words).collect();
    medians.iter().all(|&w| w <= MAX_CELL_WORDS)
        && (columns.iter().any(ragged) || medians.iter().all(|&w| w <= 2))
}

/// The words of `text`: runs between spaces, each CJK character one of its own.
fn words_in(text: &str) -> usize {
    text.split_whitespace()
        .map(|word| {
            let cjk = word.chars().filter(|&c| crate::layout::is_cjk(c)).count();
            let rest = word.split(crate::layout::is_cjk).filter(|r| !r.is_empty());
            cjk + rest.count()
        })
        .sum()
}

/// A table's rows: the lines of its columns `members` grouped by baseline, top to bottom,
/// each row one line of its cells from left to right.
fn table_rows(blocks: &[Block], members: &[usize]) -> Vec<Fragment> {
    let mut cells: Vec<&Fragment> = members.iter().flat_map(|&b| &blocks[b].lines).collect();
    cells.sort_by(|a, b| b.baseline.total_cmp(&a.baseline));
    let mut rows: Vec<Vec<&Fragment>> = Vec::new();
    for cell in cells {
        push_on_row(&mut rows, cell);
    }
    rows.into_iter()
        .map(|mut row| {
            row.sort_by(|a, b| a.x0.total_cmp(&b.x0));
            merge(&row)
        })
        .collect()
}

/// Blocks geometry reads after the first part of a paragraph it split (at a column break)
/// and before the rest are moved after it, when the structure tree says the two parts are one
/// paragraph and the first stops mid-sentence: a floating aside or figure caption at the top
/// of the next column is not read into the middle of a sentence.
fn keep_paragraphs_whole(blocks: &[Block], order: &mut [usize]) {
    /// How far ahead the rest of a paragraph is looked for.
    const MAX_SKIPPED: usize = 8;
    let tree_block = |b: usize, last: bool| {
        let lines = &blocks[b].lines;
        let line = if last { lines.last() } else { lines.first() };
        line.and_then(|l| l.block)
    };
    for i in 0..order.len() {
        let Some(paragraph) = tree_block(order[i], true) else {
            continue;
        };
        let stops_mid_sentence = blocks[order[i]].lines.last().is_some_and(|l| {
            l.text
                .trim_end()
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || matches!(c, ',' | '-' | '\u{2010}'))
        });
        if !stops_mid_sentence {
            continue;
        }
        let end = order.len().min(i + 2 + MAX_SKIPPED);
        let Some(rest) = (i + 2..end).find(|&j| tree_block(order[j], false) == Some(paragraph))
        else {
            continue;
        };
        let between_elsewhere = order[i + 1..rest].iter().all(|&b| {
            blocks[b]
                .lines
                .iter()
                .all(|l| l.block.is_some_and(|t| t != paragraph))
        });
        if between_elsewhere {
            order[i + 1..=rest].rotate_right(1);
        }
    }
}

/// Whether baselines `a` and `b` are one row (superscripts and subscripts included).
fn on_one_row(a: &Fragment, b: &Fragment) -> bool {
    (a.baseline - b.baseline).abs() < ROW_TOLERANCE * a.size.max(b.size).max(0.1)
}

/// Adds `f` to the last of `rows` when it sits on that row, else starts a new row; fragments
/// come top to bottom.
fn push_on_row<F: std::borrow::Borrow<Fragment>>(rows: &mut Vec<Vec<F>>, f: F) {
    match rows.last_mut() {
        Some(row) if on_one_row(row[0].borrow(), f.borrow()) => row.push(f),
        _ => rows.push(vec![f]),
    }
}

/// Joins fragments of one row into lines where no column gutter separates them.
fn join_rows(mut frags: Vec<Fragment>) -> Vec<Fragment> {
    frags.sort_by(|a, b| b.baseline.total_cmp(&a.baseline));
    // Rows: runs of horizontal fragments with nearly the same baseline.
    let mut rows: Vec<Vec<Fragment>> = Vec::new();
    let mut other: Vec<Fragment> = Vec::new();
    for f in frags {
        if f.orientation != Orientation::Horizontal {
            other.push(f);
            continue;
        }
        push_on_row(&mut rows, f);
    }
    for row in &mut rows {
        row.sort_by(|a, b| a.x0.total_cmp(&b.x0));
    }
    let mut lines = Vec::with_capacity(rows.iter().map(Vec::len).sum::<usize>() + other.len());
    for r in 0..rows.len() {
        let mut current: Option<Vec<&Fragment>> = None;
        for k in 0..rows[r].len() {
            let f = &rows[r][k];
            let joins = current
                .as_ref()
                .and_then(|c| c.last())
                .is_some_and(|prev| same_line(prev, f, &rows, r));
            match current.as_mut() {
                Some(c) if joins => c.push(f),
                _ => {
                    if let Some(c) = current.take() {
                        lines.push(merge(&c));
                    }
                    current = Some(vec![f]);
                }
            }
        }
        if let Some(c) = current {
            lines.push(merge(&c));
        }
    }
    lines.extend(other);
    lines
}

/// Whether `b`, right of `a` on row `r`, continues `a`'s line: the gap between them is closed
/// by a neighbouring line (a wide word space) rather than open above and below (a gutter).
fn same_line(a: &Fragment, b: &Fragment, rows: &[Vec<Fragment>], r: usize) -> bool {
    if other_blocks(a, b) {
        return false;
    }
    let size = a.size.max(b.size).max(0.1);
    let gap = b.x0 - a.x1;
    if gap < ALWAYS_JOIN_GAP * size {
        return gap > -ALWAYS_JOIN_GAP * size;
    }
    if gap > NEVER_JOIN_GAP * size {
        return false;
    }
    // The gap narrowed by whatever the neighbouring rows put into it: a gutter stays open.
    let (mut lo, mut hi) = (a.x1, b.x0);
    let near = |row: &Vec<Fragment>| (row[0].baseline - a.baseline).abs() < 2.5 * size;
    let mut neighbours = 0;
    for row in rows[r.saturating_sub(2)..r]
        .iter()
        .chain(rows.iter().skip(r + 1).take(2))
        .filter(|row| near(row))
    {
        neighbours += 1;
        for f in row {
            if f.x0 >= hi || f.x1 <= lo {
                continue;
            }
            if f.x0 - lo > hi - f.x1 {
                hi = f.x0;
            } else {
                lo = f.x1;
            }
        }
    }
    if neighbours > 0 {
        return hi - lo < MIN_GUTTER * size;
    }
    neighbours == 0 && gap < LONE_JOIN_GAP * size
}

/// Whether the structure tree puts `a` and `b` in different blocks.
fn other_blocks(a: &Fragment, b: &Fragment) -> bool {
    matches!((a.block, b.block), (Some(x), Some(y)) if x != y)
}

/// One line out of fragments of a row, in reading order.
fn merge(parts: &[&Fragment]) -> Fragment {
    let mut line = parts[0].clone();
    if parts.len() == 1 {
        return line;
    }
    let rtl = parts.iter().filter(|p| p.rtl).count() * 2 > parts.len();
    // The main baseline is that of the largest type (not a superscript's).
    let main = parts
        .iter()
        .max_by(|a, b| a.size.total_cmp(&b.size))
        .unwrap_or(&parts[0]);
    line.text.clear();
    let ordered: Vec<&&Fragment> = if rtl {
        parts.iter().rev().collect()
    } else {
        parts.iter().collect()
    };
    let mut prev: Option<&Fragment> = None;
    // Word extents follow the text: a part joined without a space continues the last word.
    line.words.clear();
    let mut words_known = !rtl;
    for p in ordered {
        let mut joined = false;
        if let Some(q) = prev {
            let gap = if rtl { q.x0 - p.x1 } else { p.x0 - q.x1 };
            if gap > SPACE_GAP * p.size.max(q.size) {
                line.text.push(' ');
            } else {
                joined = !line.text.ends_with(' ') && !p.text.starts_with(' ');
            }
        }
        line.text.push_str(&p.text);
        words_known &= !p.words.is_empty();
        if words_known {
            let mut words = p.words.as_slice();
            if let (true, Some(last), Some((&first, rest))) =
                (joined, line.words.last_mut(), words.split_first())
            {
                *last = crate::layout::union(*last, first);
                words = rest;
            }
            line.words.extend_from_slice(words);
        }
        prev = Some(p);
    }
    if !words_known || line.text.split_whitespace().count() != line.words.len() {
        line.words.clear();
    }
    for p in parts {
        line.x0 = line.x0.min(p.x0);
        line.x1 = line.x1.max(p.x1);
        line.bottom = line.bottom.min(p.bottom);
        line.top = line.top.max(p.top);
        line.bounds = crate::layout::union(line.bounds, p.bounds);
    }
    line.baseline = main.baseline;
    line.size = main.size;
    line.rtl = rtl;
    line.rank = parts.iter().filter_map(|p| p.rank).min();
    line.block = parts.iter().find_map(|p| p.block);
    line.artifact = parts.iter().all(|p| p.artifact);
    line
}

/// Lines stacked into one block, and the block's box.
pub(crate) struct Block {
    /// Top to bottom.
    pub lines: Vec<Fragment>,
    x0: f32,
    x1: f32,
    pub bottom: f32,
    pub top: f32,
    /// Baseline distance of its first two lines.
    leading: Option<f32>,
}

impl Block {
    fn new(line: Fragment) -> Block {
        Block {
            x0: line.x0,
            x1: line.x1,
            bottom: line.bottom,
            top: line.top,
            leading: None,
            lines: vec![line],
        }
    }

    fn push(&mut self, line: Fragment) {
        if let Some(last) = self.lines.last() {
            self.leading.get_or_insert(last.baseline - line.baseline);
        }
        self.x0 = self.x0.min(line.x0);
        self.x1 = self.x1.max(line.x1);
        self.bottom = self.bottom.min(line.bottom);
        self.top = self.top.max(line.top);
        self.lines.push(line);
    }

    fn mid(&self) -> f32 {
        (self.top + self.bottom) / 2.0
    }
}

fn overlap(a0: f32, a1: f32, b0: f32, b1: f32) -> f32 {
    a1.min(b1) - a0.max(b0)
}

/// Whether `line` may continue the block whose last line is `last`.
fn continues(block: &Block, last: &Fragment, line: &Fragment) -> bool {
    let size = last.size.max(line.size).max(0.1);
    if last.size.max(line.size) > 1.08 * last.size.min(line.size) {
        return false;
    }
    let d = last.baseline - line.baseline;
    let max_d = match block.leading {
        // A gap clearly wider than the block's own leading is a paragraph or section break.
        Some(leading) => 1.25 * leading + 0.05 * size,
        None => 1.7 * size,
    };
    let min_d = block.leading.map_or(0.6 * size, |l| 0.75 * l);
    d >= min_d && d <= max_d && overlap(last.x0, last.x1, line.x0, line.x1) > 0.0
}

/// Groups lines into blocks, top to bottom. A line that could continue two blocks (it spans
/// columns) or whose block could take two lines of one row (it spans them) starts a new one,
/// unless the structure tree puts it in the block of just one of them (a paragraph going on
/// under an aside it was wrapped around). Lines of different tree blocks may still form one
/// block: some producers tag each line as a paragraph of its own.
fn form_blocks(mut lines: Vec<Fragment>) -> Vec<Block> {
    lines.sort_by(|a, b| {
        b.baseline
            .total_cmp(&a.baseline)
            .then(a.x0.total_cmp(&b.x0))
    });
    let mut blocks: Vec<Block> = Vec::new();
    // Blocks still open to a line below, by index.
    let mut open: Vec<usize> = Vec::new();
    let mut k = 0;
    let mut choice: Vec<Option<usize>> = Vec::new();
    while k < lines.len() {
        // One row at a time, so a block claimed by two lines of a row is seen as such.
        let row_base = lines[k].baseline;
        let row_size = lines[k].size.max(0.1);
        let mut end = k + 1;
        while end < lines.len() && row_base - lines[end].baseline < ROW_TOLERANCE * row_size {
            end += 1;
        }
        open.retain(|&b| {
            let last = blocks[b]
                .lines
                .last()
                .map_or(f32::NEG_INFINITY, |l| l.baseline);
            last - row_base < 3.0 * row_size
        });
        choice.clear();
        for line in &lines[k..end] {
            let mut candidates: Vec<usize> = Vec::new();
            if line.orientation == Orientation::Horizontal {
                candidates.extend(open.iter().copied().filter(|&b| {
                    blocks[b].lines.last().is_some_and(|last| {
                        last.orientation == Orientation::Horizontal
                            && continues(&blocks[b], last, line)
                    })
                }));
            }
            if candidates.len() > 1 && line.block.is_some() {
                candidates.retain(|&b| {
                    blocks[b]
                        .lines
                        .last()
                        .is_some_and(|last| last.block == line.block)
                });
            }
            choice.push(match candidates[..] {
                [only] => Some(only),
                _ => None,
            });
        }
        for (offset, line) in lines[k..end].iter().enumerate() {
            let claimed =
                choice[offset].filter(|b| choice.iter().filter(|c| **c == Some(*b)).count() == 1);
            match claimed {
                Some(b) => blocks[b].push(line.clone()),
                None => {
                    blocks.push(Block::new(line.clone()));
                    open.push(blocks.len() - 1);
                }
            }
        }
        k = end;
    }
    blocks
}

/// Single-line blocks set off at the top and bottom of the page: `(head, body, foot)`.
fn edge_bands(blocks: &[Block]) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let all: Vec<usize> = (0..blocks.len()).collect();
    if blocks.len() < 3 {
        return (Vec::new(), all, Vec::new());
    }
    let body_size = body_size(blocks, &all);
    let mut by_top = all.clone();
    by_top.sort_by(|&a, &b| blocks[b].top.total_cmp(&blocks[a].top));
    let head = band(blocks, &by_top, body_size, |b| b.bottom, |b| b.top);
    let mut by_bottom = all.clone();
    by_bottom.sort_by(|&a, &b| blocks[a].bottom.total_cmp(&blocks[b].bottom));
    // Upwards: the band's far edge is its top, the next block's near edge its bottom.
    let foot = band(blocks, &by_bottom, body_size, |b| -b.top, |b| -b.bottom);
    let foot: Vec<usize> = foot.into_iter().filter(|b| !head.contains(b)).collect();
    let body = all
        .into_iter()
        .filter(|b| !head.contains(b) && !foot.contains(b))
        .collect();
    (head, body, foot)
}

/// The leading blocks of `sorted` (from one page edge inwards) that form a band: at most
/// three single-line blocks in at most two rows, set off from the rest by a clear gap.
/// `inner` is a block's edge towards the page's middle, `outer` the one towards the edge
/// (negated for the bottom edge, so that larger is always nearer the edge).
fn band(
    blocks: &[Block],
    sorted: &[usize],
    body_size: f32,
    inner: impl Fn(&Block) -> f32,
    outer: impl Fn(&Block) -> f32,
) -> Vec<usize> {
    const MAX_BAND_BLOCKS: usize = 3;
    let mut members: Vec<usize> = Vec::new();
    let mut band_inner = f32::INFINITY;
    for (n, &b) in sorted.iter().enumerate() {
        let block = &blocks[b];
        if members.is_empty() || outer(block) > band_inner {
            // Overlaps the band's extent: the same row (a page number beside a running head).
            if members.len() == MAX_BAND_BLOCKS || block.lines.len() > 1 {
                return Vec::new();
            }
            members.push(b);
            band_inner = band_inner.min(inner(block));
            continue;
        }
        let gap = band_inner - outer(block);
        // Something must remain below the band, and it must be clearly set off.
        return if gap >= 0.8 * body_size && n < sorted.len() {
            members
        } else {
            Vec::new()
        };
    }
    Vec::new()
}

/// A band's blocks, row by row, each row on one line in reading order.
fn band_text(blocks: &[Block], members: &[usize], rtl: bool, out: &mut Output) {
    let mut items: Vec<&Block> = members.iter().map(|&b| &blocks[b]).collect();
    items.sort_by(|a, b| b.top.total_cmp(&a.top));
    let mut rows: Vec<Vec<&Block>> = Vec::new();
    for block in items {
        match rows.last_mut() {
            Some(row) if overlap(row[0].bottom, row[0].top, block.bottom, block.top) > 0.0 => {
                row.push(block);
            }
            _ => rows.push(vec![block]),
        }
    }
    for mut row in rows {
        row.sort_by(|a, b| {
            let ord = a.x0.total_cmp(&b.x0);
            if rtl { ord.reverse() } else { ord }
        });
        let texts: Vec<&str> = row
            .iter()
            .flat_map(|b| b.lines.iter().map(|l| l.text.as_str()))
            .collect();
        let artifact = row.iter().all(|b| b.lines.iter().all(|l| l.artifact));
        let lines = || row.iter().flat_map(|b| &b.lines);
        let known = lines().all(|l| !l.words.is_empty());
        let geometry = lines()
            .map(|l| (l.bounds, l.dir))
            .reduce(|a, b| (crate::layout::union(a.0, b.0), a.1))
            .map(|(bounds, dir)| LineGeometry {
                bounds,
                dir,
                words: if known {
                    lines().flat_map(|l| l.words.iter().copied()).collect()
                } else {
                    Vec::new()
                },
            });
        out.line(&texts.join(" "), artifact, geometry);
    }
}

/// `members` cut at full-width horizontal gaps, top to bottom, where the column structure
/// changes: a gap is no cut when the blocks on one side leave a gutter open that the blocks
/// on the other side do not cross (the columns run on, one of them perhaps ending). Ordering
/// each band on its own keeps a form's or a table's cells from being read before the text
/// above them, which the pairwise rules alone allow.
fn horizontal_bands(blocks: &[Block], members: &[usize]) -> Vec<Vec<usize>> {
    let mut sorted = members.to_vec();
    sorted.sort_by(|&a, &b| blocks[b].top.total_cmp(&blocks[a].top));
    let size = body_size(blocks, members);
    // Segments between full-width gaps.
    let mut segments: Vec<Vec<usize>> = Vec::new();
    let mut floor = f32::INFINITY;
    for b in sorted {
        let block = &blocks[b];
        match segments.last_mut() {
            Some(seg) if block.top > floor - 0.8 * size => seg.push(b),
            _ => segments.push(vec![b]),
        }
        floor = floor.min(block.bottom);
    }
    let mut bands: Vec<Vec<usize>> = Vec::new();
    for seg in segments {
        match bands.last_mut() {
            Some(above) if columns_run_on(blocks, above, &seg, size) => above.extend(seg),
            _ => bands.push(seg),
        }
    }
    bands
}

fn body_size(blocks: &[Block], members: &[usize]) -> f32 {
    let mut sizes: Vec<f32> = members
        .iter()
        .flat_map(|&b| blocks[b].lines.iter().map(|l| l.size))
        .collect();
    if sizes.is_empty() {
        return 10.0;
    }
    sizes.sort_by(f32::total_cmp);
    sizes[sizes.len() / 2].max(0.1)
}

fn columns_run_on(blocks: &[Block], above: &[usize], below: &[usize], size: f32) -> bool {
    let crosses = |set: &[usize], (lo, hi): (f32, f32)| {
        set.iter().any(|&b| blocks[b].x0 < hi && blocks[b].x1 > lo)
    };
    gutters(blocks, above, size)
        .into_iter()
        .any(|g| !crosses(below, g))
        || gutters(blocks, below, size)
            .into_iter()
            .any(|g| !crosses(above, g))
}

/// Vertical strips free of text between blocks of `set`, at least `MIN_GUTTER` ems wide.
fn gutters(blocks: &[Block], set: &[usize], size: f32) -> Vec<(f32, f32)> {
    let mut spans: Vec<(f32, f32)> = set.iter().map(|&b| (blocks[b].x0, blocks[b].x1)).collect();
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out = Vec::new();
    let mut reach = f32::NEG_INFINITY;
    for (x0, x1) in spans {
        if reach.is_finite() && x0 - reach >= MIN_GUTTER * size {
            out.push((reach, x0));
        }
        reach = reach.max(x1);
    }
    out
}

/// Breuel's partial order on `members`, made total by taking the topmost (then leftmost)
/// block whose predecessors are all placed.
fn body_order(blocks: &[Block], members: &[usize], rtl: bool) -> Vec<usize> {
    let n = members.len();
    let b = |i: usize| &blocks[members[i]];
    // Reading-order key for ties and for pages too busy for the pairwise rules.
    let key = |i: usize, j: usize| {
        let (p, q) = (b(i), b(j));
        q.top.total_cmp(&p.top).then(if rtl {
            q.x1.total_cmp(&p.x1)
        } else {
            p.x0.total_cmp(&q.x0)
        })
    };
    if n > MAX_ORDERED_BLOCKS {
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&i, &j| key(i, j));
        return order.into_iter().map(|i| members[i]).collect();
    }
    const TOL: f32 = 0.5;
    let overlaps = |i: usize, j: usize| {
        let (p, q) = (b(i), b(j));
        overlap(p.x0, p.x1, q.x0, q.x1) > TOL
    };
    // `i` is entirely before `j` along the line direction.
    let before_in_line = |i: usize, j: usize| {
        let (p, q) = (b(i), b(j));
        if rtl {
            p.x0 >= q.x1 - TOL
        } else {
            p.x1 <= q.x0 + TOL
        }
    };
    let mids: Vec<f32> = (0..n).map(|i| b(i).mid()).collect();
    // Blocks sorted by their middle height, to find those lying between two others.
    let mut by_mid: Vec<usize> = (0..n).collect();
    by_mid.sort_by(|&i, &j| mids[j].total_cmp(&mids[i]));
    let mut rank = vec![0usize; n];
    for (r, &i) in by_mid.iter().enumerate() {
        rank[i] = r;
    }
    // The blocks each one overlaps along the line, as a bit set by rank: whether a block lying
    // between two others overlaps both is then a few word operations rather than a scan (the
    // scan made busy pages cubic in their blocks).
    let overlapping = RankSets::of(n, overlaps, &rank);
    let mut succ: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut indegree = vec![0usize; n];
    for i in 0..n {
        for j in 0..n {
            if i == j {
                continue;
            }
            let edge = if overlaps(i, j) {
                mids[i] > mids[j] || (mids[i] == mids[j] && i < j)
            } else if before_in_line(i, j) {
                let (lo, hi) = (rank[i].min(rank[j]), rank[i].max(rank[j]));
                !overlapping.meet_between(i, j, lo + 1, hi)
            } else {
                false
            };
            if edge {
                succ[i].push(j);
                indegree[j] += 1;
            }
        }
    }
    // Every block by reading-order key; a stable sort keeps ties in index order, so the first
    // free block found here is the first minimum a scan over all of them would find.
    let mut by_key: Vec<usize> = (0..n).collect();
    by_key.sort_by(|&i, &j| key(i, j));
    let mut placed = vec![false; n];
    let mut order = Vec::with_capacity(n);
    for _ in 0..n {
        // The first free block in reading-order key; on a cycle, the first unplaced one.
        let pick = by_key
            .iter()
            .copied()
            .find(|&i| !placed[i] && indegree[i] == 0)
            .or_else(|| by_key.iter().copied().find(|&i| !placed[i]));
        let Some(i) = pick else { break };
        placed[i] = true;
        order.push(members[i]);
        for &j in &succ[i] {
            indegree[j] = indegree[j].saturating_sub(1);
        }
    }
    order
}

/// For each of `n` items, the set of items (by rank) it is related to, as bits.
struct RankSets {
    words: usize,
    bits: Vec<u64>,
}

impl RankSets {
    /// The sets of a symmetric relation `related`, each item's partners recorded by `rank`.
    fn of(n: usize, related: impl Fn(usize, usize) -> bool, rank: &[usize]) -> Self {
        let words = n.div_ceil(64);
        let mut sets = Self {
            words,
            bits: vec![0; n * words],
        };
        for i in 0..n {
            for j in i + 1..n {
                if related(i, j) {
                    sets.insert(i, rank[j]);
                    sets.insert(j, rank[i]);
                }
            }
        }
        sets
    }

    fn insert(&mut self, item: usize, rank: usize) {
        self.bits[item * self.words + rank / 64] |= 1 << (rank % 64);
    }

    /// Whether some rank in `from..to` is in the sets of both `i` and `j`.
    fn meet_between(&self, i: usize, j: usize, from: usize, to: usize) -> bool {
        if from >= to {
            return false;
        }
        let (a, b) = (&self.bits[i * self.words..], &self.bits[j * self.words..]);
        (from / 64..=(to - 1) / 64).any(|w| {
            let low = if w == from / 64 { from % 64 } else { 0 };
            let high = if w == (to - 1) / 64 {
                (to - 1) % 64 + 1
            } else {
                64
            };
            let mask = (u64::MAX << low) & (u64::MAX >> (64 - high));
            a[w] & b[w] & mask != 0
        })
    }
}

/// Vertical writing: columns from right to left, each top to bottom; neighbouring columns
/// of one size are one block (the lines of a paragraph).
fn vertical_order(blocks: &[Block]) -> Vec<Item> {
    let mut order: Vec<usize> = (0..blocks.len()).collect();
    order.sort_by(|&i, &j| {
        let (p, q) = (&blocks[i], &blocks[j]);
        q.x1.total_cmp(&p.x1).then(q.top.total_cmp(&p.top))
    });
    let mut items: Vec<Item> = Vec::new();
    let mut group: Vec<usize> = Vec::new();
    for b in order {
        let joins = group.last().is_some_and(|&prev| {
            let (p, q) = (&blocks[prev], &blocks[b]);
            let size = p.lines[0].size.max(q.lines[0].size).max(0.1);
            p.x0 - q.x1 < 1.2 * size && (p.lines[0].size - q.lines[0].size).abs() < 0.1 * size
        });
        if !joins && !group.is_empty() {
            items.push(Item::Lines(std::mem::take(&mut group)));
        }
        group.push(b);
    }
    if !group.is_empty() {
        items.push(Item::Lines(group));
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_sets_find_a_common_partner_between_two_ranks_as_a_scan_does() {
        // A relation over 150 items (three words of bits), ranks a permutation of the items.
        let n = 150;
        let related = |i: usize, j: usize| (i * 7 + j * 7) % 11 < 3 || i.abs_diff(j) == 64;
        let rank: Vec<usize> = (0..n).map(|i| (i * 37) % n).collect();
        let mut by_rank = vec![0; n];
        for (i, &r) in rank.iter().enumerate() {
            by_rank[r] = i;
        }
        let sets = RankSets::of(n, related, &rank);
        for (i, j) in [(0, 1), (3, 140), (64, 128), (10, 11), (149, 0), (77, 5)] {
            for (from, to) in [
                (0, n),
                (1, 63),
                (63, 65),
                (64, 128),
                (5, 5),
                (100, 150),
                (0, 1),
            ] {
                let scanned = by_rank[from..to]
                    .iter()
                    .any(|&c| c != i && c != j && related(c, i) && related(c, j));
                let excluded = [i, j].iter().any(|&x| (from..to).contains(&rank[x]));
                if !excluded {
                    assert_eq!(
                        sets.meet_between(i, j, from, to),
                        scanned,
                        "items {i}, {j}, ranks {from}..{to}"
                    );
                }
            }
        }
    }

    fn line(text: &str, x0: f32, x1: f32, baseline: f32, rtl: bool) -> Fragment {
        Fragment {
            text: text.to_owned(),
            origin: (x0, baseline),
            x0,
            x1,
            bottom: baseline - 2.5,
            top: baseline + 7.5,
            baseline,
            size: 10.0,
            bounds: [x0, baseline - 2.5, x1, baseline + 7.5],
            dir: (1.0, 0.0),
            words: Vec::new(),
            orientation: Orientation::Horizontal,
            rtl,
            rank: None,
            block: None,
            artifact: false,
        }
    }

    #[test]
    fn right_to_left_columns_are_read_right_column_first() {
        // Hebrew: the right column is the first; drawn left column first, row by row.
        let mut frags = Vec::new();
        for row in 0..3 {
            let y = 700.0 - 12.0 * row as f32;
            frags.push(line(&format!("\u{05D1}{row}"), 72.0, 290.0, y, true));
            frags.push(line(&format!("\u{05D0}{row}"), 322.0, 540.0, y, true));
        }
        assert_eq!(
            page_text(frags, false).text,
            "\u{05D0}0\n\u{05D0}1\n\u{05D0}2\n\n\u{05D1}0\n\u{05D1}1\n\u{05D1}2\n"
        );
    }

    #[test]
    fn a_wide_word_space_is_no_gutter_but_an_open_strip_is() {
        // Row 2 has a wide space where rows 1 and 3 have text: one line.
        let frags = vec![
            line("one two three four", 72.0, 290.0, 700.0, false),
            line("five", 72.0, 120.0, 688.0, false),
            line("six", 140.0, 290.0, 688.0, false),
            line("seven eight nine", 72.0, 290.0, 676.0, false),
        ];
        assert_eq!(
            page_text(frags, false).text,
            "one two three four\nfive six\nseven eight nine\n"
        );
    }
}
