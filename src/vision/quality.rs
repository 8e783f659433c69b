//! Face image quality gates, in the spirit of ISO/IEC 29794-5 (BSI OFIQ is its reference
//! implementation): one face, size, head pose from landmarks, sharpness, exposure and
//! illumination uniformity. Each gate gives a measured value, pass/fail against a configured
//! threshold, and what the person should do.

use opencv::{
    core::{self, Mat, Rect, Scalar},
    imgproc,
};

use super::{Detection, VisionError};

/// Thresholds from the `[face.quality]` configuration (`wiring::quality_thresholds`); `Default`
/// is the built-in configuration's, for tests.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct QualityThresholds {
    pub min_inter_eye_px: f32,
    /// Largest face width as a fraction of the frame width (closer means cut off or distorted).
    pub max_face_width_ratio: f32,
    pub max_yaw_deg: f32,
    pub max_pitch_deg: f32,
    pub max_roll_deg: f32,
    /// Variance of the Laplacian of the aligned face, below which it is blurred.
    pub min_sharpness: f32,
    /// Mean grey level range of the aligned face.
    pub min_brightness: f32,
    pub max_brightness: f32,
    /// Darker half of the face / brighter half; lower means one side is in shadow.
    pub min_uniformity: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    SingleFace,
    InterEyeDistance,
    FaceNotTooClose,
    Yaw,
    Pitch,
    Roll,
    Sharpness,
    Exposure,
    Uniformity,
}

/// What the person should do to pass a gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advice {
    OnePersonOnly,
    ComeCloser,
    MoveBack,
    LookAtCamera,
    HoldStill,
    TooDark,
    TooBright,
    UnevenLight,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GateResult {
    pub gate: Gate,
    pub value: f32,
    pub passed: bool,
    pub advice: Advice,
}

/// Head pose estimated from the five landmarks, degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeadPose {
    /// Positive: the person turned to their left (nose moves to the image's right).
    pub yaw: f32,
    /// Positive: looking down.
    pub pitch: f32,
    /// Positive: head tilted clockwise in the image.
    pub roll: f32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QualityReport {
    pub gates: Vec<GateResult>,
    pub pose: HeadPose,
}

impl QualityReport {
    pub fn passed(&self) -> bool {
        self.gates.iter().all(|g| g.passed)
    }

    /// The advice of the first failed gate (gates are ordered by what to fix first).
    pub fn advice(&self) -> Option<Advice> {
        self.gates.iter().find(|g| !g.passed).map(|g| g.advice)
    }

    pub fn value(&self, gate: Gate) -> Option<f32> {
        self.gates.iter().find(|g| g.gate == gate).map(|g| g.value)
    }

    /// Orders frames of a burst: most gates passed, then the sharpest.
    pub fn rank(&self) -> (usize, f32) {
        let passed = self.gates.iter().filter(|g| g.passed).count();
        (passed, self.value(Gate::Sharpness).unwrap_or(0.0))
    }
}

/// Pose from landmarks (right eye, left eye, nose, right and left mouth corner, as YuNet
/// gives them): roll from the eye line; yaw from the nose's sideways offset from the eye
/// midpoint; pitch from where the nose sits between the eye and mouth lines — all after
/// undoing the roll. Coarse (±5–10°) but enough to tell "look at the camera".
pub fn head_pose(landmarks: &[[f32; 2]; 5]) -> Option<HeadPose> {
    let [eye_r, eye_l, nose, mouth_r, mouth_l] = *landmarks;
    let (dx, dy) = (eye_l[0] - eye_r[0], eye_l[1] - eye_r[1]);
    let inter_eye = dx.hypot(dy);
    if inter_eye < 1.0 {
        return None;
    }
    let roll = dy.atan2(dx);
    let (sin, cos) = (-roll).sin_cos();
    let eye_mid = [(eye_r[0] + eye_l[0]) / 2.0, (eye_r[1] + eye_l[1]) / 2.0];
    let unroll = |p: [f32; 2]| {
        let (x, y) = (p[0] - eye_mid[0], p[1] - eye_mid[1]);
        [x * cos - y * sin, x * sin + y * cos]
    };
    let nose = unroll(nose);
    let mouth_y = (unroll(mouth_r)[1] + unroll(mouth_l)[1]) / 2.0;
    if mouth_y < 1.0 {
        return None;
    }
    // The nose tip stands about 0.6 inter-eye distances in front of the eye plane.
    const NOSE_DEPTH: f32 = 0.6;
    let yaw = (nose[0] / inter_eye / NOSE_DEPTH).clamp(-1.0, 1.0).asin();
    // In a frontal face the nose tip sits at 0.49 of the eye-to-mouth height (SFace template).
    const FRONTAL_NOSE_HEIGHT: f32 = 0.494;
    let pitch = ((nose[1] / mouth_y - FRONTAL_NOSE_HEIGHT) * 2.2).clamp(-1.0, 1.0).asin();
    Some(HeadPose { yaw: yaw.to_degrees(), pitch: pitch.to_degrees(), roll: roll.to_degrees() })
}

fn gate(gate: Gate, value: f32, passed: bool, advice: Advice) -> GateResult {
    GateResult { gate, value, passed, advice }
}

