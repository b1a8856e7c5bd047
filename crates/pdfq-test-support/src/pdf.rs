//! Small, valid PDFs built in code, so tests never depend on files they did not write.

use std::fmt::Write as _;

/// A PDF with one page per entry of `pages`; each page shows its text in Helvetica, one line
/// per `\n`, 14 points apart, from the top left.
#[must_use]
pub fn text_pdf(pages: &[&str]) -> Vec<u8> {
    assemble(&text_objects(pages))
}

/// As [`text_pdf`], but the content stream of page `damaged` (0-based) is corrupt, as a bad
/// disk or download leaves it: declared FlateDecode, its bytes are not deflate data.
#[must_use]
pub fn text_pdf_with_corrupt_page(pages: &[&str], damaged: usize) -> Vec<u8> {
    let mut objects = text_objects(pages);
    let garbage = "these bytes are not deflate data, whatever the filter says";
    // Catalog, page tree and font come first, then each page and its content stream.
    if let Some(content) = objects.get_mut(4 + 2 * damaged) {
        *content = format!(
            "<< /Length {} /Filter /FlateDecode >>\nstream\n{garbage}\nendstream",
            garbage.len()
        );
    }
    assemble(&objects)
}

/// The objects of [`text_pdf`], numbered from 1 in order.
fn text_objects(pages: &[&str]) -> Vec<String> {
    let streams: Vec<String> = pages
        .iter()
        .map(|text| {
            let mut stream = String::from("BT /F1 12 Tf 14 TL 72 720 Td\n");
            for line in text.lines() {
                let _ = writeln!(stream, "({}) Tj T*", escape(line));
            }
            stream.push_str("ET\n");
            stream
        })
        .collect();
    page_objects(&streams)
}

/// Catalog, page tree, Helvetica, then a page and its content stream per entry of `streams`.
fn page_objects(streams: &[String]) -> Vec<String> {
    page_objects_in(streams, "Helvetica", 0)
}

/// As [`page_objects`], in the standard font `font`, each page turned by `rotate` (/Rotate).
fn page_objects_in(streams: &[String], font: &str, rotate: i32) -> Vec<String> {
    let page_count = streams.len();
    let mut objects: Vec<String> = Vec::new();
    objects.push("<< /Type /Catalog /Pages 2 0 R >>".to_owned());
    let kids: Vec<String> = (0..page_count)
        .map(|i| format!("{} 0 R", 4 + 2 * i))
        .collect();
    objects.push(format!(
        "<< /Type /Pages /Kids [{}] /Count {page_count} >>",
        kids.join(" ")
    ));
    objects.push(format!(
        "<< /Type /Font /Subtype /Type1 /BaseFont /{font} /Encoding /WinAnsiEncoding >>"
    ));
    // Unturned pages stay byte for byte as they were.
    let rotate = if rotate == 0 {
        String::new()
    } else {
        format!("/Rotate {rotate} ")
    };
    for (i, stream) in streams.iter().enumerate() {
        let content_id = 5 + 2 * i;
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] {rotate}/Resources << /Font << /F1 3 0 R >> >> /Contents {content_id} 0 R >>"
        ));
        objects.push(format!(
            "<< /Length {} >>\nstream\n{stream}endstream",
            stream.len()
        ));
    }
    objects
}

/// A piece of text placed on a page: Helvetica at `size` points, baseline starting at `(x, y)`
/// (from the bottom left of a US Letter page).
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    pub x: f32,
    pub y: f32,
    pub size: f32,
    pub text: String,
}

/// A PDF whose pages draw their pieces of text exactly in the order given (one text object
/// each), whatever order a reader would read them in.
#[must_use]
pub fn placed_text_pdf(pages: &[Vec<Placed>]) -> Vec<u8> {
    placed_text_pdf_in(pages, "Helvetica", 0)
}

