//! The demo's simulated person: what the kiosk camera sees of them. They stand still, and when
//! the screen asks them to turn their head, they turn it that way and back — the camera answers
//! what is on the display, as a person does.
//!
//! The head turn is synthesised from one still frame: the face is treated as an ellipsoid with a
//! nose in front of it and rotated about the vertical axis (OpenCV `remap`). Landmark-based yaw
//! follows it to about ±20°, enough for the challenge; a flat photo could never do this, which is
//! the point of the challenge.

use std::sync::{Arc, Mutex};

use embedded_graphics::{pixelcolor::Rgb888, prelude::*, Pixel};
use kiosk_hal::{Camera, CameraError, Display, DisplayError, Frame};
use opencv::{
    core::{Mat, Scalar, BORDER_REPLICATE, CV_32FC1},
    imgproc,
    prelude::*,
};

use crate::vision::{quality::head_pose, Detection, FacePipeline, VisionError};

/// The last screen the display presented, and how many it presented so far.
#[derive(Debug, Clone, Default)]
pub struct ScreenWatch(Arc<Mutex<(u64, String)>>);

impl ScreenWatch {
    /// Notes a screen as presented; `make hil`'s person records what it read off the real screen.
    pub fn record(&self, screen_id: &str) {
        if let Ok(mut last) = self.0.lock() {
            last.0 += 1;
            last.1 = screen_id.to_string();
        }
    }

    /// How many screens were presented so far, and the id of the last one.
    pub fn last(&self) -> (u64, String) {
        self.0.lock().map(|last| last.clone()).unwrap_or_default()
    }
}

/// A display that lets the simulated person see what is shown.
pub struct WatchedDisplay<D> {
    inner: D,
    watch: ScreenWatch,
}

impl<D> WatchedDisplay<D> {
    pub fn new(inner: D, watch: ScreenWatch) -> Self {
        Self { inner, watch }
    }
}

impl<D: OriginDimensions> OriginDimensions for WatchedDisplay<D> {
    fn size(&self) -> Size {
        self.inner.size()
    }
}

impl<D: DrawTarget<Color = Rgb888, Error = DisplayError> + OriginDimensions> DrawTarget for WatchedDisplay<D> {
    type Color = Rgb888;
    type Error = DisplayError;

    fn draw_iter<I: IntoIterator<Item = Pixel<Rgb888>>>(&mut self, pixels: I) -> Result<(), DisplayError> {
        self.inner.draw_iter(pixels)
    }

    fn fill_solid(&mut self, area: &embedded_graphics::primitives::Rectangle, color: Rgb888) -> Result<(), DisplayError> {
        self.inner.fill_solid(area, color)
    }

    fn clear(&mut self, color: Rgb888) -> Result<(), DisplayError> {
        self.inner.clear(color)
    }
}

impl<D: Display> Display for WatchedDisplay<D> {
    fn present(&mut self, screen_id: &str) -> Result<(), DisplayError> {
        self.inner.present(screen_id)?;
        self.watch.record(screen_id);
        Ok(())
    }
}

/// Rotation step between two frames of a turn, degrees, and the widest rotation tried.
const TURN_STEP_DEG: f32 = 3.0;
const TURN_MAX_DEG: f32 = 33.0;

/// The person as the camera sees them.
pub struct SimulatedPerson {
    rest: Vec<Mat>,
    turn_left: Vec<Mat>,
    turn_right: Vec<Mat>,
    watch: ScreenWatch,
    /// The screen presentation the person last reacted to.
    answered: u64,
    playing: Option<(bool, usize)>,
    next_rest: usize,
    sequence: u64,
    /// A replayed clip, not a person: it turns the other way from the one asked.
    wrong_way: bool,
}

impl SimulatedPerson {
    /// `rest` are the still frames; turns are made from `rest[0]`.
    pub fn new(rest: Vec<Mat>, pipeline: &mut FacePipeline, watch: ScreenWatch) -> Result<Self, VisionError> {
        let base = rest.first().ok_or_else(|| VisionError::Undecodable { what: "no frames of the person".into() })?;
        Ok(Self {
            turn_left: turn_clip(pipeline, base, 1.0)?,
            turn_right: turn_clip(pipeline, base, -1.0)?,
            rest,
            watch,
            answered: 0,
            playing: None,
            next_rest: 0,
            sequence: 0,
            wrong_way: false,
        })
    }

    /// A replayed video of the person: it shows a head turn, but never the one asked for.
    pub fn replaying_the_wrong_turn(mut self) -> Self {
        self.wrong_way = true;
        self
    }

    /// The same turn in fewer, wider steps: every `stride`-th frame of each clip, the widest
    /// pose and the return kept. For a camera that delivers few frames a second (the emulated
    /// kiosk), so the turn still fits the challenge's time limit.
    pub fn turning_in_steps_of(mut self, stride: usize) -> Self {
        let thin = |clip: &mut Vec<Mat>| {
            // A clip is out (base .. widest), back (widest-1 .. base) and the base again.
            let (last, widest) = (clip.len().saturating_sub(1), clip.len().saturating_sub(2) / 2);
            let mut index = 0;
            clip.retain(|_| {
                let keep = index % stride.max(1) == 0 || index == widest || index == last;
                index += 1;
                keep
            });
        };
        thin(&mut self.turn_left);
        thin(&mut self.turn_right);
        self
    }
}