/// Runs every gate on one face. `aligned` is its 112×112 crop; `faces` how many were found.
pub fn assess(
    frame_width: i32,
    face: &Detection,
    aligned: &Mat,
    faces: usize,
    t: &QualityThresholds,
) -> Result<QualityReport, VisionError> {
    let pose = head_pose(&face.landmarks).unwrap_or(HeadPose { yaw: 90.0, pitch: 90.0, roll: 90.0 });
    let [eye_r, eye_l, ..] = face.landmarks;
    let inter_eye = (eye_l[0] - eye_r[0]).hypot(eye_l[1] - eye_r[1]);
    let width_ratio = face.bbox[2] / frame_width.max(1) as f32;
    let (sharpness, brightness, uniformity) = photometry(aligned)?;
    let exposure_advice = if brightness < t.min_brightness { Advice::TooDark } else { Advice::TooBright };
    Ok(QualityReport {
        gates: vec![
            gate(Gate::SingleFace, faces as f32, faces == 1, Advice::OnePersonOnly),
            gate(Gate::InterEyeDistance, inter_eye, inter_eye >= t.min_inter_eye_px, Advice::ComeCloser),
            gate(Gate::FaceNotTooClose, width_ratio, width_ratio <= t.max_face_width_ratio, Advice::MoveBack),
            gate(Gate::Yaw, pose.yaw, pose.yaw.abs() <= t.max_yaw_deg, Advice::LookAtCamera),
            gate(Gate::Pitch, pose.pitch, pose.pitch.abs() <= t.max_pitch_deg, Advice::LookAtCamera),
            gate(Gate::Roll, pose.roll, pose.roll.abs() <= t.max_roll_deg, Advice::LookAtCamera),
            gate(Gate::Sharpness, sharpness, sharpness >= t.min_sharpness, Advice::HoldStill),
            gate(
                Gate::Exposure,
                brightness,
                (t.min_brightness..=t.max_brightness).contains(&brightness),
                exposure_advice,
            ),
            gate(Gate::Uniformity, uniformity, uniformity >= t.min_uniformity, Advice::UnevenLight),
        ],
        pose,
    })
}

/// Sharpness (variance of the Laplacian), mean brightness and left/right uniformity of the
/// central face region of the aligned crop (background corners excluded).
fn photometry(aligned: &Mat) -> Result<(f32, f32, f32), VisionError> {
    let mut grey = Mat::default();
    imgproc::cvt_color(aligned, &mut grey, imgproc::COLOR_BGR2GRAY, 0)?;
    let inner = Mat::roi(&grey, Rect::new(24, 28, 64, 72))?;
    let mut laplacian = Mat::default();
    imgproc::laplacian(&inner, &mut laplacian, core::CV_32F, 3, 1.0, 0.0, core::BORDER_DEFAULT)?;
    let (mut mean, mut stddev) = (Scalar::default(), Scalar::default());
    core::mean_std_dev(&laplacian, &mut mean, &mut stddev, &core::no_array())?;
    let sharpness = (stddev[0] * stddev[0]) as f32;
    let brightness = core::mean(&inner, &core::no_array())?[0] as f32;
    let left = core::mean(&Mat::roi(&inner, Rect::new(0, 0, 32, 72))?, &core::no_array())?[0] as f32;
    let right = core::mean(&Mat::roi(&inner, Rect::new(32, 0, 32, 72))?, &core::no_array())?[0] as f32;
    let uniformity = if left.max(right) <= 0.0 { 0.0 } else { left.min(right) / left.max(right) };
    Ok((sharpness, brightness, uniformity))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SFace's template landmarks: a frontal face by definition.
    const FRONTAL: [[f32; 2]; 5] =
        [[38.29, 51.70], [73.53, 51.50], [56.03, 71.74], [41.55, 92.37], [70.73, 92.20]];

    #[test]
    fn template_face_is_frontal() {
        let pose = head_pose(&FRONTAL).unwrap();
        assert!(pose.yaw.abs() < 2.0 && pose.pitch.abs() < 2.0 && pose.roll.abs() < 1.0, "{pose:?}");
    }

    #[test]
    fn nose_to_the_side_reads_as_yaw_and_tilted_eyes_as_roll() {
        let mut turned = FRONTAL;
        turned[2][0] += 12.0;
        assert!(head_pose(&turned).unwrap().yaw > 20.0);
        turned[2][0] -= 24.0;
        assert!(head_pose(&turned).unwrap().yaw < -20.0);

        // Rotate the whole face by 15° about the eye midpoint: roll 15°, yaw and pitch unchanged.
        let (s, c) = 15f32.to_radians().sin_cos();
        let rotated = FRONTAL.map(|[x, y]| {
            let (x0, y0) = (x - 55.9, y - 51.6);
            [55.9 + x0 * c - y0 * s, 51.6 + x0 * s + y0 * c]
        });
        let pose = head_pose(&rotated).unwrap();
        assert!((pose.roll - 15.0).abs() < 0.5 && pose.yaw.abs() < 2.0 && pose.pitch.abs() < 2.0, "{pose:?}");
    }

    #[test]
    fn nose_low_reads_as_looking_down() {
        let mut down = FRONTAL;
        down[2][1] += 8.0;
        assert!(head_pose(&down).unwrap().pitch > 15.0);
    }

    #[test]
    fn degenerate_landmarks_have_no_pose() {
        assert!(head_pose(&[[10.0, 10.0]; 5]).is_none());
    }
}