/// As [`placed_text_pdf`], in the standard 14 font `font` (e.g. `Courier`, whose glyphs all
/// advance 0.6 em, so every glyph's place is known), each page turned by `rotate` degrees
/// clockwise (its /Rotate).
#[must_use]
pub fn placed_text_pdf_in(pages: &[Vec<Placed>], font: &str, rotate: i32) -> Vec<u8> {
    let streams: Vec<String> = pages
        .iter()
        .map(|items| {
            let mut stream = String::new();
            for item in items {
                let _ = writeln!(
                    stream,
                    "BT /F1 {:.2} Tf {:.2} {:.2} Td ({}) Tj ET",
                    item.size,
                    item.x,
                    item.y,
                    escape(&item.text)
                );
            }
            stream
        })
        .collect();
    assemble(&page_objects_in(&streams, font, rotate))
}

/// How a piece of text of a tagged page is marked in its content stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Marked content with this id (MCID), which the structure tree may name.
    Content(u32),
    /// An artifact: page furniture (a running head, a footer, a page number).
    Artifact,
    /// Not marked.
    Unmarked,
}

/// One page of [`tagged_pdf`]: pieces drawn in the order given, and the MCIDs its structure
/// tree names, in logical (reading) order, a paragraph each.
#[derive(Debug, Clone, PartialEq)]
pub struct TaggedPage {
    pub drawn: Vec<(Placed, Mark)>,
    pub logical: Vec<u32>,
}

/// Damage to the structure tree of [`tagged_pdf`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TreeFault {
    None,
    /// The document element is also one of its own kids.
    Cycle,
    /// The paragraphs hang under a chain of this many nested elements.
    Depth(usize),
}

/// A tagged PDF (PDF 32000-1, 14.7-14.8): its pages draw their pieces in the order given, each
/// in its marked-content sequence, and its structure tree (a document element holding a
/// paragraph element per MCID of each page's `logical`) gives the reading order.
#[must_use]
pub fn tagged_pdf(pages: &[TaggedPage], fault: TreeFault) -> Vec<u8> {
    let streams: Vec<String> = pages
        .iter()
        .map(|page| {
            let mut stream = String::new();
            for (item, mark) in &page.drawn {
                let text = format!(
                    "BT /F1 {:.2} Tf {:.2} {:.2} Td ({}) Tj ET",
                    item.size,
                    item.x,
                    item.y,
                    escape(&item.text)
                );
                let _ = match mark {
                    Mark::Content(mcid) => writeln!(stream, "/P <</MCID {mcid}>> BDC {text} EMC"),
                    Mark::Artifact => writeln!(
                        stream,
                        "/Artifact <</Type /Pagination /Subtype /Header>> BDC {text} EMC"
                    ),
                    Mark::Unmarked => writeln!(stream, "{text}"),
                };
            }
            stream
        })
        .collect();
    let mut objects = page_objects(&streams);
    let page_id = |i: usize| 4 + 2 * i;
    for i in 0..pages.len() {
        objects[page_id(i) - 1] = objects[page_id(i) - 1].replacen(
            "/Type /Page ",
            &format!("/Type /Page /StructParents {i} "),
            1,
        );
    }
    let root = objects.len() + 1;
    let document = root + 1;
    let chain_len = match fault {
        TreeFault::Depth(n) => n,
        _ => 0,
    };
    // Objects: the root, the document element, the chain, then the paragraphs.
    let first_paragraph = document + 1 + chain_len;
    let mut paragraphs = Vec::new();
    let mut next = first_paragraph;
    let parent = if chain_len > 0 {
        document + chain_len
    } else {
        document
    };
    for (i, page) in pages.iter().enumerate() {
        for mcid in &page.logical {
            paragraphs.push(format!(
                "<< /Type /StructElem /S /P /P {parent} 0 R /Pg {} 0 R /K {mcid} >>",
                page_id(i)
            ));
            next += 1;
        }
    }
    let kids: Vec<String> = (first_paragraph..next)
        .map(|n| format!("{n} 0 R"))
        .collect();
    objects.push(format!("<< /Type /StructTreeRoot /K {document} 0 R >>"));
    let document_kids = match fault {
        TreeFault::None => kids.join(" "),
        TreeFault::Cycle => format!("{} {document} 0 R", kids.join(" ")),
        TreeFault::Depth(_) => format!("{} 0 R", document + 1),
    };
    objects.push(format!(
        "<< /Type /StructElem /S /Document /P {root} 0 R /K [{document_kids}] >>"
    ));
    for level in 1..=chain_len {
        let id = document + level;
        let kids = if level == chain_len {
            kids.join(" ")
        } else {
            format!("{} 0 R", id + 1)
        };
        objects.push(format!(
            "<< /Type /StructElem /S /Div /P {} 0 R /K [{kids}] >>",
            id - 1
        ));
    }
    objects.extend(paragraphs);
    objects[0] = format!(
        "<< /Type /Catalog /Pages 2 0 R /MarkInfo << /Marked true >> /StructTreeRoot {root} 0 R >>"
    );
    assemble(&objects)
}

