//! The structure tree of a tagged PDF, reduced to what reading order needs: for each page, its
//! marked-content ids (MCIDs) in logical order, each with the block it belongs to (its nearest
//! element that is not inline-level: a paragraph, heading, list item, table cell, aside...),
//! so that text of two blocks drawn side by side is not joined into one line.
//!
//! The loader drops structure elements as it parses them (a tree holds an object per paragraph,
//! span and link, and lopdf keeps each as a dictionary of several hundred bytes); the filter
//! records each instead, while the file is parsed, as a few words: its page and its kids. The
//! record has a budget of nodes: past it the tree is incomplete, and every page is ordered by
//! geometry, as an untagged file is. After loading, the tree is walked once in document order
//! (iteratively, with a visited set and a depth bound) into each page's sequence of MCIDs.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use lopdf::{Dictionary, Document, Object, ObjectId};

/// Nodes and kids recorded for one document at most: 30 to 40 bytes each, so about 10 MiB at
/// most, with the walk's per-page sequences. A 1,000-page tagged report has some tens of
/// thousands.
pub(crate) const MAX_RECORDED: usize = 250_000;
/// Deeper trees are broken or hostile (real ones: under 20 levels).
const MAX_DEPTH: usize = 256;

/// Where one kid of a structure node leads.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kid {
    /// A structure element, or a marked-content reference kept as an object of its own.
    Node(ObjectId),
    /// Marked content: its id, the page it is on (`None`: the element's) and the content
    /// stream it is in when not the page's own (a Form XObject's).
    Content {
        mcid: u32,
        page: Option<ObjectId>,
        stream: Option<ObjectId>,
    },
}

#[derive(Debug, Clone, Copy)]
struct Node {
    page: Option<ObjectId>,
    /// Range of `StructureRecord::kids`.
    kids: (u32, u32),
    /// Its structure type (/S), an index into `StructureRecord::types`, if it has one.
    kind: Option<u16>,
}

/// Standard structure types that are inline-level (PDF 32000-1, 14.8.4.4; PDF 2.0 adds Em,
/// Strong, Sub, FENote), with a list item's label and body (Lbl, LBody), set on one line: text
/// of these belongs to the block around it. Formula and Figure may be either; they are taken as
/// inline, so that an equation in a sentence stays in its line.
const INLINE_TYPES: &[&[u8]] = &[
    b"Span",
    b"Quote",
    b"Note",
    b"Reference",
    b"BibEntry",
    b"Code",
    b"Link",
    b"Annot",
    b"Ruby",
    b"RB",
    b"RT",
    b"RP",
    b"Warichu",
    b"WT",
    b"WP",
    b"Em",
    b"Strong",
    b"Sub",
    b"FENote",
    b"Lbl",
    b"LBody",
    b"Formula",
    b"Figure",
];
/// Role maps chained longer than this are broken (a cycle).
const MAX_ROLE_STEPS: usize = 8;
/// Distinct structure type names recorded at most (real files use some dozens).
const MAX_TYPES: usize = 1024;

/// Structure nodes recorded while a file is parsed.
#[derive(Debug, Default)]
pub(crate) struct StructureRecord {
    nodes: HashMap<ObjectId, Node>,
    kids: Vec<Kid>,
    /// Ids given to structure elements written inline in another's /K (no object id of theirs).
    next_inline: u32,
    /// Structure type names seen, indexed by `Node::kind`.
    types: Vec<Vec<u8>>,
    /// The root's /RoleMap when written in it: a producer's type name to a standard one's (or
    /// to another mapped name).
    role_map: HashMap<Vec<u8>, Vec<u8>>,
    /// The root's /RoleMap when it is an object of its own (read from the document later).
    role_map_ref: Option<ObjectId>,
    /// More nodes than [`MAX_RECORDED`]: the tree is incomplete.
    pub overflowed: bool,
}

thread_local! {
    /// The record of the parse running on this thread: lopdf's filter is a plain function.
    static RECORDING: RefCell<Option<StructureRecord>> = const { RefCell::new(None) };
}

/// Starts recording on this thread (the one that parses).
pub(crate) fn start_recording() {
    RECORDING.with(|r| *r.borrow_mut() = Some(StructureRecord::default()));
}

