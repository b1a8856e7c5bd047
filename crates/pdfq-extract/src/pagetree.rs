//! Walks the page tree with a visited set and a depth bound; never trusts /Count.

use std::collections::HashSet;

use lopdf::{Dictionary, Document, Object, ObjectId};

use crate::error::{ExtractError, SizeLimit};
use crate::limits::Limits;

/// One page with its inherited attributes resolved.
#[derive(Debug, Clone)]
pub(crate) struct PageNode<'a> {
    /// The page object's id (the structure tree names pages by it).
    pub id: ObjectId,
    pub dict: &'a Dictionary,
    pub resources: Option<&'a Dictionary>,
    /// The media box as x0, y0, x1, y1. Text outside it is dropped; pdftotext also keeps
    /// text outside the crop box by default, so it is not used.
    pub bbox: [f32; 4],
    /// The region a viewer shows (the crop box within the media box) and its /Rotate: where
    /// sentence boxes are measured from.
    pub view: crate::geometry::PageView,
}

#[derive(Clone, Copy)]
struct Inherited<'a> {
    resources: Option<&'a Dictionary>,
    media: Option<[f32; 4]>,
    crop: Option<[f32; 4]>,
    rotate: Option<i64>,
}

impl Inherited<'_> {
    const NONE: Self = Inherited {
        resources: None,
        media: None,
        crop: None,
        rotate: None,
    };
}

/// The pages found, and how many nodes of the tree are referenced but missing from the file
/// (a truncated file whose cross-reference survived): their pages are lost.
#[derive(Debug)]
pub(crate) struct PageTree<'a> {
    pub pages: Vec<PageNode<'a>>,
    pub missing_nodes: u32,
}

/// The pages of `doc`'s page tree, in order. With `unlisted`, or when the tree lists none, page
/// objects the tree does not reach follow, in object order: a truncated file's tree can be a
/// stale one that lists few of them.
pub(crate) fn pages<'a>(
    doc: &'a Document,
    limits: &Limits,
    unlisted: bool,
) -> Result<PageTree<'a>, ExtractError> {
    let mut out = Vec::new();
    let mut missing_nodes = 0;
    let mut visited = HashSet::new();
    let root = doc
        .catalog()
        .ok()
        .and_then(|c| c.get(b"Pages").ok())
        .and_then(|o| o.as_reference().ok());
    if let Some(root) = root {
        let inherited = Inherited::NONE;
        let mut state = Walk {
            visited: &mut visited,
            out: &mut out,
            missing_nodes: &mut missing_nodes,
            limits,
        };
        walk(doc, root, inherited, 0, &mut state)?;
    }
    if out.is_empty() || unlisted {
        // A broken or stale tree: every /Type /Page object it did not reach, in object order.
        for (&id, obj) in &doc.objects {
            let Ok(dict) = obj.as_dict() else { continue };
            if dict.has_type(b"Page") && !visited.contains(&id) {
                push_page(doc, id, dict, Inherited::NONE, &mut out, limits)?;
            }
        }
    }
    Ok(PageTree {
        pages: out,
        missing_nodes,
    })
}

/// One walk of the tree: what it has seen and found so far.
struct Walk<'w, 'a> {
    visited: &'w mut HashSet<ObjectId>,
    out: &'w mut Vec<PageNode<'a>>,
    missing_nodes: &'w mut u32,
    limits: &'w Limits,
}

