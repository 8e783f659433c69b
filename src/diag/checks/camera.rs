//! Camera: opens, delivers frames at the configured rate, exposure within the quality gates.

use std::time::{Duration, Instant};

use kiosk_hal::{Camera, Frame};
use opencv::{core, imgproc, prelude::*};

use super::blocked;
use crate::diag::{timed, CheckResult, Context};

/// How long the frame-rate measurement runs at most, and how many frames it wants.
const MEASURE_FOR: Duration = Duration::from_millis(1500);
const MEASURE_FRAMES: u32 = 30;

const CABLE: &str = "check the camera's USB cable and that no other program holds /dev/videoN; replug it and run `kiosk diag --only camera`";

pub(super) fn run(cx: &Context<'_>, out: &mut Vec<CheckResult>) {
    let mut camera = None;
    out.push(timed(|| match crate::wiring::open_camera(cx.config, &cx.simulation()) {
        Ok(c) => {
            let text = c.describe();
            camera = Some(c);
            CheckResult::ok("camera.open", format!("{text} opened"))
        }
        Err(e) => super::open_failed("camera.open", &e, CABLE),
    }));
    let Some(mut camera) = camera else {
        out.push(blocked("camera.frame_rate", "camera.open", CABLE));
        out.push(blocked("camera.exposure", "camera.open", CABLE));
        return;
    };
    let mut last = None;
    out.push(timed(|| frame_rate(camera.as_mut(), cx.config.diag.camera_fps, &mut last)));
    let Some(frame) = last else {
        out.push(blocked("camera.exposure", "camera.frame_rate", CABLE));
        return;
    };
    out.push(timed(|| exposure(&frame, cx)));
}

fn frame_rate(camera: &mut dyn Camera, wanted_fps: u32, last: &mut Option<Frame>) -> CheckResult {
    const ID: &str = "camera.frame_rate";
    let started = Instant::now();
    let mut frames = 0u32;
    while frames < MEASURE_FRAMES && started.elapsed() < MEASURE_FOR {
        match camera.capture() {
            Ok(frame) => {
                frames += 1;
                *last = Some(frame);
            }
            Err(e) => return CheckResult::fail(ID, format!("after {frames} frames: {e}"), CABLE),
        }
    }
    let seconds = started.elapsed().as_secs_f64().max(1e-6);
    let fps = f64::from(frames) / seconds;
    let wanted = f64::from(wanted_fps);
    let value = format!("{fps:.1} frames/s over {frames} frames (configured {wanted_fps})");
    let result = if fps >= wanted * 0.9 {
        CheckResult::ok(ID, value)
    } else if fps >= wanted * 0.5 {
        CheckResult::warn(ID, value, "the camera is slower than configured: check USB bandwidth (a USB 2 port or hub) and lighting (long exposure lowers the rate)")
    } else {
        CheckResult::fail(ID, value, "the camera is far too slow for the live checks: replace the cable or the camera")
    };
    result.with("fps", fps).with("configured_fps", wanted)
}

fn exposure(frame: &Frame, cx: &Context<'_>) -> CheckResult {
    const ID: &str = "camera.exposure";
    let q = &cx.config.face.quality;
    let mut grey = Mat::default();
    let mean = imgproc::cvt_color_def(&frame.image, &mut grey, imgproc::COLOR_BGR2GRAY)
        .and_then(|()| core::mean_def(&grey));
    let mean = match mean {
        Ok(m) => m[0],
        Err(e) => return CheckResult::fail(ID, e.to_string(), CABLE),
    };
    let (cols, rows) = (frame.image.cols(), frame.image.rows());
    let value = format!("mean brightness {mean:.0}/255 at {cols}×{rows} (faces need {:.0} to {:.0})", q.min_brightness, q.max_brightness);
    let in_range = mean >= f64::from(q.min_brightness) * 0.5 && mean <= f64::from(q.max_brightness);
    let result = if in_range {
        CheckResult::ok(ID, value)
    } else if !(5.0..=250.0).contains(&mean) {
        CheckResult::fail(ID, value, "the picture is black or white: check the lens is not covered and the camera's exposure is automatic")
    } else {
        CheckResult::warn(ID, value, "the picture is too dark or too bright: check the kiosk's front light and direct sun on the lens")
    };
    result.with("mean_brightness", mean)
}
