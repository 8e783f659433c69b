//! The internal passport's photo page (page 3: portrait, Cyrillic fields, the series and number
//! printed down the right edge, the two-line record in OCR-B at the foot), drawn flat at a given
//! resolution under each light.
//!
//! How the lights show it: under infrared (about 870 nm) the colour background and the red
//! series and number vanish, while carbon inks — the printed fields, the record — and the photo
//! stay dark; under ultraviolet (about 365 nm) a genuine blank is dull violet with fluorescent
//! fibres, while office paper with optical brighteners (a colour copy) glows blue-white and
//! a colour printer's composite black fades under infrared.

use opencv::core::{self, Mat, Point, Rect, Scalar, Size, CV_8UC3};
use opencv::imgproc;
use opencv::prelude::*;

use super::text::{draw, Fonts, Style};
use crate::imager::{ImagerError, Light};

/// Page 3 of the passport, millimetres.
pub const PAGE_MM: (f32, f32) = (88.0, 125.0);

/// What the page prints, as the visual zone shows it (already formatted) and the record.
#[derive(Clone)]
pub struct PageContent {
    pub surname: String,
    pub given_name: String,
    pub patronymic: String,
    /// "МУЖ." or "ЖЕН."
    pub sex: String,
    /// "19.07.1980"
    pub birth_date: String,
    pub birth_place: String,
    /// "45 09 235857"
    pub series_and_number: String,
    pub mrz: [String; 2],
    /// The holder's photo, BGR; `None` draws a neutral silhouette.
    pub portrait: Option<Mat>,
}

impl std::fmt::Debug for PageContent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PageContent { <redacted> }")
    }
}

/// What the page is printed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Paper {
    #[default]
    Genuine,
    /// A colour copy on office paper.
    ColourCopy,
}

fn cv(e: opencv::Error) -> ImagerError {
    ImagerError::Render(e.to_string())
}

/// A tiny deterministic generator for the fibres: simulator content, not cryptography.
struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
}

fn fill(size: Size, bgr: [u8; 3]) -> Result<Mat, ImagerError> {
    Mat::new_size_with_default(
        size,
        CV_8UC3,
        Scalar::new(f64::from(bgr[0]), f64::from(bgr[1]), f64::from(bgr[2]), 0.0),
    )
    .map_err(cv)
}

fn silhouette(size: Size) -> Result<Mat, ImagerError> {
    let mut m = fill(size, [190, 190, 185])?;
    let (w, h) = (size.width, size.height);
    imgproc::ellipse(
        &mut m,
        Point::new(w / 2, h * 2 / 5),
        Size::new(w / 4, h / 4),
        0.0,
        0.0,
        360.0,
        Scalar::new(120.0, 140.0, 170.0, 0.0),
        -1,
        imgproc::LINE_AA,
        0,
    )
    .map_err(cv)?;
    imgproc::ellipse(
        &mut m,
        Point::new(w / 2, h),
        Size::new(w * 2 / 5, h / 3),
        0.0,
        180.0,
        360.0,
        Scalar::new(70.0, 60.0, 60.0, 0.0),
        -1,
        imgproc::LINE_AA,
        0,
    )
    .map_err(cv)?;
    Ok(m)
}