/// Ends recording on this thread and returns what was recorded.
pub(crate) fn finish_recording() -> StructureRecord {
    RECORDING
        .with(|r| r.borrow_mut().take())
        .unwrap_or_default()
}

/// Called by the loader's filter for each structure dictionary it drops: the root, elements,
/// marked-content references (object references, /OBJR, lead to annotations, not text).
pub(crate) fn record(id: ObjectId, dict: &Dictionary) {
    RECORDING.with(|r| {
        if let Some(record) = r.borrow_mut().as_mut() {
            record.add(id, dict, 0);
        }
    });
}

impl StructureRecord {
    /// Whether `pending` more kids would go over the budget (which then marks the record).
    fn full(&mut self, pending: usize) -> bool {
        if self.nodes.len() + self.kids.len() + pending >= MAX_RECORDED {
            self.overflowed = true;
        }
        self.overflowed
    }

    fn add(&mut self, id: ObjectId, dict: &Dictionary, inline_depth: usize) {
        if dict.has_type(b"OBJR") || self.full(0) {
            return;
        }
        let page = dict.get(b"Pg").and_then(Object::as_reference).ok();
        // Gathered apart, so that inline elements' own kids do not land in this range.
        let mut kids: Vec<Kid> = Vec::new();
        if let Some(mcid) = mcid_of(dict) {
            // A marked-content reference kept as an object of its own.
            kids.push(Kid::Content {
                mcid,
                page,
                stream: dict.get(b"Stm").and_then(Object::as_reference).ok(),
            });
        } else if let Ok(k) = dict.get(b"K") {
            match k {
                Object::Array(items) => {
                    for item in items {
                        if self.full(kids.len()) {
                            return;
                        }
                        self.add_kid(item, inline_depth, &mut kids);
                    }
                }
                single => self.add_kid(single, inline_depth, &mut kids),
            }
        }
        let start = self.kids.len() as u32;
        self.kids.extend(kids);
        let end = self.kids.len() as u32;
        match dict.get(b"RoleMap") {
            Ok(Object::Dictionary(map)) => self.role_map.extend(names_of(map).take(MAX_TYPES)),
            Ok(Object::Reference(map)) => self.role_map_ref = Some(*map),
            _ => {}
        }
        let kind = dict
            .get(b"S")
            .and_then(Object::as_name)
            .ok()
            .and_then(|name| self.type_index(name));
        self.nodes.insert(
            id,
            Node {
                page,
                kids: (start, end),
                kind,
            },
        );
    }

    fn type_index(&mut self, name: &[u8]) -> Option<u16> {
        if let Some(i) = self.types.iter().position(|t| t == name) {
            return u16::try_from(i).ok();
        }
        if self.types.len() >= MAX_TYPES {
            return None;
        }
        self.types.push(name.to_vec());
        u16::try_from(self.types.len() - 1).ok()
    }

    /// Whether elements of type `kind` are inline-level, after the role map. An element
    /// without a type, or of an unknown one, is a block.
    fn is_inline(&self, kind: Option<u16>) -> bool {
        let Some(mut name) = kind.and_then(|k| self.types.get(usize::from(k))) else {
            return false;
        };
        for _ in 0..MAX_ROLE_STEPS {
            if INLINE_TYPES.contains(&name.as_slice()) {
                return true;
            }
            match self.role_map.get(name) {
                Some(mapped) if mapped != name => name = mapped,
                _ => return false,
            }
        }
        false
    }

    fn add_kid(&mut self, kid: &Object, inline_depth: usize, kids: &mut Vec<Kid>) {
        match kid {
            Object::Integer(mcid) => {
                if let Ok(mcid) = u32::try_from(*mcid) {
                    kids.push(Kid::Content {
                        mcid,
                        page: None,
                        stream: None,
                    });
                }
            }
            Object::Reference(id) => kids.push(Kid::Node(*id)),
            Object::Dictionary(d) if inline_depth < MAX_DEPTH => {
                if let Some(mcid) = mcid_of(d) {
                    kids.push(Kid::Content {
                        mcid,
                        page: d.get(b"Pg").and_then(Object::as_reference).ok(),
                        stream: d.get(b"Stm").and_then(Object::as_reference).ok(),
                    });
                } else if !d.has_type(b"OBJR") && !d.has(b"Obj") {
                    // An element written inline: recorded under an id no object has
                    // (generation 65535 is never in use: PDF 32000-1, 7.5.4).
                    self.next_inline = self.next_inline.wrapping_add(1);
                    let id = (self.next_inline, u16::MAX);
                    self.add(id, d, inline_depth + 1);
                    kids.push(Kid::Node(id));
                }
            }
            _ => {}
        }
    }
}