impl Camera for SimulatedPerson {
    fn capture(&mut self) -> Result<Frame, CameraError> {
        let (shown, screen) = self.watch.last();
        if shown != self.answered {
            self.answered = shown;
            // A new screen is read at once: a turn when asked, else back to looking at it.
            self.playing = if screen.ends_with("turn-left") {
                Some((!self.wrong_way, 0))
            } else if screen.ends_with("turn-right") {
                Some((self.wrong_way, 0))
            } else {
                None
            };
        }
        let frame = match self.playing {
            Some((left, index)) => {
                let clip = if left { &self.turn_left } else { &self.turn_right };
                let frame = clip.get(index).or(clip.last());
                self.playing = (index + 1 < clip.len()).then_some((left, index + 1));
                frame
            }
            None => {
                self.next_rest = (self.next_rest + 1) % self.rest.len().max(1);
                self.rest.get(self.next_rest)
            }
        };
        let image = frame
            .ok_or(CameraError::NoReplayImages)?
            .try_clone()
            .map_err(|e| CameraError::Capture { device: self.describe(), reason: e.to_string() })?;
        self.sequence += 1;
        Ok(Frame { image, sequence: self.sequence })
    }

    fn describe(&self) -> String {
        "simulated person".into()
    }
}

/// A head turn out and back, as far as the synthesis stays a smooth rotation: the person turns
/// step by step while the detector sees the head turn further (the ellipsoid model folds past
/// some angle, depending on the face), then comes back the same way.
pub fn turn_clip(pipeline: &mut FacePipeline, base: &Mat, sign: f32) -> Result<Vec<Mat>, VisionError> {
    let yaw_of = |pipeline: &mut FacePipeline, frame: &Mat| -> Result<Option<(Detection, f32)>, VisionError> {
        let faces = pipeline.detector().detect(frame)?;
        Ok(faces.into_iter().next().and_then(|f| head_pose(&f.landmarks).map(|p| (f, p.yaw))))
    };
    let (face, rest_yaw) = yaw_of(pipeline, base)?
        .ok_or_else(|| VisionError::Undecodable { what: "no face in the person's frame".into() })?;
    // Frames out to the rotation the detector reads as the widest turn; small non-monotonic
    // wobbles of the landmark estimate are tolerated, a fold (yaw falling back or leaping) ends it.
    let mut frames = vec![base.try_clone()?];
    let (mut last, mut widest, mut widest_index) = (rest_yaw, rest_yaw, 0);
    let mut angle = TURN_STEP_DEG;
    while angle <= TURN_MAX_DEG {
        let frame = synthetic_turn(base, &face, sign * angle)?;
        let Some((_, yaw)) = yaw_of(pipeline, &frame)? else { break };
        if (yaw - last).abs() >= 10.0 || (yaw - widest) * sign < -4.0 {
            break;
        }
        frames.push(frame);
        if (yaw - widest) * sign > 0.0 {
            (widest, widest_index) = (yaw, frames.len() - 1);
        }
        last = yaw;
        angle += TURN_STEP_DEG;
    }
    frames.truncate(widest_index + 1);
    let mut out = frames;
    let back: Vec<Mat> = out.iter().rev().skip(1).map(|m| m.try_clone()).collect::<Result<_, _>>()?;
    out.extend(back);
    out.push(base.try_clone()?);
    Ok(out)
}

/// The frame with the head rotated by `yaw_deg` about the vertical axis through the face
/// (positive: the person's own left, as `head_pose` counts it).
pub fn synthetic_turn(frame: &Mat, face: &Detection, yaw_deg: f32) -> Result<Mat, VisionError> {
    let (width, height) = (frame.cols(), frame.rows());
    let [bx, by, bw, bh] = face.bbox;
    let (cx, cy) = (bx + bw / 2.0, by + bh / 2.0);
    let [eye_r, eye_l, nose, ..] = face.landmarks;
    let inter_eye = (eye_l[0] - eye_r[0]).hypot(eye_l[1] - eye_r[1]).max(1.0);
    let (a, b) = (bw * 0.55, bh * 0.65);
    let sigma2 = 2.0 * (0.33 * inter_eye).powi(2);
    // Depth of the face surface in front of the rotation axis: an ellipsoid plus the nose.
    let depth = |x: f32, y: f32| {
        let u = 1.0 - ((x - cx) / a).powi(2) - ((y - cy) / b).powi(2);
        let head = a * u.max(0.0).sqrt();
        let (dx, dy) = (x - nose[0], y - nose[1] + 0.15 * inter_eye);
        head + 0.5 * inter_eye * (-(dx * dx + dy * dy) / sigma2).exp()
    };
    let (sin, cos) = yaw_deg.to_radians().sin_cos();
    let mut map_x = vec![0f32; (width * height) as usize];
    let mut map_y = vec![0f32; (width * height) as usize];
    for y in 0..height {
        for x in 0..width {
            let (xo, yf) = (x as f32, y as f32);
            // Which source column lands on this output column: solve xo = cx + (xs - cx) cos + z(xs) sin.
            let mut xs = xo;
            for _ in 0..6 {
                xs = cx + (xo - cx - depth(xs, yf) * sin) / cos;
            }
            let i = (y * width + x) as usize;
            map_x[i] = xs;
            map_y[i] = yf;
        }
    }
    let to_mat = |data: &[f32]| -> Result<Mat, VisionError> {
        let flat = Mat::from_slice(data)?;
        Ok(flat.reshape(1, height)?.try_clone()?)
    };
    let (map_x, map_y) = (to_mat(&map_x)?, to_mat(&map_y)?);
    debug_assert_eq!(map_x.typ(), CV_32FC1);
    let mut turned = Mat::default();
    imgproc::remap(frame, &mut turned, &map_x, &map_y, imgproc::INTER_LINEAR, BORDER_REPLICATE, Scalar::all(0.0))?;
    Ok(turned)
}