/// A small PDF whose `pages` pages all draw one Form XObject `draws_per_page` times, each
/// draw showing `form_text` a line lower: a few kilobytes that extract to
/// `pages * draws_per_page * form_text.len()` bytes of text (a result-amplification attack).
#[must_use]
pub fn repeated_form_pdf(pages: usize, draws_per_page: usize, form_text: &str) -> Vec<u8> {
    // Objects: 1 catalog, 2 page tree, 3 font, 4 the form, 5 the content every page shares,
    // then one page object per page.
    let form = format!("BT /F1 1 Tf 0 0 Td ({}) Tj ET", escape(form_text));
    // Each draw moves down by a line so no two draws overlap; 720 points hold them all.
    let step = 720.0 / draws_per_page.max(1) as f64;
    let mut content = String::from("1 0 0 1 36 750 cm\n");
    for _ in 0..draws_per_page {
        let _ = writeln!(content, "1 0 0 1 0 -{step:.4} cm /X0 Do");
    }
    let kids: Vec<String> = (0..pages).map(|i| format!("{} 0 R", 6 + i)).collect();
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        format!(
            "<< /Type /Pages /Kids [{}] /Count {pages} >>",
            kids.join(" ")
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
            .to_owned(),
        format!(
            "<< /Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Length {} >>\nstream\n{form}\nendstream",
            form.len() + 1
        ),
        format!(
            "<< /Length {} >>\nstream\n{content}endstream",
            content.len()
        ),
    ];
    for _ in 0..pages {
        objects.push(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /XObject << /X0 4 0 R >> >> /Contents 5 0 R >>"
                .to_owned(),
        );
    }
    assemble(&objects)
}

