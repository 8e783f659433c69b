//! Header with the step indicator, and finger-sized buttons.

use embedded_graphics::{
    pixelcolor::Rgb888,
    prelude::*,
    primitives::{Line, PrimitiveStyle, PrimitiveStyleBuilder, Rectangle, RoundedRectangle},
};
use kiosk_hal::DisplayError;

use super::layout::{rect, Metrics};
use super::textblock::{draw_line, draw_lines_in, line_height, measure, pieces, wrap, Align, Writer};

/// How a button looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ButtonKind {
    /// The main action: filled.
    Primary,
    /// An alternative: outlined.
    Secondary,
    /// An on/off option with a check box.
    Toggle { on: bool },
    /// Shown but not available yet: greyed, and left out of the layout by the caller.
    Disabled,
}

/// Header bar: the four steps with the current one highlighted, or a plain title.
pub(crate) fn header<T>(
    target: &mut T,
    w: &Writer<'_>,
    steps: &[&str],
    step: Option<usize>,
    plain_title: &str,
) -> Result<(), DisplayError>
where
    T: DrawTarget<Color = Rgb888, Error = DisplayError>,
{
    let (m, t) = (w.metrics, w.theme);
    target.fill_solid(&rect(0, 0, m.width, m.header_h), t.header_bg)?;
    if let Some(rule) = t.header_rule {
        target.fill_solid(&rect(0, m.header_h - m.px(3.0), m.width, m.px(3.0)), rule)?;
    }
    let Some(current) = step else {
        let area = rect(m.margin, 0, m.width - 2 * m.margin, m.header_h);
        let line = [plain_title.to_owned()];
        return draw_lines_in(
            target,
            &w.fonts.bold,
            m.fonts.small,
            (t.header_text, t.header_bg),
            &line,
            area,
            Align::Left,
        );
    };
    let segments = super::layout::columns(
        rect(m.margin, m.px(14.0), m.width - 2 * m.margin, m.px(8.0)),
        steps.len() as i32,
        m.px(10.0),
    );
    for (i, (seg, label)) in segments.iter().zip(steps).enumerate() {
        let (bar, label_color, bold) = match i.cmp(&current) {
            std::cmp::Ordering::Less => (t.step_done, t.header_muted, false),
            std::cmp::Ordering::Equal => (t.step_current, t.header_text, true),
            std::cmp::Ordering::Greater => (t.step_todo, t.header_muted, false),
        };
        RoundedRectangle::with_equal_corners(*seg, Size::new(m.px(4.0) as u32, m.px(4.0) as u32))
            .into_styled(PrimitiveStyle::with_fill(bar))
            .draw(target)?;
        let font = if bold { &w.fonts.bold } else { &w.fonts.regular };
        let label = format!("{}. {label}", i + 1);
        let size = fit_size(font, &label, m.fonts.small, seg.size.width);
        let x = seg.top_left.x + (seg.size.width as i32 - measure(font, size, &label) as i32) / 2;
        draw_line(target, font, size, label_color, t.header_bg, &label, Point::new(x, m.px(30.0)))?;
    }
    Ok(())
}

/// Largest size ≤ `max` at which `s` fits in `width` (never below 60 % of `max`).
fn fit_size(font: &rusttype::Font<'static>, s: &str, max: u32, width: u32) -> u32 {
    let floor = (max * 3 / 5).max(8);
    (floor..=max).rev().find(|&size| measure(font, size, s) <= width).unwrap_or(floor)
}

/// Where the label of a button goes (inside the padding, right of a check box), and the box.
fn label_area(m: &Metrics, area: Rectangle, kind: ButtonKind) -> (Rectangle, Option<Rectangle>) {
    let pad = m.px(12.0);
    let label = rect(
        area.top_left.x + pad,
        area.top_left.y + m.px(4.0),
        area.size.width as i32 - 2 * pad,
        area.size.height as i32 - m.px(8.0),
    );
    if !matches!(kind, ButtonKind::Toggle { .. }) {
        return (label, None);
    }
    let side = m.px(26.0);
    let bx = rect(label.top_left.x, area.center().y - side / 2, side, side);
    let rest = rect(
        bx.top_left.x + side + m.px(8.0),
        label.top_left.y,
        label.size.width as i32 - side - m.px(8.0),
        label.size.height as i32,
    );
    (rest, Some(bx))
}

/// The label size a button would use on its own; buttons side by side use the smallest of
/// theirs, so that a row reads evenly.
pub(crate) fn label_size(w: &Writer<'_>, area: Rectangle, label: &str, kind: ButtonKind) -> u32 {
    let m = w.metrics;
    fit_label(w, label, m.fonts.button, label_area(m, area, kind).0, 3).1
}

