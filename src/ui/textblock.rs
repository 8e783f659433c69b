//! Text measured with the real font: wrapping to a width, and blocks of paragraphs that
//! shrink (down to a floor) rather than spill out of their area.

use embedded_graphics::{
    pixelcolor::Rgb888,
    prelude::*,
    primitives::Rectangle,
    text::{renderer::TextRenderer, Baseline, Text},
};
use embedded_ttf::{FontTextStyle, FontTextStyleBuilder};
use kiosk_hal::DisplayError;
use rusttype::Font;

use super::fonts::Fonts;
use super::layout::Metrics;
use super::theme::Theme;

/// Line pitch relative to the font size: generous, for older readers.
const LINE_SPACING: f32 = 1.28;
/// Smallest shrink factor for a block; below that text gets too small to read.
const MIN_SHRINK: f32 = 0.6;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Center,
    Right,
}

/// Role of a paragraph: picks face, size and colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Title,
    Body,
    Strong,
    Muted,
    Small,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Para {
    pub text: String,
    pub role: Role,
}

pub(crate) fn para(text: impl Into<String>, role: Role) -> Para {
    Para { text: text.into(), role }
}

fn style(font: &Font<'static>, size: u32, color: Rgb888, bg: Rgb888) -> FontTextStyle<Rgb888> {
    // Anti-aliasing blends into the known background colour (embedded-graphics cannot read pixels back).
    FontTextStyleBuilder::new(font.clone()).font_size(size).text_color(color).anti_aliasing_color(bg).build()
}

pub(crate) fn measure(font: &Font<'static>, size: u32, text: &str) -> u32 {
    style(font, size, Rgb888::BLACK, Rgb888::WHITE)
        .measure_string(text, Point::zero(), Baseline::Top)
        .bounding_box
        .size
        .width
}

pub(crate) fn line_height(size: u32) -> i32 {
    (size as f32 * LINE_SPACING).round() as i32
}

/// The pieces a line may break between: words, and the parts of a hyphenated word
/// ("ребёнком-" "инвалидом"). `true` when a space goes before the piece.
pub(crate) fn pieces(paragraph: &str) -> impl Iterator<Item = (&str, bool)> {
    paragraph
        .split(' ')
        .filter(|w| !w.is_empty())
        .flat_map(|word| word.split_inclusive('-').enumerate().map(|(i, p)| (p, i == 0)))
}

/// Splits `text` into lines no wider than `max_width` (explicit `\n` kept), breaking at spaces
/// and after hyphens. A single word wider than the line is cut between letters so nothing
/// runs off the edge.
pub(crate) fn wrap(font: &Font<'static>, size: u32, text: &str, max_width: u32) -> Vec<String> {
    let fits = |s: &str| measure(font, size, s) <= max_width;
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for (piece, spaced) in pieces(paragraph) {
            let candidate = match (line.is_empty(), spaced) {
                (true, _) => piece.to_owned(),
                (false, true) => format!("{line} {piece}"),
                (false, false) => format!("{line}{piece}"),
            };
            if fits(&candidate) {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            if fits(piece) {
                line = piece.to_owned();
            } else {
                for c in piece.chars() {
                    line.push(c);
                    if !fits(&line) && line.chars().count() > 1 {
                        line.pop();
                        lines.push(std::mem::take(&mut line));
                        line.push(c);
                    }
                }
            }
        }
        lines.push(line);
    }
    lines
}

/// Draws one line with its top-left at `top_left`.
pub(crate) fn draw_line<T>(
    target: &mut T,
    font: &Font<'static>,
    size: u32,
    color: Rgb888,
    bg: Rgb888,
    text: &str,
    top_left: Point,
) -> Result<(), DisplayError>
where
    T: DrawTarget<Color = Rgb888, Error = DisplayError>,
{
    Text::with_baseline(text, top_left, style(font, size, color, bg), Baseline::Top).draw(target)?;
    Ok(())
}

/// Draws `lines` centred (or left-aligned) in `area`, vertically centred as a group.
/// `(color, bg)`: the text colour and the background it sits on.
pub(crate) fn draw_lines_in<T>(
    target: &mut T,
    font: &Font<'static>,
    size: u32,
    (color, bg): (Rgb888, Rgb888),
    lines: &[String],
    area: Rectangle,
    align: Align,
) -> Result<(), DisplayError>
where
    T: DrawTarget<Color = Rgb888, Error = DisplayError>,
{
    let lh = line_height(size);
    let block_h = lh * (lines.len() as i32 - 1) + size as i32;
    let mut y = area.center().y - block_h / 2;
    for line in lines {
        let w = measure(font, size, line) as i32;
        let x = match align {
            Align::Left => area.top_left.x,
            Align::Center => area.top_left.x + (area.size.width as i32 - w) / 2,
            Align::Right => area.top_left.x + area.size.width as i32 - w,
        };
        draw_line(target, font, size, color, bg, line, Point::new(x, y))?;
        y += lh;
    }
    Ok(())
}

/// Paragraph blocks drawn with one theme and set of sizes.
pub(crate) struct Writer<'a> {
    pub fonts: &'a Fonts,
    pub theme: &'a Theme,
    pub metrics: &'a Metrics,
}

struct Laid {
    lines: Vec<String>,
    size: u32,
    bold: bool,
    color: Rgb888,
}