/// A filled form as ReportLab writes one: `pages` pages of `fields_per_page` text fields,
/// each a widget drawn by an appearance stream of its own with a font object of its own (all
/// alike), listed by the catalog's /AcroForm. Field `n` shows `value(n)`. The last field of
/// each page is a check box whose /AP holds its states, and its "On" appearance names its font
/// inline, as some producers write it.
#[must_use]
pub fn form_pdf(pages: usize, fields_per_page: usize, value: impl Fn(usize) -> String) -> Vec<u8> {
    // Objects: 1 catalog, 2 page tree, then per page: the page, its content, and per field
    // its appearance, widget and font.
    let mut objects = vec![String::new(), String::new()];
    let mut kids = Vec::new();
    let mut fields = Vec::new();
    for page in 0..pages {
        let page_id = objects.len() + 1;
        kids.push(format!("{page_id} 0 R"));
        objects.push(String::new());
        let label = format!("BT /F1 9 Tf 40 810 Td (Form page {}) Tj ET", page + 1);
        objects.push(format!(
            "<< /Length {} >>\nstream\n{label}\nendstream",
            label.len() + 1
        ));
        let mut annots = Vec::new();
        for i in 0..fields_per_page {
            let n = page * fields_per_page + i;
            let (appearance, widget, font) =
                (objects.len() + 1, objects.len() + 2, objects.len() + 3);
            let y = 780 - 19 * i;
            let text = format!("BT /Helv 9 Tf 2 4 Td ({}) Tj ET", escape(&value(n)));
            let check_box = i + 1 == fields_per_page;
            let (resources, ap, extra) = if check_box {
                (
                    "<< /Font << /Helv << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >>".to_owned(),
                    format!("<< /N << /On {appearance} 0 R >> >>"),
                    "/FT /Btn /AS /On /V /On",
                )
            } else {
                (
                    format!("<< /ProcSet [/PDF /Text] /Font << /Helv {font} 0 R >> >>"),
                    format!("<< /N {appearance} 0 R >>"),
                    "/FT /Tx /DA (/Helv 9 Tf 0 g)",
                )
            };
            objects.push(format!(
                "<< /BBox [0 0 420 16] /FormType 1 /Matrix [1 0 0 1 0 0] /Resources {resources} /Subtype /Form /Type /XObject /Length {} >>\nstream\n{text}\nendstream",
                text.len() + 1
            ));
            objects.push(format!(
                "<< /AP {ap} /F 4 /MK << /BG [0.8 0.84 1] >> /P {page_id} 0 R /Rect [120 {y} 540 {}] /Subtype /Widget /T (f{n}) /Type /Annot {extra} >>",
                y + 16
            ));
            objects.push(
                "<< /BaseFont /Helvetica /Subtype /Type1 /Name /Helv /Type /Font >>".to_owned(),
            );
            annots.push(format!("{widget} 0 R"));
            fields.push(format!("{widget} 0 R"));
        }
        objects[page_id - 1] = format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 842] /Resources << /Font << /F1 {} 0 R >> >> /Contents {} 0 R /Annots [{}] >>",
            // The page's label shares the first field's font.
            page_id + 4,
            page_id + 1,
            annots.join(" ")
        );
    }
    objects[0] = format!(
        "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [{}] /NeedAppearances false >> >>",
        fields.join(" ")
    );
    objects[1] = format!(
        "<< /Type /Pages /Kids [{}] /Count {pages} >>",
        kids.join(" ")
    );
    assemble(&objects)
}

/// As [`text_pdf`], with what a hyperlinked manual carries besides its text: `links_per_page`
/// link annotations on every page, an outline item and a named destination per page, and on
/// every page an image of `image_bytes` bytes (drawn, so a reader must resolve it).
#[must_use]
pub fn hyperlinked_pdf(pages: &[&str], links_per_page: usize, image_bytes: usize) -> Vec<u8> {
    let mut objects = text_objects(pages);
    let page_id = |i: usize| 4 + 2 * i;
    let add = |objects: &mut Vec<String>, body: String| {
        objects.push(body);
        objects.len()
    };
    let image = add(
        &mut objects,
        format!(
            "<< /Type /XObject /Subtype /Image /Width {image_bytes} /Height 1 /ColorSpace /DeviceGray /BitsPerComponent 8 /Length {image_bytes} >>\nstream\n{}\nendstream",
            "x".repeat(image_bytes)
        ),
    );
    let outline_root = add(&mut objects, String::new());
    let mut items = Vec::new();
    let mut dests = Vec::new();
    for i in 0..pages.len() {
        let mut annots = Vec::new();
        for link in 0..links_per_page {
            let target = page_id((i + link + 1) % pages.len());
            let annot = add(
                &mut objects,
                format!(
                    "<< /Type /Annot /Subtype /Link /Border [0 0 0] /Rect [72 {y} 200 {h}] /A << /S /GoTo /D [{target} 0 R /XYZ 0 792 null] >> >>",
                    y = 100 + link % 500,
                    h = 110 + link % 500
                ),
            );
            annots.push(format!("{annot} 0 R"));
        }
        let dest = add(
            &mut objects,
            format!("<< /D [{} 0 R /XYZ 0 792 null] >>", page_id(i)),
        );
        dests.push(format!("(page.{i}) {dest} 0 R"));
        let item = add(
            &mut objects,
            format!(
                "<< /Title (Page {}) /Parent {outline_root} 0 R /Dest [{} 0 R /Fit] >>",
                i + 1,
                page_id(i)
            ),
        );
        items.push(item);
        objects[page_id(i) - 1] = objects[page_id(i) - 1].replacen(
            "/Resources << /Font << /F1 3 0 R >> >>",
            &format!(
                "/Resources << /Font << /F1 3 0 R >> /XObject << /Im0 {image} 0 R >> >> /Annots [{}]",
                annots.join(" ")
            ),
            1,
        );
        objects[page_id(i)] = objects[page_id(i)].replacen(
            "stream\nBT",
            "stream\nq 10 0 0 10 500 700 cm /Im0 Do Q\nBT",
            1,
        );
        // The content grew by the image draw: its /Length must follow.
        let body = &objects[page_id(i)];
        let data = &body[body.find("stream\n").map_or(0, |at| at + 7)
            ..body.rfind("endstream").unwrap_or(body.len())];
        let length = data.len();
        objects[page_id(i)] = format!("<< /Length {length} >>\nstream\n{data}endstream");
    }
    let (first, last) = (items[0], items[items.len() - 1]);
    objects[outline_root - 1] = format!(
        "<< /Type /Outlines /First {first} 0 R /Last {last} 0 R /Count {} >>",
        items.len()
    );
    let names = add(&mut objects, format!("<< /Names [{}] >>", dests.join(" ")));
    objects[0] = format!(
        "<< /Type /Catalog /Pages 2 0 R /Outlines {outline_root} 0 R /Names << /Dests {names} 0 R >> >>"
    );
    assemble(&objects)
}

