//! The camera picture for the face-capture screen: mirrored (people expect a mirror), scaled
//! to the preview area, RGB. Memory only. When the screens are written to files (the `memory`
//! display of the demo and tests) the picture is pixelated first, so that no face image ever
//! reaches the disk.

use opencv::{core, imgproc, prelude::*};

use crate::app::AppError;
use crate::flow::Preview;

/// Side of the blocks a redacted preview is made of, in preview pixels.
const REDACT_BLOCK: i32 = 16;

pub fn preview_of(frame: &core::Mat, fit: (u32, u32), redact: bool) -> Result<Preview, AppError> {
    let cv = |e: opencv::Error| AppError::internal("camera preview", e);
    let (w, h) = (frame.cols(), frame.rows());
    if w <= 0 || h <= 0 || fit.0 == 0 || fit.1 == 0 {
        return Err(AppError::internal("camera preview", "empty frame"));
    }
    let scale = (fit.0 as f64 / w as f64).min(fit.1 as f64 / h as f64);
    let size = core::Size::new(((w as f64 * scale) as i32).max(1), ((h as f64 * scale) as i32).max(1));
    let mut scaled = core::Mat::default();
    imgproc::resize(frame, &mut scaled, size, 0.0, 0.0, imgproc::INTER_AREA).map_err(cv)?;
    if redact {
        let small = core::Size::new((size.width / REDACT_BLOCK).max(1), (size.height / REDACT_BLOCK).max(1));
        let mut tiny = core::Mat::default();
        imgproc::resize(&scaled, &mut tiny, small, 0.0, 0.0, imgproc::INTER_AREA).map_err(cv)?;
        imgproc::resize(&tiny, &mut scaled, size, 0.0, 0.0, imgproc::INTER_NEAREST).map_err(cv)?;
    }
    let mut mirrored = core::Mat::default();
    core::flip(&scaled, &mut mirrored, 1).map_err(cv)?;
    let mut rgb = core::Mat::default();
    imgproc::cvt_color_def(&mirrored, &mut rgb, imgproc::COLOR_BGR2RGB).map_err(cv)?;
    let bytes = rgb.data_bytes().map_err(cv)?.to_vec();
    Ok(Preview { width: size.width as u32, height: size.height as u32, rgb: bytes })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 64x48 frame, left half blue, right half red (BGR), with a fine checkerboard on top.
    fn frame() -> core::Mat {
        let mut m = core::Mat::new_rows_cols_with_default(48, 64, core::CV_8UC3, core::Scalar::all(0.0)).unwrap();
        for y in 0..48 {
            for x in 0..64 {
                let px = m.at_2d_mut::<core::Vec3b>(y, x).unwrap();
                let fine = if (x + y) % 2 == 0 { 40 } else { 0 };
                *px = if x < 32 { core::Vec3b::from([200, fine, 0]) } else { core::Vec3b::from([0, fine, 200]) };
            }
        }
        m
    }

    #[test]
    fn the_preview_is_mirrored_rgb_and_fits_the_area() {
        let p = preview_of(&frame(), (32, 32), false).unwrap();
        assert_eq!((p.width, p.height), (32, 24));
        assert_eq!(p.rgb.len(), 32 * 24 * 3);
        // Mirrored: the frame's red right half is now on the left; RGB order puts red first.
        assert!(p.rgb[0] > 150 && p.rgb[2] < 50, "{:?}", &p.rgb[..3]);
        let last = (24 * 32 - 1) * 3;
        assert!(p.rgb[last + 2] > 150 && p.rgb[last] < 50);
    }

    #[test]
    fn a_redacted_preview_keeps_no_detail() {
        let sharp = preview_of(&frame(), (64, 48), false).unwrap();
        let redacted = preview_of(&frame(), (64, 48), true).unwrap();
        let detail = |p: &Preview| p.rgb.chunks(3).zip(p.rgb.chunks(3).skip(1)).filter(|(a, b)| a[1] != b[1]).count();
        assert!(detail(&sharp) > 1000);
        assert!(detail(&redacted) < 100, "{}", detail(&redacted));
    }
}
