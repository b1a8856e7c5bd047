//! Whether what a page draws with (its fonts, forms and images, and theirs) is missing from the
//! file: in a truncated file a page may keep its content stream but lose its font, and its text
//! is then lost as surely as if the page were gone.

use std::collections::HashMap;

use lopdf::{Document, Object, ObjectId};

use crate::packed::PackedObjects;

/// How deep references are followed from a page's resources: fonts, their descendants and
/// descriptors, forms and their own resources are all within it.
const MAX_DEPTH: u32 = 8;

/// What is known of each object so far, shared by all the pages of one document so that each
/// object is looked at once.
#[derive(Debug, Default)]
pub(crate) struct MissingObjects {
    /// true: the object or something it refers to is missing.
    known: HashMap<ObjectId, bool>,
}

impl MissingObjects {
    /// Whether `resources` refer, directly or not, to an object the file does not have.
    pub(crate) fn in_resources(
        &mut self,
        doc: &Document,
        packed: &PackedObjects,
        resources: &lopdf::Dictionary,
    ) -> bool {
        let objects = Objects { doc, packed };
        resources
            .iter()
            .any(|(_, value)| self.in_object(objects, value, 0))
    }

    fn in_object(&mut self, doc: Objects<'_>, object: &Object, depth: u32) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        match object {
            Object::Reference(id) => self.in_reference(doc, *id, depth),
            Object::Array(items) => items.iter().any(|item| self.in_object(doc, item, depth)),
            Object::Dictionary(dict) => dict
                .iter()
                .any(|(key, value)| key != b"Parent" && self.in_object(doc, value, depth)),
            // The stream's data is the page's business; what it refers to is in its dictionary.
            Object::Stream(stream) => stream
                .dict
                .iter()
                .any(|(key, value)| key != b"Parent" && self.in_object(doc, value, depth)),
            _ => false,
        }
    }

    fn in_reference(&mut self, doc: Objects<'_>, id: ObjectId, depth: u32) -> bool {
        if let Some(known) = self.known.get(&id) {
            return *known;
        }
        let Some(object) = doc.packed.lookup(doc.doc, id, false) else {
            self.known.insert(id, true);
            return true;
        };
        // Provisionally intact, so a cycle ends here.
        self.known.insert(id, false);
        let missing = self.in_object(doc, &object, depth + 1);
        self.known.insert(id, missing);
        missing
    }
}

/// The objects of a document: those it holds and those kept packed.
#[derive(Clone, Copy)]
struct Objects<'d> {
    doc: &'d Document,
    packed: &'d PackedObjects,
}

#[cfg(test)]
mod tests {
    use super::*;
    use lopdf::dictionary;

    #[test]
    fn a_missing_font_deep_or_shallow_is_found_and_cycles_end() {
        let mut doc = Document::with_version("1.5");
        let descendant = (90, 0);
        let font = doc.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "Type0",
            "DescendantFonts" => vec![Object::Reference(descendant)],
        });
        let intact = doc.add_object(dictionary! { "Type" => "Font", "Subtype" => "Type1" });
        // Two objects referring to each other, nothing missing.
        let a = doc.new_object_id();
        let b = doc.new_object_id();
        doc.objects
            .insert(a, Object::Dictionary(dictionary! { "Next" => b }));
        doc.objects
            .insert(b, Object::Dictionary(dictionary! { "Next" => a }));

        let mut missing = MissingObjects::default();
        let good = dictionary! { "Font" => dictionary! { "F1" => intact }, "Other" => a };
        assert!(!missing.in_resources(&doc, &PackedObjects::default(), &good));
        let bad = dictionary! { "Font" => dictionary! { "F1" => intact, "F2" => font } };
        assert!(missing.in_resources(&doc, &PackedObjects::default(), &bad));
        assert!(missing.known[&font], "remembered for the next page");
    }
}
