//! Alignment of a detected face to SFace's 112×112 template by a 5-point similarity transform.

use opencv::{
    core::{Mat, Scalar, Size, BORDER_CONSTANT},
    imgproc,
};

use super::{Detection, VisionError};

pub const ALIGNED_SIZE: i32 = 112;

/// Where the eyes, nose tip and mouth corners sit in the 112×112 crop SFace was trained on
/// (the same template OpenCV's `FaceRecognizerSF::alignCrop` uses).
const TEMPLATE: [[f64; 2]; 5] =
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]];

/// Least-squares similarity (rotation, uniform scale, translation) taking `from` onto `to`,
/// as the 2×3 matrix [[a, -b, tx], [b, a, ty]].
pub(crate) fn similarity_transform(from: &[[f64; 2]; 5], to: &[[f64; 2]; 5]) -> Option<[[f64; 3]; 2]> {
    let n = from.len() as f64;
    let mean = |p: &[[f64; 2]; 5]| {
        let (sx, sy) = p.iter().fold((0.0, 0.0), |(x, y), q| (x + q[0], y + q[1]));
        (sx / n, sy / n)
    };
    let (fx, fy) = mean(from);
    let (tx, ty) = mean(to);
    let (mut dot, mut cross, mut norm) = (0.0, 0.0, 0.0);
    for (p, q) in from.iter().zip(to) {
        let (x, y) = (p[0] - fx, p[1] - fy);
        let (u, v) = (q[0] - tx, q[1] - ty);
        dot += x * u + y * v;
        cross += x * v - y * u;
        norm += x * x + y * y;
    }
    if norm < 1e-9 {
        return None; // all landmarks on one point: no face geometry to align
    }
    let a = dot / norm;
    let b = cross / norm;
    Some([[a, -b, tx - (a * fx - b * fy)], [b, a, ty - (b * fx + a * fy)]])
}

/// The 112×112 BGR crop of `face` in `frame`, eyes and mouth where SFace expects them.
pub fn align_face(frame: &Mat, face: &Detection) -> Result<Mat, VisionError> {
    let from = face.landmarks.map(|p| [f64::from(p[0]), f64::from(p[1])]);
    let matrix = similarity_transform(&from, &TEMPLATE)
        .ok_or_else(|| VisionError::Undecodable { what: "face landmarks (degenerate)".into() })?;
    let m = Mat::from_slice_2d(&matrix)?;
    let mut aligned = Mat::default();
    imgproc::warp_affine(
        frame,
        &mut aligned,
        &m,
        Size::new(ALIGNED_SIZE, ALIGNED_SIZE),
        imgproc::INTER_LINEAR,
        BORDER_CONSTANT,
        Scalar::all(0.0),
    )?;
    Ok(aligned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn apply(m: &[[f64; 3]; 2], p: [f64; 2]) -> [f64; 2] {
        [m[0][0] * p[0] + m[0][1] * p[1] + m[0][2], m[1][0] * p[0] + m[1][1] * p[1] + m[1][2]]
    }

    #[test]
    fn template_onto_itself_is_identity() {
        let m = similarity_transform(&TEMPLATE, &TEMPLATE).unwrap();
        for (row, expected) in m.iter().zip([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]) {
            for (v, e) in row.iter().zip(expected) {
                assert!((v - e).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn degenerate_landmarks_give_none() {
        assert!(similarity_transform(&[[5.0, 5.0]; 5], &TEMPLATE).is_none());
    }

    proptest! {
        /// Any rotated, scaled, shifted copy of the template maps exactly back onto it.
        #[test]
        fn recovers_any_similarity(angle in -3.1f64..3.1, scale in 0.2f64..8.0, dx in -500.0f64..500.0, dy in -500.0f64..500.0) {
            let (s, c) = angle.sin_cos();
            let moved = TEMPLATE.map(|p| [scale * (c * p[0] - s * p[1]) + dx, scale * (s * p[0] + c * p[1]) + dy]);
            let m = similarity_transform(&moved, &TEMPLATE).unwrap();
            for (p, q) in moved.iter().zip(TEMPLATE) {
                let r = apply(&m, *p);
                prop_assert!((r[0] - q[0]).abs() < 1e-6 && (r[1] - q[1]).abs() < 1e-6);
            }
        }
    }
}
