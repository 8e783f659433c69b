//! Models: the manifest, each file the kiosk loads (present, sha256 as the manifest says),
//! loading them into onnxruntime, and one timed inference.

use opencv::core::Mat;

use crate::diag::{timed, CheckResult, Context};
use crate::vision::{self, FacePipeline, FaceOutcome, ModelManifest};

use super::blocked;

/// Files `FacePipeline::load` needs, in load order.
const RUNTIME_FILES: &[&str] = &["onnxruntime", "yunet", "sface", "minifasnet_v2", "minifasnet_v1se"];

const RESTORE: &str = "restore the models (`make setup` on a workstation, or re-run scripts/install with the release)";

pub(super) fn run(cx: &Context<'_>, out: &mut Vec<CheckResult>) {
    let dir = &cx.config.models.dir;
    let mut manifest = None;
    out.push(timed(|| match ModelManifest::load(dir) {
        Ok(m) => {
            let count = m.entries().len();
            manifest = Some(m);
            CheckResult::ok("models.manifest", format!("{}: {count} entries", dir.join("MANIFEST.toml").display()))
        }
        Err(e) => CheckResult::fail("models.manifest", e.to_string(), RESTORE),
    }));
    let Some(manifest) = manifest else {
        for id in RUNTIME_FILES {
            out.push(blocked(&format!("models.{id}"), "models.manifest", RESTORE));
        }
        out.push(blocked("models.load", "models.manifest", RESTORE));
        out.push(blocked("models.inference", "models.manifest", RESTORE));
        return;
    };
    let mut all_good = true;
    for id in RUNTIME_FILES {
        let check_id = format!("models.{id}");
        let result = timed(|| {
            match manifest.verified_path(id) {
                Ok(path) => {
                    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                    CheckResult::ok(&check_id, format!("{}: sha256 matches the manifest ({} KiB)", path.display(), size / 1024))
                        .with("size_bytes", size as f64)
                }
                Err(e) => CheckResult::fail(&check_id, e.to_string(), RESTORE),
            }
        });
        all_good &= result.status == crate::diag::Status::Ok;
        out.push(result);
    }
    if !all_good {
        out.push(blocked("models.load", "a models.<id> check", RESTORE));
        out.push(blocked("models.inference", "a models.<id> check", RESTORE));
        return;
    }
    let mut pipeline = None;
    out.push(timed(|| match FacePipeline::load(dir, crate::wiring::pipeline_settings(cx.config)) {
        Ok(p) => {
            pipeline = Some(p);
            CheckResult::ok("models.load", "YuNet, SFace and MiniFASNet ×2 loaded into onnxruntime")
        }
        Err(e) => CheckResult::fail(
            "models.load",
            e.to_string(),
            "check the onnxruntime library and models match this software version; re-install the release",
        ),
    }));
    let Some(mut pipeline) = pipeline else {
        out.push(blocked("models.inference", "models.load", RESTORE));
        return;
    };
    out.push(timed(|| inference(&mut pipeline, cx)));
}

/// Times one pass of detection, quality, liveness and embedding on a test face when the
/// release ships one, else detection on a grey frame.
fn inference(pipeline: &mut FacePipeline, cx: &Context<'_>) -> CheckResult {
    const ID: &str = "models.inference";
    let action = "the models load but inference fails: re-install the release; if it persists, report the error text";
    let face = cx.config.models.dir.join("faces/obama.jpg");
    let started = std::time::Instant::now();
    if face.is_file() {
        let image = match vision::read_image(&face) {
            Ok(image) => image,
            Err(e) => return CheckResult::fail(ID, e.to_string(), action),
        };
        let started = std::time::Instant::now();
        return match pipeline.analyse(&image) {
            Ok(FaceOutcome::Face(_)) => {
                let ms = started.elapsed().as_secs_f64() * 1000.0;
                CheckResult::ok(ID, format!("test face: detection, quality, liveness and embedding in {ms:.0} ms"))
                    .with("inference_ms", ms)
            }
            Ok(_) => CheckResult::fail(ID, "the test face was not found: the detector gives wrong results", action),
            Err(e) => CheckResult::fail(ID, e.to_string(), action),
        };
    }
    let grey = match Mat::new_rows_cols_with_default(
        cx.config.camera.height as i32,
        cx.config.camera.width as i32,
        opencv::core::CV_8UC3,
        opencv::core::Scalar::all(128.0),
    ) {
        Ok(m) => m,
        Err(e) => return CheckResult::fail(ID, e.to_string(), action),
    };
    match pipeline.detector().detect(&grey) {
        Ok(faces) => {
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            CheckResult::ok(ID, format!("detection on a grey frame in {ms:.0} ms ({} faces)", faces.len()))
                .with("inference_ms", ms)
        }
        Err(e) => CheckResult::fail(ID, e.to_string(), action),
    }
}
