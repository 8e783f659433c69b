//! Simple drawings that explain a step without words: a passport on the reader, the face
//! oval, an information badge, a waiting ring.

use embedded_graphics::{
    pixelcolor::Rgb888,
    prelude::*,
    primitives::{Arc, Circle, Line, PrimitiveStyle, PrimitiveStyleBuilder, Rectangle, RoundedRectangle},
};
use kiosk_hal::DisplayError;

use super::layout::{rect, Metrics};
use super::theme::Theme;
use super::Preview;

/// A passport lying on the reader with contactless waves above it.
pub(crate) fn passport_on_reader<T>(
    target: &mut T,
    t: &Theme,
    m: &Metrics,
    area: Rectangle,
    waves: bool,
) -> Result<(), DisplayError>
where
    T: DrawTarget<Color = Rgb888, Error = DisplayError>,
{
    let side = (area.size.width as i32).min(area.size.height as i32 * 5 / 4);
    let c = area.center();
    let reader = rect(c.x - side / 2, c.y + side / 5, side, side / 5);
    let corner = |r: i32| Size::new(r.max(1) as u32, r.max(1) as u32);
    RoundedRectangle::with_equal_corners(reader, corner(m.px(10.0)))
        .into_styled(
            PrimitiveStyleBuilder::new()
                .fill_color(t.reader)
                .stroke_color(t.reader_top)
                .stroke_width(t.outline_width)
                .build(),
        )
        .draw(target)?;
    let pw = side * 9 / 20;
    let ph = side * 3 / 5;
    let passport = rect(c.x - pw / 2, c.y + side / 5 - ph + side / 12, pw, ph);
    RoundedRectangle::with_equal_corners(passport, corner(m.px(8.0)))
        .into_styled(
            PrimitiveStyleBuilder::new()
                .fill_color(t.passport)
                .stroke_color(t.passport_detail)
                .stroke_width(t.outline_width)
                .build(),
        )
        .draw(target)?;
    let detail = PrimitiveStyle::with_stroke(t.passport_detail, m.px(3.0).max(2) as u32);
    let emblem = pw * 2 / 5;
    Circle::new(Point::new(c.x - emblem / 2, passport.top_left.y + ph / 5), emblem as u32)
        .into_styled(detail)
        .draw(target)?;
    // The chip symbol under the emblem: what the reader talks to.
    let chip = rect(c.x - pw / 8, passport.top_left.y + ph * 3 / 5, pw / 4, ph / 7);
    chip.into_styled(PrimitiveStyle::with_fill(t.passport_detail)).draw(target)?;
    if waves {
        let top = passport.top_left.y;
        for i in 1..=3 {
            let d = (pw / 4 + i * m.px(34.0)) as u32;
            let centre = Point::new(c.x, top - m.px(4.0));
            Arc::with_center(centre, d, Angle::from_degrees(-135.0), Angle::from_degrees(90.0))
                .into_styled(PrimitiveStyle::with_stroke(t.title, m.px(4.0).max(2) as u32))
                .draw(target)?;
        }
    }
    Ok(())
}

/// Camera preview area: the picture (if any), the oval the face should fill, the face box.
pub(crate) fn face_guide<T>(
    target: &mut T,
    t: &Theme,
    m: &Metrics,
    area: Rectangle,
    face_box: Option<Rectangle>,
    preview: Option<&Preview>,
) -> Result<(), DisplayError>
where
    T: DrawTarget<Color = Rgb888, Error = DisplayError>,
{
    let frame = RoundedRectangle::with_equal_corners(area, Size::new(m.radius, m.radius));
    frame.into_styled(PrimitiveStyle::with_fill(t.preview_bg)).draw(target)?;
    if let Some(p) = preview {
        draw_preview(target, p, area.offset(-(t.outline_width as i32)))?;
    }
    frame
        .into_styled(
            PrimitiveStyleBuilder::new()
                .stroke_color(t.surface_border)
                .stroke_width(t.outline_width)
                .stroke_alignment(embedded_graphics::primitives::StrokeAlignment::Inside)
                .build(),
        )
        .draw(target)?;
    let h = area.size.height as i32 * 3 / 4;
    let w = h * 3 / 4;
    oval(target, area.center(), w, h, t.guide, m.px(5.0).max(3))?;
    if let Some(face) = face_box {
        // Only inside the preview: a box from a confused detector must not cover the text.
        let inside = face.intersection(&area.offset(-(t.outline_width as i32)));
        if inside.size.width > 0 && inside.size.height > 0 {
            inside
                .into_styled(PrimitiveStyle::with_stroke(t.face_box, m.px(3.0).max(2) as u32))
                .draw(target)?;
        }
    }
    Ok(())
}

/// Where a `w`x`h` picture goes in `area`: as large as fits, aspect kept, centred.
pub(crate) fn fit_picture(w: u32, h: u32, area: Rectangle) -> Rectangle {
    if w == 0 || h == 0 {
        return rect(area.center().x, area.center().y, 0, 0);
    }
    let k = (area.size.width as f32 / w as f32).min(area.size.height as f32 / h as f32);
    let (dw, dh) = ((w as f32 * k).floor() as i32, (h as f32 * k).floor() as i32);
    let c = area.center();
    rect(c.x - dw / 2, c.y - dh / 2, dw, dh)
}