impl Writer<'_> {
    fn look(&self, role: Role, k: f32) -> (u32, bool, Rgb888) {
        let f = &self.metrics.fonts;
        let t = self.theme;
        let (size, bold, color) = match role {
            Role::Title => (f.title, true, t.title),
            Role::Body => (f.body, false, t.text),
            Role::Strong => (f.body, true, t.text),
            Role::Muted => (f.body, false, t.muted),
            Role::Small => (f.small, false, t.muted),
        };
        (((size as f32 * k).round() as u32).max(10), bold, color)
    }

    fn font(&self, bold: bool) -> &Font<'static> {
        if bold {
            &self.fonts.bold
        } else {
            &self.fonts.regular
        }
    }

    /// The paragraphs wrapped at shrink factor `k`, their height, and whether some word had
    /// to be cut between letters (too wide for the line).
    fn lay_out(&self, paras: &[Para], width: u32, k: f32) -> (Vec<Laid>, i32, bool) {
        let gap = self.metrics.px(10.0);
        let mut total = 0;
        let mut cut = false;
        let laid: Vec<Laid> = paras
            .iter()
            .map(|p| {
                let (size, bold, color) = self.look(p.role, k);
                let font = self.font(bold);
                cut |= pieces(&p.text.replace('\n', " ")).any(|(w, _)| measure(font, size, w) > width);
                let lines = wrap(font, size, &p.text, width);
                total += line_height(size) * lines.len() as i32 + gap;
                Laid { lines, size, bold, color }
            })
            .collect();
        (laid, total - gap, cut)
    }

    /// Draws the paragraphs top-down in `area`, shrinking them all together until they fit;
    /// lines that still do not fit are left out. Returns the height used.
    pub fn block<T>(
        &self,
        target: &mut T,
        paras: &[Para],
        area: Rectangle,
        align: Align,
    ) -> Result<i32, DisplayError>
    where
        T: DrawTarget<Color = Rgb888, Error = DisplayError>,
    {
        let mut k = 1.0;
        // Large text may shrink further, but never below what normal text shrinks to.
        let floor = MIN_SHRINK / self.metrics.text_scale;
        let (mut laid, mut h, mut cut) = self.lay_out(paras, area.size.width, k);
        // Smaller until it fits, and until no word is cut in two ("Страниц-а").
        while (h > area.size.height as i32 || cut) && k > floor {
            k -= 0.05;
            (laid, h, cut) = self.lay_out(paras, area.size.width, k);
        }
        let bottom = area.top_left.y + area.size.height as i32;
        // Centred blocks sit in the middle of their area too, not stuck to its top.
        let mut y = match align {
            Align::Left | Align::Right => area.top_left.y,
            Align::Center => area.top_left.y + ((area.size.height as i32 - h) / 2).max(0),
        };
        for l in &laid {
            for line in &l.lines {
                if y + l.size as i32 > bottom {
                    return Ok(y - area.top_left.y);
                }
                let font = self.font(l.bold);
                let free = area.size.width as i32 - measure(font, l.size, line) as i32;
                let x = match align {
                    Align::Left => area.top_left.x,
                    Align::Center => area.top_left.x + free / 2,
                    Align::Right => area.top_left.x + free,
                };
                draw_line(target, font, l.size, l.color, self.theme.background, line, Point::new(x, y))?;
                y += line_height(l.size);
            }
            y += self.metrics.px(10.0);
        }
        Ok((y - area.top_left.y).min(area.size.height as i32))
    }

    /// `text` as body text cut into pages of as many whole lines as fit in `area`; a page
    /// never starts with an empty line. Always at least one page.
    pub fn pages(&self, text: &str, area: Rectangle) -> Vec<Vec<String>> {
        let size = self.metrics.fonts.body;
        let lh = line_height(size);
        let room = ((area.size.height as i32 - size as i32) / lh + 1).max(1) as usize;
        let mut pages = Vec::new();
        let mut page: Vec<String> = Vec::new();
        for line in wrap(&self.fonts.regular, size, text, area.size.width) {
            if page.is_empty() && line.trim().is_empty() {
                continue;
            }
            page.push(line);
            if page.len() == room {
                pages.push(std::mem::take(&mut page));
            }
        }
        if !page.is_empty() || pages.is_empty() {
            pages.push(page);
        }
        pages
    }

    /// Draws one page from [`Writer::pages`] as body text from the top of `area`.
    pub fn draw_page<T>(&self, target: &mut T, lines: &[String], area: Rectangle) -> Result<(), DisplayError>
    where
        T: DrawTarget<Color = Rgb888, Error = DisplayError>,
    {
        let size = self.metrics.fonts.body;
        for (i, line) in lines.iter().enumerate() {
            let top_left = area.top_left + Point::new(0, i as i32 * line_height(size));
            draw_line(
                target,
                &self.fonts.regular,
                size,
                self.theme.text,
                self.theme.background,
                line,
                top_left,
            )?;
        }
        Ok(())
    }

    /// Height `paras` need at full size in a column `width` wide.
    pub fn height_of(&self, paras: &[Para], width: u32) -> i32 {
        self.lay_out(paras, width, 1.0).1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_within_width_and_cuts_long_words() {
        let fonts = Fonts::system().unwrap();
        let f = &fonts.regular;
        let lines = wrap(f, 24, "Нужен только паспорт с чипом. Это бесплатно.", 200);
        assert!(lines.len() >= 2);
        assert!(lines.iter().all(|l| measure(f, 24, l) <= 200), "{lines:?}");
        let long = wrap(f, 24, "Ааааааааааааааааааааааааааааааааааааа", 100);
        assert!(long.len() > 2 && long.iter().all(|l| measure(f, 24, l) <= 100));
        assert_eq!(wrap(f, 24, "a\nb", 500), ["a", "b"]);
        let hyphen = wrap(f, 24, "за ребёнком-инвалидом", 160);
        assert_eq!(hyphen, ["за ребёнком-", "инвалидом"]);
    }
}
