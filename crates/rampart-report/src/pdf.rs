//! The report as PDF, written with `pdf-writer` (see ARCHITECTURE.md for the choice).
//!
//! One embedded font, DejaVu Sans Mono (vendored in `fonts/` with its licence), as a
//! Type 0 / CIDFontType2 font with identity encoding (two bytes a glyph id), a `/W` array of
//! the glyphs used and a ToUnicode map, so text is selectable and extractable. Characters the
//! font has no glyph for, and control characters, are drawn as `?`. Lines wrap at the text
//! width (at a space when there is one); pages are A4 with a footer naming the incident and
//! the page. Streams (font and pages) are deflated.

use std::collections::BTreeMap;
use std::io::Write as _;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use crate::build::{build, Block};
use crate::{ReportData, ReportError};

/// The embedded font (Bitstream Vera licence, `fonts/LICENSE-DejaVu.txt`).
const FONT: &[u8] = include_bytes!("../fonts/DejaVuSansMono.ttf");

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 50.0;
const TOP: f32 = PAGE_H - MARGIN;
const BOTTOM: f32 = MARGIN + 20.0;

/// A line to draw: size, indent, gray level (0 black), text.
struct Line {
    size: f32,
    indent: f32,
    gray: f32,
    text: String,
    /// Space before it, in points.
    before: f32,
}

struct Font<'a> {
    face: ttf_parser::Face<'a>,
    /// Units per em.
    upem: f32,
    /// Glyph of `?`.
    fallback: u16,
}

impl Font<'_> {
    fn glyph(&self, c: char) -> (u16, char) {
        if c.is_control() {
            return (self.fallback, '?');
        }
        match self.face.glyph_index(c) {
            Some(g) if g.0 != 0 => (g.0, c),
            _ => (self.fallback, '?'),
        }
    }

    fn advance(&self, g: u16) -> f32 {
        self.face
            .glyph_hor_advance(ttf_parser::GlyphId(g))
            .map_or(self.upem * 0.6, f32::from)
    }

    /// Width of `s` at `size`, in points.
    fn width(&self, s: &str, size: f32) -> f32 {
        s.chars()
            .map(|c| self.advance(self.glyph(c).0))
            .sum::<f32>()
            * size
            / self.upem
    }
}

/// `text` split into lines no wider than `max` points at `size` (at the last space that
/// fits, else at the last character that fits).
fn wrap(font: &Font<'_>, text: &str, size: f32, max: f32) -> Vec<String> {
    let mut out = Vec::new();
    let mut line = String::new();
    let mut width = 0.0f32;
    let mut last_space: Option<usize> = None;
    for c in text.chars() {
        let c = if c == '\t' { ' ' } else { c };
        let w = font.advance(font.glyph(c).0) * size / font.upem;
        if width + w > max && !line.is_empty() {
            match last_space {
                Some(i) if i > 0 => {
                    let rest = line.split_off(i + 1);
                    out.push(line.trim_end().to_string());
                    line = rest;
                }
                _ => out.push(std::mem::take(&mut line)),
            }
            width = font.width(&line, size);
            last_space = None;
        }
        if c == ' ' {
            last_space = Some(line.len());
        }
        line.push(c);
        width += w;
    }
    if !line.is_empty() || out.is_empty() {
        out.push(line);
    }
    out
}