fn walk<'a>(
    doc: &'a Document,
    id: ObjectId,
    inherited: Inherited<'a>,
    depth: u32,
    w: &mut Walk<'_, 'a>,
) -> Result<(), ExtractError> {
    // A node seen twice is a cycle or a shared subtree; either way it is not walked again.
    if depth > w.limits.max_recursion_depth || !w.visited.insert(id) {
        return Ok(());
    }
    let Ok(dict) = doc.get_dictionary(id) else {
        if doc.get_object(id).is_err() {
            *w.missing_nodes += 1;
        }
        return Ok(());
    };
    let inherited = Inherited {
        resources: resolve_dict(doc, dict.get(b"Resources").ok()).or(inherited.resources),
        media: rect(doc, dict.get(b"MediaBox").ok()).or(inherited.media),
        crop: rect(doc, dict.get(b"CropBox").ok()).or(inherited.crop),
        rotate: rotation(doc, dict).or(inherited.rotate),
    };
    let kids = dict
        .get(b"Kids")
        .ok()
        .and_then(|k| deref(doc, k))
        .and_then(|k| k.as_array().ok());
    let is_page = dict.get(b"Type").and_then(Object::as_name).ok() == Some(b"Page".as_slice());
    match kids {
        Some(kids) if !is_page => {
            for kid in kids {
                if let Ok(kid_id) = kid.as_reference() {
                    walk(doc, kid_id, inherited, depth + 1, w)?;
                }
            }
            Ok(())
        }
        _ => push_page(doc, id, dict, inherited, w.out, w.limits),
    }
}

fn push_page<'a>(
    doc: &'a Document,
    id: ObjectId,
    dict: &'a Dictionary,
    inherited: Inherited<'a>,
    out: &mut Vec<PageNode<'a>>,
    limits: &Limits,
) -> Result<(), ExtractError> {
    if out.len() as u64 >= u64::from(limits.max_pages) {
        return Err(ExtractError::TooLarge {
            limit: SizeLimit::Pages,
            actual: out.len() as u64 + 1,
            max: u64::from(limits.max_pages),
        });
    }
    let resources = resolve_dict(doc, dict.get(b"Resources").ok()).or(inherited.resources);
    let media = rect(doc, dict.get(b"MediaBox").ok())
        .or(inherited.media)
        .unwrap_or([0.0, 0.0, 612.0, 792.0]);
    let crop = rect(doc, dict.get(b"CropBox").ok()).or(inherited.crop);
    let rotate = rotation(doc, dict).or(inherited.rotate).unwrap_or(0);
    out.push(PageNode {
        id,
        dict,
        resources,
        bbox: media,
        view: crate::geometry::PageView::new(media, crop, rotate),
    });
    Ok(())
}

/// The page's /Rotate, an integer (a multiple of 90 when valid).
fn rotation(doc: &Document, dict: &Dictionary) -> Option<i64> {
    match deref(doc, dict.get(b"Rotate").ok()?)? {
        Object::Integer(i) => Some(*i),
        Object::Real(r) if r.is_finite() => Some(*r as i64),
        _ => None,
    }
}

pub(crate) fn deref<'a>(doc: &'a Document, obj: &'a Object) -> Option<&'a Object> {
    doc.dereference(obj).ok().map(|(_, o)| o)
}

pub(crate) fn resolve_dict<'a>(
    doc: &'a Document,
    obj: Option<&'a Object>,
) -> Option<&'a Dictionary> {
    match deref(doc, obj?)? {
        Object::Dictionary(d) => Some(d),
        Object::Stream(s) => Some(&s.dict),
        _ => None,
    }
}

pub(crate) fn number(obj: &Object) -> Option<f32> {
    match obj {
        Object::Integer(i) => Some(*i as f32),
        Object::Real(r) => Some(*r),
        _ => None,
    }
}

fn rect(doc: &Document, obj: Option<&Object>) -> Option<[f32; 4]> {
    let arr = deref(doc, obj?)?.as_array().ok()?;
    if arr.len() != 4 {
        return None;
    }
    let mut v = [0.0f32; 4];
    for (slot, o) in v.iter_mut().zip(arr) {
        *slot = number(deref(doc, o)?)?;
    }
    if !v.iter().all(|x| x.is_finite()) {
        return None;
    }
    Some([
        v[0].min(v[2]),
        v[1].min(v[3]),
        v[0].max(v[2]),
        v[1].max(v[3]),
    ])
}