/// The flat page under `light` at `px_per_mm`.
pub fn render(
    content: &PageContent,
    paper: Paper,
    light: Light,
    px_per_mm: f32,
    fonts: &Fonts,
) -> Result<Mat, ImagerError> {
    let mm = |v: f32| v * px_per_mm;
    let size = Size::new(mm(PAGE_MM.0).round() as i32, mm(PAGE_MM.1).round() as i32);
    let copy = paper == Paper::ColourCopy;
    let background = match (light, copy) {
        (Light::White, _) => [222, 226, 240],
        (Light::Infrared, _) => [205, 205, 205],
        (Light::Ultraviolet, false) => [70, 28, 40],
        (Light::Ultraviolet, true) => [250, 232, 215],
    };
    let mut page = fill(size, background)?;
    // The guilloche background: colour ink, visible in white light only (and on a copy under UV,
    // where the glowing paper shows it as shadow).
    if light == Light::White || (light == Light::Ultraviolet && copy) {
        let colour = if light == Light::White {
            Scalar::new(200.0, 205.0, 232.0, 0.0)
        } else {
            Scalar::new(215.0, 200.0, 190.0, 0.0)
        };
        for k in 0..40 {
            let mut pts = core::Vector::<Point>::new();
            for i in 0..=60 {
                let x = size.width as f32 * i as f32 / 60.0;
                let y = mm(3.0 * k as f32) + mm(1.5) * (x / mm(6.0) + k as f32).sin();
                pts.push(Point::new(x as i32, y as i32));
            }
            let polys = core::Vector::<core::Vector<Point>>::from_iter([pts]);
            imgproc::polylines(&mut page, &polys, false, colour, 1, imgproc::LINE_AA, 0).map_err(cv)?;
        }
    }
    // Fluorescent fibres of a genuine blank under UV.
    if light == Light::Ultraviolet && !copy {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        for _ in 0..120 {
            let (x, y) = (rng.next() * size.width as f32, rng.next() * size.height as f32);
            let (dx, dy) = ((rng.next() - 0.5) * mm(4.0), (rng.next() - 0.5) * mm(4.0));
            let colour = match (rng.next() * 3.0) as u8 {
                0 => Scalar::new(60.0, 60.0, 240.0, 0.0),
                1 => Scalar::new(80.0, 230.0, 80.0, 0.0),
                _ => Scalar::new(60.0, 220.0, 240.0, 0.0),
            };
            imgproc::line(
                &mut page,
                Point::new(x as i32, y as i32),
                Point::new((x + dx) as i32, (y + dy) as i32),
                colour,
                1,
                imgproc::LINE_AA,
                0,
            )
            .map_err(cv)?;
        }
    }

    // Portrait, 35 × 45 mm.
    let photo_rect = Rect::new(mm(5.0) as i32, mm(40.0) as i32, mm(35.0) as i32, mm(45.0) as i32);
    let photo = match &content.portrait {
        Some(p) if !p.empty() => p.clone(),
        _ => silhouette(photo_rect.size())?,
    };
    let mut scaled = Mat::default();
    imgproc::resize(&photo, &mut scaled, photo_rect.size(), 0.0, 0.0, imgproc::INTER_AREA).map_err(cv)?;
    let shown = match light {
        Light::White => scaled,
        Light::Infrared => {
            // The printed photo absorbs IR: a grey picture, a little lighter.
            let mut grey = Mat::default();
            imgproc::cvt_color(&scaled, &mut grey, imgproc::COLOR_BGR2GRAY, 0).map_err(cv)?;
            let mut bgr = Mat::default();
            imgproc::cvt_color(&grey, &mut bgr, imgproc::COLOR_GRAY2BGR, 0).map_err(cv)?;
            let mut lighter = Mat::default();
            bgr.convert_to(&mut lighter, -1, if copy { 0.3 } else { 0.8 }, if copy { 170.0 } else { 40.0 })
                .map_err(cv)?;
            lighter
        }
        Light::Ultraviolet => {
            let mut dim = Mat::default();
            scaled.convert_to(&mut dim, -1, if copy { 0.9 } else { 0.25 }, 0.0).map_err(cv)?;
            dim
        }
    };
    let mut roi = Mat::roi_mut(&mut page, photo_rect).map_err(cv)?;
    shown.copy_to(&mut roi).map_err(cv)?;

    // Printed text: carbon black (a copy's composite black fades under IR).
    let ink: [u8; 3] = match (light, copy) {
        (Light::Infrared, true) => [175, 175, 175],
        (Light::Ultraviolet, false) => [30, 10, 20],
        _ => [25, 25, 30],
    };
    let label: [u8; 3] = match light {
        Light::White => [110, 100, 150],
        Light::Infrared => background,
        Light::Ultraviolet => [90, 40, 60],
    };
    let value_h = mm(3.2);
    let label_h = mm(1.6);
    let x = mm(43.0);
    let rows: [(&str, &str, f32); 3] = [
        ("Фамилия", &content.surname, 14.0),
        ("Имя", &content.given_name, 24.0),
        ("Отчество", &content.patronymic, 34.0),
    ];
    for (name, value, y) in rows {
        draw(
            &mut page,
            &fonts.regular,
            name,
            (x, mm(y - 4.0)),
            Style { height: label_h, colour: label, pitch: None },
        )?;
        draw(
            &mut page,
            &fonts.bold,
            &value.to_uppercase(),
            (x, mm(y)),
            Style { height: value_h, colour: ink, pitch: None },
        )?;
    }
    draw(
        &mut page,
        &fonts.regular,
        "Пол",
        (x, mm(40.0)),
        Style { height: label_h, colour: label, pitch: None },
    )?;
    draw(
        &mut page,
        &fonts.bold,
        &content.sex,
        (x, mm(44.5)),
        Style { height: value_h, colour: ink, pitch: None },
    )?;
    draw(
        &mut page,
        &fonts.regular,
        "Дата рождения",
        (mm(55.0), mm(40.0)),
        Style { height: label_h, colour: label, pitch: None },
    )?;
    draw(
        &mut page,
        &fonts.bold,
        &content.birth_date,
        (mm(55.0), mm(44.5)),
        Style { height: value_h, colour: ink, pitch: None },
    )?;
    draw(
        &mut page,
        &fonts.regular,
        "Место рождения",
        (x, mm(51.0)),
        Style { height: label_h, colour: label, pitch: None },
    )?;
    draw(
        &mut page,
        &fonts.bold,
        &content.birth_place.to_uppercase(),
        (x, mm(55.5)),
        Style { height: value_h * 0.8, colour: ink, pitch: None },
    )?;

    // Series and number down the right edge, red (gone under IR).
    if light != Light::Infrared {
        let red = if light == Light::White { [40, 40, 200] } else { [60, 40, 150] };
        let strip_size = Size::new(mm(60.0) as i32, mm(6.0) as i32);
        let mut strip = fill(strip_size, [0, 0, 0])?;
        draw(
            &mut strip,
            &fonts.bold,
            &content.series_and_number,
            (mm(1.0), mm(4.8)),
            Style { height: mm(3.6), colour: [255, 255, 255], pitch: None },
        )?;
        let mut rotated = Mat::default();
        core::rotate(&strip, &mut rotated, core::ROTATE_90_COUNTERCLOCKWISE).map_err(cv)?;
        let at = Rect::new(mm(PAGE_MM.0 - 7.5) as i32, mm(8.0) as i32, rotated.cols(), rotated.rows());
        let mut region = Mat::roi_mut(&mut page, at).map_err(cv)?;
        let colour = fill(at.size(), red)?;
        let mut mask = Mat::default();
        imgproc::cvt_color(&rotated, &mut mask, imgproc::COLOR_BGR2GRAY, 0).map_err(cv)?;
        let mut binary = Mat::default();
        imgproc::threshold(&mask, &mut binary, 100.0, 255.0, imgproc::THRESH_BINARY).map_err(cv)?;
        colour.copy_to_masked(&mut region, &binary).map_err(cv)?;
    }

    // The record: 44 characters at a fixed pitch across the foot of the page.
    let pitch = mm(80.0) / 44.0;
    for (i, line) in content.mrz.iter().enumerate() {
        draw(
            &mut page,
            &fonts.ocr_b,
            line,
            (mm(4.0), mm(106.0 + 8.0 * i as f32)),
            Style { height: mm(2.2), colour: ink, pitch: Some(pitch) },
        )?;
    }
    Ok(page)
}