/// A role map's pairs of names.
fn names_of(map: &Dictionary) -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> + '_ {
    map.iter().filter_map(|(from, to)| {
        let to = to.as_name().ok()?;
        Some((from.clone(), to.to_vec()))
    })
}

fn mcid_of(dict: &Dictionary) -> Option<u32> {
    match dict.get(b"MCID").ok()? {
        Object::Integer(n) => u32::try_from(*n).ok(),
        _ => None,
    }
}

/// Marked content: the content stream it is in (`None` for the page's own) and its MCID.
type Marked = (Option<ObjectId>, u32);

/// Each page's marked content in logical order, each with its block (see the module comment).
#[derive(Debug, Default)]
pub(crate) struct LogicalOrder {
    pages: HashMap<ObjectId, Vec<(Marked, u32)>>,
}

/// A page's marked content ranked in logical order, each with its block.
#[derive(Debug)]
pub(crate) struct PageOrder {
    ranks: HashMap<Marked, (u32, u32)>,
}

impl PageOrder {
    pub fn rank(&self, stream: Option<ObjectId>, mcid: u32) -> Option<u32> {
        self.ranks.get(&(stream, mcid)).map(|&(rank, _)| rank)
    }

    /// The block the marked content belongs to: equal for content of one block, whatever its
    /// inline elements, and different for two blocks.
    pub fn block(&self, stream: Option<ObjectId>, mcid: u32) -> Option<u32> {
        self.ranks.get(&(stream, mcid)).map(|&(_, block)| block)
    }
}

impl LogicalOrder {
    /// The order of `page`'s marked content; `None` when the tree names none of it, or names
    /// some of it twice (a tree that does not describe the page).
    pub fn page(&self, page: ObjectId) -> Option<PageOrder> {
        let sequence = self.pages.get(&page)?;
        let mut ranks = HashMap::with_capacity(sequence.len());
        for (rank, (key, block)) in sequence.iter().enumerate() {
            if ranks.insert(*key, (rank as u32, *block)).is_some() {
                return None;
            }
        }
        Some(PageOrder { ranks })
    }
}

/// Walks the tree from the catalog's /StructTreeRoot. `None`: no tree, or one that cannot be
/// trusted as a whole (incomplete, cyclic, too deep): every page is then ordered by geometry.
pub(crate) fn logical_order(doc: &Document, mut record: StructureRecord) -> Option<LogicalOrder> {
    if record.overflowed {
        return None;
    }
    let root = doc.catalog().ok()?.get(b"StructTreeRoot").ok()?;
    let root_id = match root {
        Object::Reference(id) => *id,
        Object::Dictionary(d) => {
            let id = (0, u16::MAX);
            record.add(id, d, 0);
            id
        }
        _ => return None,
    };
    if record.overflowed {
        return None;
    }
    if let Some(map) = record
        .role_map_ref
        .and_then(|id| doc.get_dictionary(id).ok())
    {
        record.role_map.extend(names_of(map).take(MAX_TYPES));
    }
    let mut order = LogicalOrder::default();
    let mut visited: HashSet<ObjectId> = HashSet::new();
    // Each entry: the kid, the page it inherits, its depth, and the block it is in.
    let mut stack: Vec<(Kid, Option<ObjectId>, usize, u32)> =
        vec![(Kid::Node(root_id), None, 0, 0)];
    let mut blocks = 0u32;
    let mut placed = 0usize;
    while let Some((kid, inherited_page, depth, block)) = stack.pop() {
        match kid {
            Kid::Node(id) => {
                // A node reached twice is a cycle or a shared subtree: the tree is broken.
                if depth > MAX_DEPTH || !visited.insert(id) {
                    return None;
                }
                let Some(node) = record.nodes.get(&id).copied() else {
                    // A marked-content reference without /Type is not dropped at load.
                    if let Some(mcid) = doc.get_dictionary(id).ok().and_then(mcid_of) {
                        let dict = doc.get_dictionary(id).ok();
                        let reference = |key: &[u8]| {
                            dict.and_then(|d| d.get(key).and_then(Object::as_reference).ok())
                        };
                        stack.push((
                            Kid::Content {
                                mcid,
                                page: reference(b"Pg"),
                                stream: reference(b"Stm"),
                            },
                            inherited_page,
                            depth + 1,
                            block,
                        ));
                    }
                    // Otherwise missing from the file: its content stays unranked, which the
                    // page's check of tagged text sees.
                    continue;
                };
                let page = node.page.or(inherited_page);
                let block = if record.is_inline(node.kind) {
                    block
                } else {
                    blocks += 1;
                    blocks
                };
                let (start, end) = node.kids;
                let kids = record
                    .kids
                    .get(start as usize..end as usize)
                    .unwrap_or_default();
                stack.extend(kids.iter().rev().map(|k| (*k, page, depth + 1, block)));
            }
            Kid::Content { mcid, page, stream } => {
                let Some(page) = page.or(inherited_page) else {
                    continue;
                };
                placed += 1;
                if placed > MAX_RECORDED {
                    return None;
                }
                order
                    .pages
                    .entry(page)
                    .or_default()
                    .push(((stream, mcid), block));
            }
        }
    }
    (!order.pages.is_empty()).then_some(order)
}

