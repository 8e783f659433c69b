//! YuNet face detection: letter-boxed input, stride 8/16/32 decoding, non-maximum suppression.
//!
//! The decoding follows OpenCV's `FaceDetectorYN` so the two agree on the same image. Whole
//! frames are searched at 640×640. A face already found is followed in a window around it
//! (`detect_in`): the head-turn challenge needs a pose every frame, and on a slow kiosk the full
//! search leaves seconds between its frames. The window is cut from the full search's own input
//! (same scale, origin on the 32-px grid of YuNet's coarsest stride), so the network sees the
//! same pixels at the same grid phase and reads the same landmarks, except where its receptive
//! field reaches the window's border: no resampling, which would change the yaw YuNet's
//! landmarks give (tests/face_models.rs).

use opencv::{
    core::{self, Mat, Rect, Scalar, Size, ToInputArray},
    imgproc,
    prelude::*,
};
use ort::{session::Session, value::Tensor};

use super::{
    tensor::{to_nchw, ChannelOrder},
    VisionError,
};

/// Side of the square a whole frame is letter-boxed into (the side YuNet was trained at).
const FRAME_SIDE: i32 = 640;
/// Margin of the tracking window around the box of the face it follows, each way, in the full
/// search's input pixels: what the network's receptive field needs. The yaw read in the window
/// against the full search's, on the five portraits at face widths of 128-224 px and five places
/// in a 640×480 frame, was off by at most 4.25° at 48 px, 1.72° at 64 and 80 px, 2.02° at 96 px
/// (a 128 px face), 1.40° at 112 px (0.25° from 160 px faces up), 0.20° at 128 px; along the
/// test clips' head turns (faces 117-183 px) 3.59° at 96 px, 0.18° at 112 px
/// (tests/face_models.rs). It is also more than the challenge lets a face move between two
/// frames (one inter-eye distance, about 0.45 face widths: 86 px for a 192 px face), so a face the
/// challenge accepts stays in the window.
const WINDOW_MARGIN: f32 = 112.0;
const STRIDES: [usize; 3] = [8, 16, 32];
/// YuNet's coarsest stride: a window whose origin is a multiple of it puts every stride's cells
/// where the full search puts them.
const GRID: i32 = 32;
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
        let (resized, scale) = model_pixels(frame)?;
        let input = pad_to(&resized, FRAME_SIDE, FRAME_SIDE)?;
        let mut faces = self.run(&input)?;
        for face in &mut faces {
            face.scale(1.0 / scale);
        }
        Ok(faces)
    }

    /// The faces in `window` of the frame (see `window_around`), in the frame's pixel
    /// coordinates, best score first. The window is widened to the 32-px grid of the full
    /// search's input and searched at that input's scale: around a face box of 192×240 px
    /// (`make hil`'s person) the window is about 416-448 × 448-480 px, 0.49-0.56 of the full
    /// search's 640×640. Empty when no face is in the window (or it lies outside the frame).
    pub fn detect_in(&mut self, frame: &Mat, window: Rect) -> Result<Vec<Detection>, VisionError> {
        let (resized, scale) = model_pixels(frame)?;
        let Some(cell) = grid_window(window, scale, resized.cols(), resized.rows()) else {
            return Ok(Vec::new());
        };
        // The part of the window inside the picture; beyond it the full search sees the
        // letterbox's black, and so does the window.
        let inside = cell & Rect::new(0, 0, resized.cols(), resized.rows());
        let region = Mat::roi(&resized, inside)?;
        let input = pad_to(&region, cell.width, cell.height)?;
        let mut faces = self.run(&input)?;
        for face in &mut faces {
            face.translate(cell.x as f32, cell.y as f32);
            face.scale(1.0 / scale);
        }
        Ok(faces)
    }

    /// The faces in one network input (its sides multiples of 32), in its pixels.
    fn run(&mut self, image: &Mat) -> Result<Vec<Detection>, VisionError> {
        let (width, height) = (image.cols() as usize, image.rows() as usize);
        let tensor = Tensor::from_array(to_nchw(image, ChannelOrder::Bgr)?).map_err(|e| infer_err(e.to_string()))?;
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
            decode_stride(&heads, (width / stride, height / stride), stride, self.score_threshold, &mut candidates)?;
        }
        Ok(non_maximum_suppression(candidates, self.nms_threshold))
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
    fn translate(&mut self, dx: f32, dy: f32) {
        self.bbox[0] += dx;
        self.bbox[1] += dy;
        for point in &mut self.landmarks {
            point[0] += dx;
            point[1] += dy;
        }
    }

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