/// Draws a button and returns its rectangle (for the layout).
pub(crate) fn button<T>(
    target: &mut T,
    w: &Writer<'_>,
    area: Rectangle,
    label: &str,
    kind: ButtonKind,
) -> Result<Rectangle, DisplayError>
where
    T: DrawTarget<Color = Rgb888, Error = DisplayError>,
{
    button_sized(target, w, area, label, kind, w.metrics.fonts.button)
}

/// [`button`] with the label no larger than `max_size`.
pub(crate) fn button_sized<T>(
    target: &mut T,
    w: &Writer<'_>,
    area: Rectangle,
    label: &str,
    kind: ButtonKind,
    max_size: u32,
) -> Result<Rectangle, DisplayError>
where
    T: DrawTarget<Color = Rgb888, Error = DisplayError>,
{
    let (m, t) = (w.metrics, w.theme);
    let (fill, fg, outline) = match kind {
        ButtonKind::Primary => (t.primary_bg, t.primary_text, t.outline),
        ButtonKind::Secondary | ButtonKind::Toggle { .. } => (t.secondary_bg, t.secondary_text, t.outline),
        ButtonKind::Disabled => (t.disabled_bg, t.disabled_text, t.disabled_text),
    };
    let style = PrimitiveStyleBuilder::new()
        .fill_color(fill)
        .stroke_color(outline)
        .stroke_width(t.outline_width)
        .stroke_alignment(embedded_graphics::primitives::StrokeAlignment::Inside)
        .build();
    RoundedRectangle::with_equal_corners(area, Size::new(m.radius, m.radius))
        .into_styled(style)
        .draw(target)?;
    let (text_area, bx) = label_area(m, area, kind);
    if let (ButtonKind::Toggle { on }, Some(bx)) = (kind, bx) {
        check_box(target, m, t.secondary_text, fill, bx, on)?;
    }
    let (lines, size) = fit_label(w, label, max_size.min(m.fonts.button), text_area, 3);
    draw_lines_in(target, &w.fonts.bold, size, (fg, fill), &lines, text_area, Align::Center)?;
    Ok(area)
}

/// One line at the largest size that fits, else up to `max_lines`; shrinks as little as
/// possible and never breaks inside a word ("Контрас-т") unless nothing else fits at all.
fn fit_label(w: &Writer<'_>, label: &str, max: u32, area: Rectangle, max_lines: usize) -> (Vec<String>, u32) {
    let floor = (max / 2).max(10);
    let fits = |size: u32, lines: &[String]| {
        line_height(size) * (lines.len() as i32 - 1) + size as i32 <= area.size.height as i32
    };
    let whole_words =
        |size: u32| pieces(label).all(|(p, _)| measure(&w.fonts.bold, size, p) <= area.size.width);
    for size in (floor..=max).rev() {
        if !whole_words(size) {
            continue;
        }
        let lines = wrap(&w.fonts.bold, size, label, area.size.width);
        if lines.len() <= max_lines && fits(size, &lines) {
            return (lines, size);
        }
    }
    // Long label in a small button: more lines, smaller, but still whole words if possible.
    for size in (8..floor).rev() {
        let lines = wrap(&w.fonts.bold, size, label, area.size.width);
        if whole_words(size) && fits(size, &lines) {
            return (lines, size);
        }
    }
    (wrap(&w.fonts.bold, 8, label, area.size.width), 8)
}

fn check_box<T>(
    target: &mut T,
    m: &Metrics,
    color: Rgb888,
    bg: Rgb888,
    bx: Rectangle,
    on: bool,
) -> Result<(), DisplayError>
where
    T: DrawTarget<Color = Rgb888, Error = DisplayError>,
{
    let stroke = m.px(3.0).max(2) as u32;
    bx.into_styled(
        PrimitiveStyleBuilder::new()
            .fill_color(if on { color } else { bg })
            .stroke_color(color)
            .stroke_width(stroke)
            .build(),
    )
    .draw(target)?;
    if on {
        let s = bx.size.width as i32;
        let o = bx.top_left;
        let mark = PrimitiveStyle::with_stroke(bg, stroke + 1);
        Line::new(o + Point::new(s / 5, s / 2), o + Point::new(s * 2 / 5, s * 3 / 4))
            .into_styled(mark)
            .draw(target)?;
        Line::new(o + Point::new(s * 2 / 5, s * 3 / 4), o + Point::new(s * 4 / 5, s / 4))
            .into_styled(mark)
            .draw(target)?;
    }
    Ok(())
}