/// Whether the document says it is tagged, so that its /Artifact marks can be trusted as page
/// furniture.
pub(crate) fn is_marked(doc: &Document) -> bool {
    let Ok(catalog) = doc.catalog() else {
        return false;
    };
    let marked = catalog
        .get(b"MarkInfo")
        .ok()
        .and_then(|o| crate::pagetree::resolve_dict(doc, Some(o)))
        .and_then(|info| info.get(b"Marked").ok())
        .is_some_and(|m| matches!(m, Object::Boolean(true)));
    marked || catalog.has(b"StructTreeRoot")
}

#[cfg(test)]
mod tests {
    use lopdf::dictionary;

    use super::*;

    fn recorded(objects: &[(ObjectId, Dictionary)]) -> StructureRecord {
        start_recording();
        for (id, d) in objects {
            record(*id, d);
        }
        finish_recording()
    }

    fn doc_with_root(root: ObjectId) -> Document {
        let mut doc = Document::with_version("1.7");
        let catalog = doc.add_object(dictionary! {
            "Type" => "Catalog",
            "StructTreeRoot" => Object::Reference(root),
        });
        doc.trailer.set("Root", Object::Reference(catalog));
        doc
    }

    #[test]
    fn the_tree_is_walked_in_document_order_per_page() {
        let page: ObjectId = (50, 0);
        let form: ObjectId = (60, 0);
        let objects = vec![
            (
                (10, 0),
                dictionary! { "Type" => "StructTreeRoot", "K" => Object::Reference((11, 0)) },
            ),
            (
                (11, 0),
                dictionary! { "Type" => "StructElem", "S" => "Document", "P" => Object::Reference((10, 0)),
                "K" => vec![Object::Reference((13, 0)), Object::Reference((12, 0))] },
            ),
            (
                (12, 0),
                dictionary! { "Type" => "StructElem", "S" => "P", "P" => Object::Reference((11, 0)), "Pg" => Object::Reference(page),
                "K" => vec![2.into(), dictionary! { "Type" => "MCR", "MCID" => 0, "Stm" => Object::Reference(form) }.into()] },
            ),
            (
                (13, 0),
                dictionary! { "S" => "H1", "P" => Object::Reference((11, 0)), "Pg" => Object::Reference(page), "K" => 5 },
            ),
        ];
        let order = logical_order(&doc_with_root((10, 0)), recorded(&objects)).unwrap();
        let ranks = order.page(page).unwrap();
        assert_eq!(ranks.rank(None, 5), Some(0));
        assert_eq!(ranks.rank(None, 2), Some(1));
        assert_eq!(ranks.rank(Some(form), 0), Some(2));
        assert_eq!(ranks.rank(None, 0), None);
    }