/// A one-page PDF whose page draws `content` (a raw content stream) with `fonts`: each entry
/// is a resource name and a font dictionary (`("F1", "<< /Type /Font ... >>")`). For glyph
/// placement the other builders do not reach: character spacing, kerning in TJ arrays,
/// rises, particular fonts.
#[must_use]
pub fn page_pdf(fonts: &[(&str, &str)], content: &str) -> Vec<u8> {
    // Objects: 1 catalog, 2 page tree, 3 the page, 4 its content, then the fonts.
    let font_refs: Vec<String> = fonts
        .iter()
        .enumerate()
        .map(|(i, (name, _))| format!("/{name} {} 0 R", 5 + i))
        .collect();
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << {} >> >> /Contents 4 0 R >>",
            font_refs.join(" ")
        ),
        format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len() + 1
        ),
    ];
    objects.extend(fonts.iter().map(|(_, dict)| (*dict).to_owned()));
    assemble(&objects)
}

/// `objects` (numbered from 1) with a header, a cross-reference table and a trailer.
fn assemble(objects: &[String]) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref_at = out.len();
    let mut xref = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
    for offset in offsets {
        let _ = writeln!(xref, "{offset:010} 00000 n ");
    }
    let _ = write!(
        xref,
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref_at}\n%%EOF\n",
        objects.len() + 1
    );
    out.extend_from_slice(xref.as_bytes());
    out
}

/// Escapes a line for a PDF literal string; characters outside Latin-1 become `?`.
fn escape(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        match c {
            '(' | ')' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if u32::from(c) < 0x80 => out.push(c),
            _ => out.push('?'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_xref_points_at_each_object() {
        let pdf = text_pdf(&["Hello (world).", "Second page."]);
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.starts_with("%PDF-1.4"));
        assert!(text.contains("/Count 2"));
        assert!(text.contains(r"(Hello \(world\).) Tj"));
        // Offsets are in bytes: the binary comment line is not UTF-8, so index the bytes.
        let tail = String::from_utf8_lossy(&pdf[pdf.len() - 40..]).into_owned();
        let xref_at: usize = tail
            .rsplit("startxref\n")
            .next()
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(pdf[xref_at..].starts_with(b"xref"));
        let xref = String::from_utf8_lossy(&pdf[xref_at..]).into_owned();
        for (n, line) in xref.lines().skip(3).take(7).enumerate() {
            let offset: usize = line[..10].parse().unwrap();
            let expected = format!("{} 0 obj", n + 1);
            assert!(
                pdf[offset..].starts_with(expected.as_bytes()),
                "object {}",
                n + 1
            );
        }
    }
}
