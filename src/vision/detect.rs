//! YuNet face detection: letter-boxed input, stride 8/16/32 decoding, non-maximum suppression.
//!
//! The decoding follows OpenCV's `FaceDetectorYN` so the two agree on the same image.

use ndarray::Array4;
use opencv::{
    core::{self, Mat, Scalar, Size},
    imgproc,
    prelude::*,
};
use ort::{session::Session, value::Tensor};

use super::{
    tensor::{to_nchw, ChannelOrder},
    VisionError,
};

/// YuNet's fixed input side.
const INPUT_SIDE: i32 = 640;
const STRIDES: [usize; 3] = [8, 16, 32];
const MODEL: &str = "YuNet";

/// One face found in a frame, in that frame's pixel coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// x, y, width, height of the face box.
    pub bbox: [f32; 4],
    /// Right eye, left eye, nose tip, right mouth corner, left mouth corner (as YuNet orders them).
    pub landmarks: [[f32; 2]; 5],
    pub score: f32,
}

impl Detection {
    pub fn width(&self) -> f32 {
        self.bbox[2]
    }
}

pub struct FaceDetector {
    session: Session,
    score_threshold: f32,
    nms_threshold: f32,
}

impl FaceDetector {
    pub(crate) fn new(session: Session, score_threshold: f32, nms_threshold: f32) -> Self {
        Self { session, score_threshold, nms_threshold }
    }

    /// Every face in a BGR frame of any size, best score first.
    pub fn detect(&mut self, frame: &Mat) -> Result<Vec<Detection>, VisionError> {
        let (input, scale) = letterbox(frame)?;
        let tensor = Tensor::from_array(input).map_err(|e| infer_err(e.to_string()))?;
        let outputs =
            self.session.run(ort::inputs!["input" => tensor]).map_err(|e| infer_err(e.to_string()))?;
        let mut candidates = Vec::new();
        for stride in STRIDES {
            let get = |name: String| -> Result<Vec<f32>, VisionError> {
                let value = outputs.get(name.as_str()).ok_or_else(|| VisionError::OutputShape {
                    model: MODEL.into(),
                    reason: format!("no output {name}"),
                })?;
                let (_, data) = value.try_extract_tensor::<f32>().map_err(|e| infer_err(e.to_string()))?;
                Ok(data.to_vec())
            };
            let heads = Heads {
                cls: get(format!("cls_{stride}"))?,
                obj: get(format!("obj_{stride}"))?,
                bbox: get(format!("bbox_{stride}"))?,
                kps: get(format!("kps_{stride}"))?,
            };
            decode_stride(&heads, stride, self.score_threshold, &mut candidates)?;
        }
        let mut faces = non_maximum_suppression(candidates, self.nms_threshold);
        for face in &mut faces {
            face.scale(1.0 / scale);
        }
        Ok(faces)
    }
}

fn infer_err(reason: String) -> VisionError {
    VisionError::Inference { model: MODEL.into(), reason }
}

/// Raw head outputs of one stride.
struct Heads {
    cls: Vec<f32>,
    obj: Vec<f32>,
    bbox: Vec<f32>,
    kps: Vec<f32>,
}

impl Detection {
    fn scale(&mut self, factor: f32) {
        for v in &mut self.bbox {
            *v *= factor;
        }
        for point in &mut self.landmarks {
            point[0] *= factor;
            point[1] *= factor;
        }
    }
}

/// Resizes keeping the aspect ratio into the top-left of a 640×640 black square, as NCHW f32 BGR.
/// Returns the tensor and the scale from frame to model pixels.
fn letterbox(frame: &Mat) -> Result<(Array4<f32>, f32), VisionError> {
    let (width, height) = (frame.cols(), frame.rows());
    if width <= 0 || height <= 0 {
        return Err(VisionError::Undecodable { what: "empty frame".into() });
    }
    let scale = (INPUT_SIDE as f32 / width as f32).min(INPUT_SIDE as f32 / height as f32);
    let new_w = ((width as f32 * scale).round() as i32).clamp(1, INPUT_SIDE);
    let new_h = ((height as f32 * scale).round() as i32).clamp(1, INPUT_SIDE);
    let mut resized = Mat::default();
    imgproc::resize(frame, &mut resized, Size::new(new_w, new_h), 0.0, 0.0, imgproc::INTER_LINEAR)?;
    let mut padded = Mat::default();
    core::copy_make_border(
        &resized,
        &mut padded,
        0,
        INPUT_SIDE - new_h,
        0,
        INPUT_SIDE - new_w,
        core::BORDER_CONSTANT,
        Scalar::all(0.0),
    )?;
    let input = to_nchw(&padded, ChannelOrder::Bgr)?;
    // Model pixels = frame pixels × (new_w / width); use the achieved ratio, not the requested one.
    Ok((input, new_w as f32 / width as f32))
}

