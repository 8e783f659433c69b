//! The vision side of the session's frame loops: which frame of a burst to analyse further,
//! and what one frame of the head-turn challenge shows of the face. The shell only captures
//! frames and passes them in.

use super::{quality::head_pose, Detection, FaceCandidate, PoseSample};

/// Keeps the best face of a burst by quality rank (most gates passed, then sharpest), and the
/// last frame without a better face, for the screen when no face was found. Generic over the
/// frame so it is tested without a camera.
pub struct BurstPicker<F> {
    best: Option<(F, FaceCandidate)>,
    last: Option<F>,
}

impl<F> Default for BurstPicker<F> {
    fn default() -> Self {
        Self { best: None, last: None }
    }
}

impl<F> BurstPicker<F> {
    pub fn new() -> Self {
        Self::default()
    }

    /// One frame of the burst with the face found in it, if any.
    pub fn offer(&mut self, frame: F, candidate: Option<FaceCandidate>) {
        if let Some(candidate) = candidate {
            let better = self.best.as_ref().is_none_or(|(_, b)| candidate.quality.rank() > b.quality.rank());
            if better {
                self.best = Some((frame, candidate));
                return;
            }
        }
        self.last = Some(frame);
    }

    /// The frame to show: the best face's, else the last one offered.
    pub fn shown(&self) -> Option<&F> {
        self.best.as_ref().map(|(frame, _)| frame).or(self.last.as_ref())
    }

    /// The best face with its frame; `None` when no frame had a face.
    pub fn into_best(self) -> Option<(F, FaceCandidate)> {
        self.best
    }
}

/// What one challenge frame shows: the largest face's yaw, centre and inter-eye distance;
/// `None` when there is no face or its landmarks give no pose.
pub fn pose_sample(faces: &[Detection]) -> Option<PoseSample> {
    let face = faces.iter().max_by(|a, b| a.width().total_cmp(&b.width()))?;
    let pose = head_pose(&face.landmarks)?;
    let [eye_r, eye_l, ..] = face.landmarks;
    Some(PoseSample {
        yaw: pose.yaw,
        centre: [face.bbox[0] + face.bbox[2] / 2.0, face.bbox[1] + face.bbox[3] / 2.0],
        inter_eye: (eye_l[0] - eye_r[0]).hypot(eye_l[1] - eye_r[1]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vision::quality::{Advice, Gate, GateResult, HeadPose};
    use crate::vision::QualityReport;

    /// SFace's template landmarks (a frontal face), shifted and scaled into a frame.
    fn detection(x: f32, width: f32) -> Detection {
        const FRONTAL: [[f32; 2]; 5] =
            [[38.29, 51.70], [73.53, 51.50], [56.03, 71.74], [41.55, 92.37], [70.73, 92.20]];
        let s = width / 112.0;
        Detection { bbox: [x, 10.0, width, width], landmarks: FRONTAL.map(|[px, py]| [x + px * s, 10.0 + py * s]), score: 0.9 }
    }

    fn candidate(passed: usize, sharpness: f32) -> FaceCandidate {
        let gates = (0..3)
            .map(|i| GateResult { gate: Gate::Yaw, value: 0.0, passed: i < passed, advice: Advice::LookAtCamera })
            .chain(std::iter::once(GateResult { gate: Gate::Sharpness, value: sharpness, passed: true, advice: Advice::HoldStill }))
            .collect();
        FaceCandidate {
            detection: detection(0.0, 112.0),
            faces_found: 1,
            aligned: opencv::core::Mat::default(),
            quality: QualityReport { gates, pose: HeadPose { yaw: 0.0, pitch: 0.0, roll: 0.0 } },
        }
    }

    #[test]
    fn the_burst_keeps_the_best_ranked_face_and_shows_it() {
        let mut picker = BurstPicker::new();
        picker.offer("a", Some(candidate(1, 500.0)));
        picker.offer("b", Some(candidate(3, 100.0)));
        picker.offer("c", Some(candidate(3, 90.0)));
        picker.offer("d", None);
        assert_eq!(picker.shown(), Some(&"b"));
        let (frame, best) = picker.into_best().unwrap();
        assert_eq!((frame, best.quality.rank()), ("b", (4, 100.0)));
    }

    #[test]
    fn a_burst_without_a_face_shows_its_last_frame() {
        let mut picker = BurstPicker::new();
        assert_eq!(picker.shown(), None::<&u8>);
        picker.offer(1u8, None);
        picker.offer(2u8, None);
        assert_eq!(picker.shown(), Some(&2));
        assert!(picker.into_best().is_none());
    }

    #[test]
    fn the_pose_sample_is_the_largest_faces() {
        assert_eq!(pose_sample(&[]), None);
        let sample = pose_sample(&[detection(0.0, 56.0), detection(200.0, 112.0)]).unwrap();
        assert!((sample.centre[0] - 256.0).abs() < 1e-3 && (sample.centre[1] - 66.0).abs() < 1e-3, "{sample:?}");
        assert!((sample.inter_eye - 35.24).abs() < 0.01, "{sample:?}");
        assert!(sample.yaw.abs() < 2.0, "{sample:?}");
        let flat = Detection { landmarks: [[5.0, 5.0]; 5], ..detection(0.0, 112.0) };
        assert_eq!(pose_sample(&[flat]), None);
    }
}
