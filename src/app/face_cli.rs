//! `kiosk face verify`, `kiosk face liveness` and `kiosk face scores`: the kiosk's face checks
//! on picture files, for technicians and for measuring score distributions.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::AppError;
use crate::vision::{
    align_face, cosine_similarity, read_image, Detection, Embedding, FaceAnalysis, FaceOutcome, FacePipeline, MatchDecision,
};

fn analyse(pipeline: &mut FacePipeline, path: &Path) -> Result<Box<FaceAnalysis>, AppError> {
    let image = read_image(path)?;
    match pipeline.analyse(&image)? {
        FaceOutcome::Face(face) => Ok(face),
        FaceOutcome::NoFace => Err(AppError::NoFace {
            image: path.display().to_string(),
            detail: "no face found; use a picture where one face is clearly visible".into(),
        }),
    }
}

fn report(face: &FaceAnalysis) -> Value {
    let gates: Vec<Value> = face
        .quality
        .gates
        .iter()
        .map(|g| json!({ "gate": format!("{:?}", g.gate), "value": g.value, "passed": g.passed }))
        .collect();
    json!({
        "faces_found": face.faces_found,
        "detection_score": face.detection.score,
        "box": face.detection.bbox,
        "quality": { "passed": face.quality.passed(), "gates": gates,
                     "pose_deg": { "yaw": face.quality.pose.yaw, "pitch": face.quality.pose.pitch, "roll": face.quality.pose.roll } },
        "liveness": { "live": face.liveness.live, "real_probability": face.liveness.real_probability,
                      "threshold": face.liveness.threshold },
    })
}

fn print_face(label: &str, face: &FaceAnalysis) {
    let q = &face.quality;
    println!(
        "{label:<10} faces found {}, detection {:.3}, face {:.0}×{:.0} px",
        face.faces_found, face.detection.score, face.detection.bbox[2], face.detection.bbox[3]
    );
    let failed: Vec<String> =
        q.gates.iter().filter(|g| !g.passed).map(|g| format!("{:?} ({:.2})", g.gate, g.value)).collect();
    println!(
        "{:<10} quality {} (yaw {:+.0}°, pitch {:+.0}°, roll {:+.0}°){}",
        "",
        if q.passed() { "passed" } else { "FAILED" },
        q.pose.yaw,
        q.pose.pitch,
        q.pose.roll,
        if failed.is_empty() { String::new() } else { format!(": {}", failed.join(", ")) }
    );
    println!(
        "{:<10} liveness {} (live probability {:.2}, threshold {:.2})",
        "",
        if face.liveness.live { "LIVE" } else { "ATTACK" },
        face.liveness.real_probability,
        face.liveness.threshold
    );
}

/// Exit status: `Ok(true)` same person.
pub fn verify(
    pipeline: &mut FacePipeline,
    reference: &Path,
    probe: &Path,
    threshold: f32,
    as_json: bool,
) -> Result<bool, AppError> {
    let reference_face = analyse(pipeline, reference)?;
    let probe_face = analyse(pipeline, probe)?;
    let decision = MatchDecision::compare(&reference_face.embedding, &probe_face.embedding, threshold);
    if as_json {
        let out = json!({
            "reference": report(&reference_face),
            "probe": report(&probe_face),
            "match": { "score": decision.score, "threshold": decision.threshold, "same_person": decision.same_person },
        });
        println!("{out:#}");
    } else {
        print_face("reference", &reference_face);
        print_face("probe", &probe_face);
        println!(
            "match      cosine {:.3} (threshold {:.3}): {}",
            decision.score,
            decision.threshold,
            if decision.same_person { "SAME PERSON" } else { "DIFFERENT PEOPLE" }
        );
    }
    Ok(decision.same_person)
}

/// Exit status: `Ok(true)` live.
pub fn liveness(pipeline: &mut FacePipeline, image: &Path, as_json: bool) -> Result<bool, AppError> {
    let face = analyse(pipeline, image)?;
    if as_json {
        println!("{:#}", report(&face));
    } else {
        print_face("image", &face);
    }
    Ok(face.liveness.live)
}

/// `kiosk face scores`: every face of every picture through the kiosk's detector, alignment and
/// recogniser, and the cosine of every pair of them — the measurement behind the thresholds
/// (docs/FACE-MATCHING.md). Faces are named `FILE#N`, largest first; which pairs are the same
/// person is for the caller to say (the tool knows no identities).
pub fn scores(pipeline: &mut FacePipeline, images: &[PathBuf], as_json: bool) -> Result<(), AppError> {
    let mut faces: Vec<(String, Detection, Embedding)> = Vec::new();
    for path in images {
        let image = read_image(path)?;
        let mut found = pipeline.detector().detect(&image)?;
        found.sort_by(|a, b| (b.bbox[2] * b.bbox[3]).total_cmp(&(a.bbox[2] * a.bbox[3])));
        for (n, detection) in found.into_iter().enumerate() {
            let aligned = align_face(&image, &detection)?;
            let embedding = pipeline.embed(&aligned)?;
            faces.push((format!("{}#{n}", path.display()), detection, embedding));
        }
    }
    let mut pairs = Vec::new();
    for (i, (a, _, ea)) in faces.iter().enumerate() {
        for (b, _, eb) in faces.iter().skip(i + 1) {
            pairs.push((a.as_str(), b.as_str(), cosine_similarity(ea, eb)));
        }
    }
    if as_json {
        let faces: Vec<Value> = faces
            .iter()
            .map(|(name, d, _)| json!({ "face": name, "box": d.bbox, "detection_score": d.score }))
            .collect();
        let pairs: Vec<Value> = pairs.iter().map(|(a, b, c)| json!({ "a": a, "b": b, "cosine": c })).collect();
        println!("{:#}", json!({ "faces": faces, "pairs": pairs }));
    } else {
        for (name, d, _) in &faces {
            println!("face  {name}: detection {:.3}, {:.0}×{:.0} px", d.score, d.bbox[2], d.bbox[3]);
        }
        for (a, b, c) in &pairs {
            println!("pair  {c:+.3}  {a}  {b}");
        }
    }
    Ok(())
}