    #[test]
    fn cycles_and_duplicates_are_refused() {
        let page: ObjectId = (50, 0);
        let cyclic = vec![
            (
                (10, 0),
                dictionary! { "Type" => "StructTreeRoot", "K" => Object::Reference((11, 0)) },
            ),
            (
                (11, 0),
                dictionary! { "Type" => "StructElem", "S" => "P", "P" => Object::Reference((10, 0)), "Pg" => Object::Reference(page),
                "K" => vec![0.into(), Object::Reference((11, 0))] },
            ),
        ];
        assert!(logical_order(&doc_with_root((10, 0)), recorded(&cyclic)).is_none());

        let twice = vec![
            (
                (10, 0),
                dictionary! { "Type" => "StructTreeRoot", "K" => Object::Reference((11, 0)) },
            ),
            (
                (11, 0),
                dictionary! { "Type" => "StructElem", "S" => "P", "P" => Object::Reference((10, 0)), "Pg" => Object::Reference(page),
                "K" => vec![0.into(), 1.into(), 0.into()] },
            ),
        ];
        let order = logical_order(&doc_with_root((10, 0)), recorded(&twice)).unwrap();
        assert!(order.page(page).is_none());
    }

    #[test]
    fn a_deep_chain_is_refused_and_the_record_is_bounded() {
        let page: ObjectId = (1, 0);
        let mut objects = vec![(
            (10, 0),
            dictionary! { "Type" => "StructTreeRoot", "K" => Object::Reference((100, 0)) },
        )];
        for i in 0..1000u32 {
            objects.push((
                (100 + i, 0),
                dictionary! { "Type" => "StructElem", "S" => "Div", "P" => Object::Reference((10, 0)), "Pg" => Object::Reference(page),
                "K" => vec![Object::Reference((101 + i, 0)), 0.into()] },
            ));
        }
        assert!(logical_order(&doc_with_root((10, 0)), recorded(&objects)).is_none());

        start_recording();
        let elem = dictionary! { "Type" => "StructElem", "S" => "P", "P" => Object::Reference((10, 0)), "K" => vec![0.into(); 100] };
        for i in 0..10_000u32 {
            record((i + 1, 0), &elem);
        }
        let record = finish_recording();
        assert!(record.overflowed);
        assert!(record.nodes.len() + record.kids.len() <= MAX_RECORDED);
    }

    #[test]
    fn marked_content_is_grouped_by_its_nearest_block_after_the_role_map() {
        let page: ObjectId = (50, 0);
        let elem = |s: &str, k: Vec<Object>| {
            dictionary! { "Type" => "StructElem", "S" => s, "P" => Object::Reference((10, 0)), "Pg" => Object::Reference(page), "K" => k }
        };
        let objects = vec![
            (
                (10, 0),
                dictionary! { "Type" => "StructTreeRoot",
                "K" => vec![Object::Reference((11, 0)), Object::Reference((14, 0)), Object::Reference((16, 0))],
                // A producer's names: its paragraph style is a P, its emphasis a Span.
                "RoleMap" => dictionary! { "Standard" => "P", "Emphasis" => "Span", "Loud" => "Emphasis" } },
            ),
            // A paragraph with inline elements, mapped and chained through the role map.
            (
                (11, 0),
                elem(
                    "Standard",
                    vec![
                        0.into(),
                        Object::Reference((12, 0)),
                        Object::Reference((13, 0)),
                    ],
                ),
            ),
            ((12, 0), elem("Loud", vec![1.into()])),
            ((13, 0), elem("Link", vec![2.into()])),
            // An aside: a block of its own, whose text is another block.
            ((14, 0), elem("Div", vec![Object::Reference((15, 0))])),
            ((15, 0), elem("Standard", vec![3.into()])),
            // A list item: its label is set on its body's line.
            (
                (16, 0),
                elem(
                    "LI",
                    vec![Object::Reference((17, 0)), Object::Reference((18, 0))],
                ),
            ),
            ((17, 0), elem("Lbl", vec![4.into()])),
            ((18, 0), elem("LBody", vec![5.into()])),
        ];
        let order = logical_order(&doc_with_root((10, 0)), recorded(&objects)).unwrap();
        let page = order.page(page).unwrap();
        let block = |mcid| page.block(None, mcid).unwrap();
        assert_eq!(block(0), block(1));
        assert_eq!(block(0), block(2));
        assert_ne!(block(0), block(3));
        assert_eq!(
            block(4),
            block(5),
            "a list item's label and body are one block"
        );
        assert_ne!(block(3), block(4));
    }
}
