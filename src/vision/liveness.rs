//! Passive liveness (presentation-attack detection): the MiniFASNet pair of the
//! Silent-Face-Anti-Spoofing project, each on its own context crop around the face, fused.

use opencv::{
    core::{Mat, Rect, Size},
    imgproc,
    prelude::*,
};
use ort::{session::Session, value::Tensor};

use super::{
    tensor::{to_nchw, ChannelOrder},
    Detection, VisionError,
};

const CROP_SIDE: i32 = 80;
/// Class index of a live face in both models' outputs (0 and 2 are attack types).
const REAL: usize = 1;

/// The fused verdict on one face.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LivenessVerdict {
    pub live: bool,
    /// Fused probability that the face is a live person (mean of the two models).
    pub real_probability: f32,
    /// The winning class's fused probability (how sure the models are of `live`).
    pub confidence: f32,
    pub threshold: f32,
}

pub struct PassiveLiveness {
    /// (session, crop scale): MiniFASNetV2 sees 2.7× the face box, V1SE 4×.
    models: Vec<(Session, f32, &'static str)>,
    threshold: f32,
}

impl PassiveLiveness {
    pub(crate) fn new(v2: Session, v1se: Session, threshold: f32) -> Self {
        Self { models: vec![(v2, 2.7, "MiniFASNetV2"), (v1se, 4.0, "MiniFASNetV1SE")], threshold }
    }

    /// Live when the fused arg-max is the live class and its probability reaches the threshold.
    pub fn assess(&mut self, image: &Mat, face: &Detection) -> Result<LivenessVerdict, VisionError> {
        let mut fused = [0.0f32; 3];
        for (session, scale, name) in &mut self.models {
            let crop = context_crop(image, face.bbox, *scale)?;
            let input = to_nchw(&crop, ChannelOrder::Bgr)?;
            let infer_err = |reason: String| VisionError::Inference { model: (*name).into(), reason };
            let tensor = Tensor::from_array(input).map_err(|e| infer_err(e.to_string()))?;
            let outputs =
                session.run(ort::inputs!["input" => tensor]).map_err(|e| infer_err(e.to_string()))?;
            let prob = outputs.get("prob").ok_or_else(|| VisionError::OutputShape {
                model: (*name).into(),
                reason: "no output `prob`".into(),
            })?;
            let (_, values) = prob.try_extract_tensor::<f32>().map_err(|e| infer_err(e.to_string()))?;
            if values.len() != 3 || values.iter().any(|v| !v.is_finite()) {
                return Err(VisionError::OutputShape {
                    model: (*name).into(),
                    reason: format!("{} class scores", values.len()),
                });
            }
            for (sum, v) in fused.iter_mut().zip(values) {
                *sum += v;
            }
        }
        Ok(fuse(fused, self.models.len() as f32, self.threshold))
    }
}

fn fuse(sums: [f32; 3], models: f32, threshold: f32) -> LivenessVerdict {
    let mean = sums.map(|v| v / models);
    let winner = (0..3).max_by(|a, b| mean[*a].total_cmp(&mean[*b])).unwrap_or(0);
    LivenessVerdict {
        live: winner == REAL && mean[REAL] >= threshold,
        real_probability: mean[REAL],
        confidence: mean[winner],
        threshold,
    }
}

/// The square-ish context box of `scale` × the face box around its centre, kept inside the
/// image by shifting it (not cutting it), its scale reduced when the image is too small —
/// the crop geometry the models were trained with.
pub(crate) fn context_box(image_w: i32, image_h: i32, bbox: [f32; 4], scale: f32) -> Option<Rect> {
    let [x, y, w, h] = bbox;
    if w <= 0.0 || h <= 0.0 || image_w < 2 || image_h < 2 {
        return None;
    }
    let (max_x, max_y) = ((image_w - 1) as f32, (image_h - 1) as f32);
    let scale = scale.min(max_y / h).min(max_x / w);
    let (new_w, new_h) = (w * scale, h * scale);
    let (cx, cy) = (x + w / 2.0, y + h / 2.0);
    let (mut left, mut top) = (cx - new_w / 2.0, cy - new_h / 2.0);
    let (mut right, mut bottom) = (cx + new_w / 2.0, cy + new_h / 2.0);
    if left < 0.0 {
        right -= left;
        left = 0.0;
    }
    if top < 0.0 {
        bottom -= top;
        top = 0.0;
    }
    if right > max_x {
        left -= right - max_x;
        right = max_x;
    }
    if bottom > max_y {
        top -= bottom - max_y;
        bottom = max_y;
    }
    let (left, top) = (left.max(0.0) as i32, top.max(0.0) as i32);
    let (right, bottom) = (right as i32, bottom as i32);
    // Inclusive corners, as the training code cropped them.
    let rect =
        Rect::new(left, top, (right - left + 1).min(image_w - left), (bottom - top + 1).min(image_h - top));
    (rect.width > 0 && rect.height > 0).then_some(rect)
}

fn context_crop(image: &Mat, bbox: [f32; 4], scale: f32) -> Result<Mat, VisionError> {
    let rect = context_box(image.cols(), image.rows(), bbox, scale)
        .ok_or_else(|| VisionError::Undecodable { what: "face box outside the image".into() })?;
    let region = Mat::roi(image, rect)?;
    let mut crop = Mat::default();
    imgproc::resize(&region, &mut crop, Size::new(CROP_SIDE, CROP_SIDE), 0.0, 0.0, imgproc::INTER_LINEAR)?;
    Ok(crop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn box_in_the_middle_is_scaled_about_its_centre() {
        let rect = context_box(1000, 1000, [450.0, 450.0, 100.0, 100.0], 2.7).unwrap();
        assert_eq!((rect.x, rect.y, rect.width, rect.height), (365, 365, 271, 271));
    }

    #[test]
    fn box_at_the_edge_is_shifted_not_cut() {
        let rect = context_box(1000, 800, [0.0, 0.0, 100.0, 100.0], 4.0).unwrap();
        assert_eq!((rect.x, rect.y), (0, 0));
        assert_eq!((rect.width, rect.height), (401, 401));
    }

    #[test]
    fn scale_shrinks_when_the_image_is_too_small() {
        let rect = context_box(300, 200, [100.0, 50.0, 100.0, 100.0], 4.0).unwrap();
        assert!(rect.height <= 200 && rect.width <= 300);
    }

    #[test]
    fn fusion_needs_the_live_class_to_win() {
        let live = fuse([0.1, 1.8, 0.1], 2.0, 0.5);
        assert!(live.live && (live.real_probability - 0.9).abs() < 1e-6);
        let print = fuse([1.2, 0.7, 0.1], 2.0, 0.5);
        assert!(!print.live && (print.confidence - 0.6).abs() < 1e-6);
        let unsure = fuse([0.5, 0.9, 0.6], 2.0, 0.5);
        assert!(!unsure.live, "live class wins with 0.45 < threshold");
    }

    proptest! {
        #[test]
        fn context_box_always_lies_inside_the_image(
            w in 2i32..4000, h in 2i32..4000,
            x in -500.0f32..4000.0, y in -500.0f32..4000.0,
            bw in 1.0f32..3000.0, bh in 1.0f32..3000.0, scale in 0.5f32..6.0,
        ) {
            if let Some(r) = context_box(w, h, [x, y, bw, bh], scale) {
                prop_assert!(r.x >= 0 && r.y >= 0 && r.width > 0 && r.height > 0);
                prop_assert!(r.x + r.width <= w && r.y + r.height <= h);
            }
        }
    }
}