fn lay_out(font: &Font<'_>, data: &ReportData) -> Vec<Line> {
    let r = build(data);
    let width = PAGE_W - 2.0 * MARGIN;
    let mut lines: Vec<Line> = Vec::new();
    let mut push = |text: &str, size: f32, indent: f32, gray: f32, before: f32| {
        for (i, l) in wrap(font, text, size, width - indent)
            .into_iter()
            .enumerate()
        {
            lines.push(Line {
                size,
                indent,
                gray,
                text: l,
                before: if i == 0 { before } else { 0.0 },
            });
        }
    };
    push(&r.title, 15.0, 0.0, 0.0, 0.0);
    for s in &r.sections {
        push(s.title, 12.5, 0.0, 0.0, 14.0);
        for b in &s.blocks {
            match b {
                Block::Heading(h) => push(h, 10.5, 0.0, 0.0, 8.0),
                Block::Para(p) => push(p, 9.0, 0.0, 0.0, 4.0),
                Block::Note(n) => push(n, 9.0, 0.0, 0.4, 4.0),
                Block::Fields(f) => {
                    for (i, (k, v)) in f.iter().enumerate() {
                        push(
                            &format!("{k}: {v}"),
                            9.0,
                            0.0,
                            0.0,
                            if i == 0 { 4.0 } else { 0.0 },
                        );
                    }
                }
                Block::List(items) => {
                    for (i, it) in items.iter().enumerate() {
                        push(
                            &format!("• {it}"),
                            9.0,
                            6.0,
                            0.0,
                            if i == 0 { 4.0 } else { 2.0 },
                        );
                    }
                }
                Block::Table(head, rows) => {
                    push(&head.join(" | "), 8.5, 0.0, 0.0, 4.0);
                    for row in rows {
                        push(&row.join(" | "), 8.5, 6.0, 0.0, 1.5);
                    }
                }
                Block::Code(code) => {
                    for (i, l) in code.iter().enumerate() {
                        push(l, 7.5, 8.0, 0.25, if i == 0 { 4.0 } else { 0.0 });
                    }
                }
            }
        }
    }
    lines
}

/// Lines per page (top to bottom), each with its baseline.
fn paginate(lines: Vec<Line>) -> Vec<Vec<(f32, Line)>> {
    let mut pages: Vec<Vec<(f32, Line)>> = vec![Vec::new()];
    let mut y = TOP;
    for l in lines {
        let step = l.before + l.size * 1.3;
        if y - step < BOTTOM && pages.last().is_some_and(|p| !p.is_empty()) {
            pages.push(Vec::new());
            y = TOP;
        }
        let first = pages.last().is_none_or(|p| p.is_empty());
        y -= if first { l.size * 1.3 } else { step };
        if let Some(p) = pages.last_mut() {
            p.push((y, l));
        }
    }
    pages
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    // writing to a Vec cannot fail
    let _ = e.write_all(data);
    e.finish().unwrap_or_default()
}