fn decode_stride(
    heads: &Heads,
    stride: usize,
    threshold: f32,
    out: &mut Vec<Detection>,
) -> Result<(), VisionError> {
    let cols = INPUT_SIDE as usize / stride;
    let cells = cols * cols;
    if heads.cls.len() < cells
        || heads.obj.len() < cells
        || heads.bbox.len() < cells * 4
        || heads.kps.len() < cells * 10
    {
        return Err(VisionError::OutputShape {
            model: MODEL.into(),
            reason: format!("stride {stride} heads shorter than {cells} cells"),
        });
    }
    let s = stride as f32;
    for index in 0..cells {
        let cls = heads.cls[index].clamp(0.0, 1.0);
        let obj = heads.obj[index].clamp(0.0, 1.0);
        let score = (cls * obj).sqrt();
        if score < threshold {
            continue;
        }
        let (row, col) = ((index / cols) as f32, (index % cols) as f32);
        let b = &heads.bbox[index * 4..index * 4 + 4];
        let cx = (col + b[0]) * s;
        let cy = (row + b[1]) * s;
        let w = b[2].exp() * s;
        let h = b[3].exp() * s;
        let k = &heads.kps[index * 10..index * 10 + 10];
        let mut landmarks = [[0.0f32; 2]; 5];
        for (n, point) in landmarks.iter_mut().enumerate() {
            *point = [(k[2 * n] + col) * s, (k[2 * n + 1] + row) * s];
        }
        out.push(Detection { bbox: [cx - w / 2.0, cy - h / 2.0, w, h], landmarks, score });
    }
    Ok(())
}

fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let x1 = a[0].max(b[0]);
    let y1 = a[1].max(b[1]);
    let x2 = (a[0] + a[2]).min(b[0] + b[2]);
    let y2 = (a[1] + a[3]).min(b[1] + b[3]);
    let inter = (x2 - x1).max(0.0) * (y2 - y1).max(0.0);
    let union = a[2] * a[3] + b[2] * b[3] - inter;
    if union <= 0.0 {
        0.0
    } else {
        inter / union
    }
}

/// Greedy NMS, highest score first (what `cv::dnn::NMSBoxes` does).
fn non_maximum_suppression(mut candidates: Vec<Detection>, threshold: f32) -> Vec<Detection> {
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::new();
    for candidate in candidates {
        if kept.iter().all(|k| iou(&k.bbox, &candidate.bbox) <= threshold) {
            kept.push(candidate);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(x: f32, y: f32, w: f32, score: f32) -> Detection {
        Detection { bbox: [x, y, w, w], landmarks: [[0.0; 2]; 5], score }
    }

    #[test]
    fn nms_keeps_the_best_of_overlapping_boxes_and_separate_faces() {
        let kept = non_maximum_suppression(
            vec![det(0.0, 0.0, 100.0, 0.8), det(5.0, 5.0, 100.0, 0.9), det(300.0, 0.0, 100.0, 0.7)],
            0.3,
        );
        let scores: Vec<f32> = kept.iter().map(|d| d.score).collect();
        assert_eq!(scores, vec![0.9, 0.7]);
    }

    #[test]
    fn iou_of_identical_boxes_is_one_and_disjoint_zero() {
        assert!((iou(&[0.0, 0.0, 10.0, 10.0], &[0.0, 0.0, 10.0, 10.0]) - 1.0).abs() < 1e-6);
        assert_eq!(iou(&[0.0, 0.0, 10.0, 10.0], &[20.0, 20.0, 10.0, 10.0]), 0.0);
    }

    #[test]
    fn decode_places_a_cell_at_its_grid_position() {
        let cells = 80 * 80;
        let mut heads = Heads {
            cls: vec![0.0; cells],
            obj: vec![0.0; cells],
            bbox: vec![0.0; cells * 4],
            kps: vec![0.0; cells * 10],
        };
        let index = 3 * 80 + 5; // row 3, col 5
        heads.cls[index] = 0.81;
        heads.obj[index] = 1.0;
        let mut out = Vec::new();
        decode_stride(&heads, 8, 0.5, &mut out).unwrap();
        assert_eq!(out.len(), 1);
        let d = &out[0];
        assert!((d.score - 0.9).abs() < 1e-6);
        // exp(0) * 8 = 8 px box centred on (5*8, 3*8).
        assert_eq!(d.bbox, [36.0, 20.0, 8.0, 8.0]);
        assert_eq!(d.landmarks[0], [40.0, 24.0]);
    }

    #[test]
    fn short_heads_are_an_error_not_a_panic() {
        let heads = Heads { cls: vec![0.0; 3], obj: vec![], bbox: vec![], kps: vec![] };
        assert!(decode_stride(&heads, 8, 0.5, &mut Vec::new()).is_err());
    }
}