/// A window smaller than this holds no face YuNet can find.
const MIN_WINDOW_SIDE: i32 = 16;

/// The face's box widened by `WINDOW_MARGIN` each way (in the full search's input pixels, so
/// frame pixels for a 640-wide frame), cut to the frame; `None` when that leaves too little.
pub fn window_around(face: &Detection, frame_width: i32, frame_height: i32) -> Option<Rect> {
    let [x, y, w, h] = face.bbox;
    if frame_width <= 0 || frame_height <= 0 {
        return None;
    }
    let scale = (FRAME_SIDE as f32 / frame_width as f32).min(FRAME_SIDE as f32 / frame_height as f32);
    let margin = WINDOW_MARGIN / scale;
    if !(x.is_finite() && y.is_finite() && w.is_finite() && h.is_finite()) || w <= 0.0 || h <= 0.0 {
        return None;
    }
    let left = ((x - margin).floor() as i32).clamp(0, frame_width);
    let top = ((y - margin).floor() as i32).clamp(0, frame_height);
    let right = ((x + w + margin).ceil() as i32).clamp(0, frame_width);
    let bottom = ((y + h + margin).ceil() as i32).clamp(0, frame_height);
    (right - left >= MIN_WINDOW_SIDE && bottom - top >= MIN_WINDOW_SIDE)
        .then(|| Rect::new(left, top, right - left, bottom - top))
}

/// The window, in the full search's input pixels (frame pixels × `scale`), widened to the
/// 32-px grid and cut to that input's `FRAME_SIDE` square; `None` when no picture is left in it.
fn grid_window(window: Rect, scale: f32, picture_width: i32, picture_height: i32) -> Option<Rect> {
    let snap_down = |v: i32| (((v as f32 * scale).floor() as i32).div_euclid(GRID) * GRID).clamp(0, FRAME_SIDE);
    let snap_up = |v: i32| ((((v as f32 * scale).ceil() as i32) + GRID - 1).div_euclid(GRID) * GRID).clamp(0, FRAME_SIDE);
    let (left, top) = (snap_down(window.x), snap_down(window.y));
    let (right, bottom) = (snap_up(window.x + window.width), snap_up(window.y + window.height));
    let cell = Rect::new(left, top, right - left, bottom - top);
    let picture = cell & Rect::new(0, 0, picture_width, picture_height);
    (cell.width >= GRID && cell.height >= GRID && picture.width >= MIN_WINDOW_SIDE && picture.height >= MIN_WINDOW_SIDE)
        .then_some(cell)
}

/// The frame resized keeping its aspect ratio to fit `FRAME_SIDE`: the picture the full search
/// letter-boxes. Returns it and the scale from frame to model pixels.
fn model_pixels(frame: &Mat) -> Result<(Mat, f32), VisionError> {
    let (width, height) = (frame.cols(), frame.rows());
    if width <= 0 || height <= 0 {
        return Err(VisionError::Undecodable { what: "empty frame".into() });
    }
    let scale = (FRAME_SIDE as f32 / width as f32).min(FRAME_SIDE as f32 / height as f32);
    let new_w = ((width as f32 * scale).round() as i32).clamp(1, FRAME_SIDE);
    let new_h = ((height as f32 * scale).round() as i32).clamp(1, FRAME_SIDE);
    let resized = if (new_w, new_h) == (width, height) {
        frame.try_clone()?
    } else {
        let mut resized = Mat::default();
        imgproc::resize(frame, &mut resized, Size::new(new_w, new_h), 0.0, 0.0, imgproc::INTER_LINEAR)?;
        resized
    };
    // Model pixels = frame pixels × (new_w / width); use the achieved ratio, not the requested one.
    Ok((resized, new_w as f32 / width as f32))
}