/// The camera picture scaled (nearest pixel) into `area`. A picture whose bytes do not match
/// its size is not drawn (the preview stays dark) rather than drawn wrong.
fn draw_preview<T>(target: &mut T, p: &Preview, area: Rectangle) -> Result<(), DisplayError>
where
    T: DrawTarget<Color = Rgb888, Error = DisplayError>,
{
    let expected = (p.width as usize).checked_mul(p.height as usize).and_then(|n| n.checked_mul(3));
    if expected != Some(p.rgb.len()) || p.rgb.is_empty() {
        tracing::warn!(
            width = p.width,
            height = p.height,
            bytes = p.rgb.len(),
            "preview picture skipped: wrong size"
        );
        return Ok(());
    }
    let dst = fit_picture(p.width, p.height, area);
    let (dw, dh) = (dst.size.width.max(1), dst.size.height.max(1));
    let (sw, sh) = (p.width as u64, p.height as u64);
    let colors = (0..dst.size.height).flat_map(move |y| {
        (0..dst.size.width).map(move |x| {
            let sx = (u64::from(x) * sw / u64::from(dw)).min(sw - 1);
            let sy = (u64::from(y) * sh / u64::from(dh)).min(sh - 1);
            let i = ((sy * sw + sx) * 3) as usize;
            Rgb888::new(p.rgb[i], p.rgb[i + 1], p.rgb[i + 2])
        })
    });
    target.fill_contiguous(&dst, colors)
}

/// What a round badge shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Badge {
    /// A tick: done.
    Check,
    /// An "i", for explanations.
    Info,
}

/// A round badge in the primary colour with its mark.
pub(crate) fn badge<T>(
    target: &mut T,
    t: &Theme,
    center: Point,
    diameter: i32,
    mark: Badge,
) -> Result<(), DisplayError>
where
    T: DrawTarget<Color = Rgb888, Error = DisplayError>,
{
    Circle::with_center(center, diameter as u32)
        .into_styled(PrimitiveStyle::with_fill(t.primary_bg))
        .draw(target)?;
    let d = diameter;
    match mark {
        Badge::Check => {
            let stroke = PrimitiveStyle::with_stroke(t.primary_text, (d / 9).max(3) as u32);
            let a = center + Point::new(-d * 2 / 9, 0);
            let b = center + Point::new(-d / 18, d / 6);
            let c = center + Point::new(d / 4, -d / 6);
            Line::new(a, b).into_styled(stroke).draw(target)?;
            Line::new(b, c).into_styled(stroke).draw(target)?;
            Circle::with_center(b, (d / 9).max(3) as u32)
                .into_styled(PrimitiveStyle::with_fill(t.primary_text))
                .draw(target)?;
        }
        Badge::Info => {
            let s = d / 10;
            Circle::with_center(center - Point::new(0, d / 4), (s * 2) as u32)
                .into_styled(PrimitiveStyle::with_fill(t.primary_text))
                .draw(target)?;
            rect(center.x - s, center.y - d / 10, s * 2, d * 7 / 20)
                .into_styled(PrimitiveStyle::with_fill(t.primary_text))
                .draw(target)?;
        }
    }
    Ok(())
}

/// An ellipse outline as short thick segments with round joints. embedded-graphics'
/// `Ellipse` overflows its i32 maths above ~200 px and draws only pieces of the outline.
fn oval<T>(
    target: &mut T,
    center: Point,
    w: i32,
    h: i32,
    color: Rgb888,
    stroke: i32,
) -> Result<(), DisplayError>
where
    T: DrawTarget<Color = Rgb888, Error = DisplayError>,
{
    const SEGMENTS: usize = 96;
    let (rx, ry) = (w as f32 / 2.0, h as f32 / 2.0);
    let at = |i: usize| {
        let a = i as f32 * std::f32::consts::TAU / SEGMENTS as f32;
        center + Point::new((a.cos() * rx).round() as i32, (a.sin() * ry).round() as i32)
    };
    for i in 0..SEGMENTS {
        Line::new(at(i), at(i + 1))
            .into_styled(PrimitiveStyle::with_stroke(color, stroke as u32))
            .draw(target)?;
        Circle::with_center(at(i), stroke as u32)
            .into_styled(PrimitiveStyle::with_fill(color))
            .draw(target)?;
    }
    Ok(())
}

/// A ring of dots, brighter towards the head: "working on it".
pub(crate) fn waiting_ring<T>(
    target: &mut T,
    t: &Theme,
    center: Point,
    diameter: i32,
) -> Result<(), DisplayError>
where
    T: DrawTarget<Color = Rgb888, Error = DisplayError>,
{
    let r = diameter as f32 / 2.0;
    let dot = (diameter / 7).max(4);
    for i in 0..8 {
        let a = i as f32 * std::f32::consts::TAU / 8.0;
        let p = center + Point::new((a.cos() * (r - dot as f32)) as i32, (a.sin() * (r - dot as f32)) as i32);
        let color = if i < 3 { t.primary_bg } else { blend(t.primary_bg, t.background, 0.35) };
        Circle::with_center(p, dot as u32).into_styled(PrimitiveStyle::with_fill(color)).draw(target)?;
    }
    Ok(())
}

fn blend(a: Rgb888, b: Rgb888, k: f32) -> Rgb888 {
    let mix = |x: u8, y: u8| (x as f32 * k + y as f32 * (1.0 - k)).round() as u8;
    Rgb888::new(mix(a.r(), b.r()), mix(a.g(), b.g()), mix(a.b(), b.b()))
}