/// The report of `data` as PDF.
pub fn pdf(data: &ReportData) -> Result<Vec<u8>, ReportError> {
    let face = ttf_parser::Face::parse(FONT, 0).map_err(|e| ReportError::Font(e.to_string()))?;
    let upem = f32::from(face.units_per_em());
    let fallback = face
        .glyph_index('?')
        .map(|g| g.0)
        .ok_or_else(|| ReportError::Font("no glyph for ?".into()))?;
    let font = Font {
        face,
        upem,
        fallback,
    };
    let pages = paginate(lay_out(&font, data));
    let inc = &data.detail.incident;

    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let type0 = Ref::new(3);
    let cid = Ref::new(4);
    let descriptor = Ref::new(5);
    let file = Ref::new(6);
    let cmap_ref = Ref::new(7);
    let info = Ref::new(8);
    let first_page = 10;
    let page_ref = |i: usize| Ref::new(first_page + 2 * i as i32);
    let content_ref = |i: usize| Ref::new(first_page + 2 * i as i32 + 1);

    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids((0..pages.len()).map(page_ref))
        .count(pages.len() as i32);
    pdf.document_info(info)
        .title(TextStr(&format!(
            "Incident #{} post-incident review",
            inc.id
        )))
        .producer(TextStr("Rampart"));

    let name = Name(b"F1");
    let mut used: BTreeMap<u16, char> = BTreeMap::new();
    let total = pages.len();
    for (i, page) in pages.iter().enumerate() {
        let mut c = Content::new();
        let mut show = |c: &mut Content, x: f32, y: f32, size: f32, gray: f32, text: &str| {
            let mut bytes = Vec::with_capacity(text.len() * 2);
            for ch in text.chars() {
                let (g, shown) = font.glyph(ch);
                used.entry(g).or_insert(shown);
                bytes.extend_from_slice(&g.to_be_bytes());
            }
            c.set_fill_gray(gray);
            c.begin_text();
            c.set_font(name, size);
            c.next_line(x, y);
            c.show(Str(&bytes));
            c.end_text();
        };
        for (y, l) in page {
            show(&mut c, MARGIN + l.indent, *y, l.size, l.gray, &l.text);
        }
        let footer = format!("Rampart · incident #{} · page {} of {total}", inc.id, i + 1);
        show(&mut c, MARGIN, MARGIN - 10.0, 7.5, 0.45, &footer);
        let stream = deflate(&c.finish());
        let mut p = pdf.page(page_ref(i));
        p.parent(tree)
            .media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H))
            .contents(content_ref(i));
        p.resources().fonts().pair(name, type0);
        p.finish();
        pdf.stream(content_ref(i), &stream)
            .filter(Filter::FlateDecode);
    }

    let base = Name(b"DejaVuSansMono");
    let system = SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"Identity"),
        supplement: 0,
    };
    pdf.type0_font(type0)
        .base_font(base)
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid)
        .to_unicode(cmap_ref);
    {
        let mut f = pdf.cid_font(cid);
        f.subtype(CidFontType::Type2)
            .base_font(base)
            .system_info(system)
            .font_descriptor(descriptor)
            .default_width(1000.0 * font.advance(fallback) / upem)
            .cid_to_gid_map_predefined(Name(b"Identity"));
        let mut w = f.widths();
        for &g in used.keys() {
            w.consecutive(g, [1000.0 * font.advance(g) / upem]);
        }
        w.finish();
    }
    let scale = |v: i16| 1000.0 * f32::from(v) / upem;
    let bbox = font.face.global_bounding_box();
    pdf.font_descriptor(descriptor)
        .name(base)
        .flags(FontFlags::FIXED_PITCH | FontFlags::NON_SYMBOLIC)
        .bbox(Rect::new(
            scale(bbox.x_min),
            scale(bbox.y_min),
            scale(bbox.x_max),
            scale(bbox.y_max),
        ))
        .italic_angle(0.0)
        .ascent(scale(font.face.ascender()))
        .descent(scale(font.face.descender()))
        .cap_height(scale(font.face.capital_height().unwrap_or(1500)))
        .stem_v(80.0)
        .font_file2(file);
    let packed = deflate(FONT);
    pdf.stream(file, &packed)
        .filter(Filter::FlateDecode)
        .pair(Name(b"Length1"), FONT.len() as i32);
    let mut cmap = UnicodeCmap::new(Name(b"Rampart-UTF16"), system);
    for (&g, &c) in &used {
        cmap.pair(g, c);
    }
    pdf.cmap(cmap_ref, &cmap.finish());
    Ok(pdf.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn font() -> Font<'static> {
        let face = ttf_parser::Face::parse(FONT, 0).expect("the vendored font parses");
        let fallback = face.glyph_index('?').map(|g| g.0).unwrap_or(0);
        Font {
            upem: f32::from(face.units_per_em()),
            face,
            fallback,
        }
    }

    #[test]
    fn wrap_breaks_at_spaces_and_hard_breaks_long_words() {
        let f = font();
        // 9 pt mono: about 5.4 pt a character, so 60 pt holds 11
        let lines = wrap(&f, "alpha beta gamma delta", 9.0, 60.0);
        assert_eq!(lines, ["alpha beta", "gamma delta"]);
        let long = "x".repeat(30);
        let lines = wrap(&f, &long, 9.0, 60.0);
        assert!(lines.len() >= 3, "{lines:?}");
        assert!(lines.iter().all(|l| f.width(l, 9.0) <= 60.0));
    }

    #[test]
    fn unknown_and_control_characters_become_question_marks() {
        let f = font();
        assert_eq!(f.glyph('\u{1b}').1, '?');
        assert_eq!(f.glyph('\u{10FFFD}').1, '?');
        assert_eq!(f.glyph('é').1, 'é');
    }

    #[test]
    fn many_lines_make_many_pages() {
        let lines = (0..300)
            .map(|i| Line {
                size: 9.0,
                indent: 0.0,
                gray: 0.0,
                text: format!("line {i}"),
                before: 0.0,
            })
            .collect();
        let pages = paginate(lines);
        assert!(pages.len() >= 4, "{}", pages.len());
        for p in &pages {
            assert!(p.iter().all(|(y, _)| *y >= BOTTOM && *y <= TOP));
        }
    }
}