/// The picture in the top-left of a black `width`×`height` input (the letterbox).
fn pad_to(picture: &(impl MatTraitConst + ToInputArray), width: i32, height: i32) -> Result<Mat, VisionError> {
    let mut padded = Mat::default();
    core::copy_make_border(
        picture,
        &mut padded,
        0,
        (height - picture.rows()).max(0),
        0,
        (width - picture.cols()).max(0),
        core::BORDER_CONSTANT,
        Scalar::all(0.0),
    )?;
    Ok(padded)
}

/// Decodes one stride's heads over a grid of `(cols, rows)` cells.
fn decode_stride(
    heads: &Heads,
    (cols, rows): (usize, usize),
    stride: usize,
    threshold: f32,
    out: &mut Vec<Detection>,
) -> Result<(), VisionError> {
    let cells = cols * rows;
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
        decode_stride(&heads, (80, 80), 8, 0.5, &mut out).unwrap();
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
        assert!(decode_stride(&heads, (80, 80), 8, 0.5, &mut Vec::new()).is_err());
    }

    #[test]
    fn the_tracking_window_is_centred_on_the_face_and_cut_to_the_frame() {
        // A 100×130 px face in the middle of a 640×480 frame: 112 px more each way.
        let face = Detection { bbox: [300.0, 200.0, 100.0, 130.0], landmarks: [[0.0; 2]; 5], score: 0.9 };
        assert_eq!(window_around(&face, 640, 480), Some(Rect::new(188, 88, 324, 354)));
        // Near the top-left corner the window is cut at the frame's edges.
        assert_eq!(window_around(&det(0.0, 10.0, 100.0, 0.9), 640, 480), Some(Rect::new(0, 0, 212, 222)));
        // In a 1280×960 frame the search's input is at half scale: the margin is 224 frame px.
        assert_eq!(window_around(&det(600.0, 400.0, 200.0, 0.9), 1280, 960), Some(Rect::new(376, 176, 648, 648)));
    }

    #[test]
    fn the_searched_window_lies_on_the_full_search_grid() {
        // At scale 1 (a 640×480 frame) the window widens outwards to multiples of 32.
        assert_eq!(grid_window(Rect::new(225, 125, 250, 250), 1.0, 640, 480), Some(Rect::new(224, 96, 256, 288)));
        // At scale 0.5 (a 1280×960 frame) it is placed in the half-size picture.
        assert_eq!(grid_window(Rect::new(450, 250, 500, 500), 0.5, 640, 480), Some(Rect::new(224, 96, 256, 288)));
        // Past the picture's bottom it reaches into the letterbox, never past the input.
        assert_eq!(grid_window(Rect::new(500, 400, 300, 300), 1.0, 640, 480), Some(Rect::new(480, 384, 160, 256)));
        // Wholly in the letterbox: nothing to search.
        assert_eq!(grid_window(Rect::new(0, 500, 100, 100), 1.0, 640, 480), None);
    }

    #[test]
    fn a_face_outside_the_frame_or_without_size_gives_no_window() {
        assert_eq!(window_around(&det(900.0, 100.0, 100.0, 0.9), 640, 480), None);
        assert_eq!(window_around(&det(100.0, 100.0, 0.0, 0.9), 640, 480), None);
        assert_eq!(window_around(&det(100.0, 100.0, 50.0, 0.9), 0, 480), None);
        assert_eq!(window_around(&det(f32::NAN, 100.0, 100.0, 0.9), 640, 480), None);
    }

    #[test]
    fn translating_moves_the_box_and_every_landmark() {
        let mut face = Detection { bbox: [1.0, 2.0, 10.0, 10.0], landmarks: [[3.0, 4.0]; 5], score: 0.9 };
        face.translate(100.0, 50.0);
        assert_eq!(face.bbox, [101.0, 52.0, 10.0, 10.0]);
        assert!(face.landmarks.iter().all(|p| *p == [103.0, 54.0]));
    }
}
