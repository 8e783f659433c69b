//! `kiosk face verify`: compare two pictures the way the kiosk compares a person with a document.

use std::path::Path;

use serde_json::json;

use super::AppError;
use crate::vision::{read_image, FaceOutcome, FacePipeline, MatchDecision};

/// What the technician sees for one image.
fn describe(outcome: &FaceOutcome) -> serde_json::Value {
    match outcome {
        FaceOutcome::NoFace => json!({ "face": null }),
        FaceOutcome::TooSmall { width_px } => json!({ "face": null, "too_small_width_px": width_px }),
        FaceOutcome::Face(face) => json!({
            "faces_found": face.faces_found,
            "detection_score": face.detection.score,
            "box": face.detection.bbox,
        }),
    }
}

pub fn verify(
    pipeline: &mut FacePipeline,
    reference: &Path,
    probe: &Path,
    threshold: f32,
    as_json: bool,
) -> Result<bool, AppError> {
    let mut analyse = |path: &Path| -> Result<_, AppError> {
        let image = read_image(path)?;
        let outcome = pipeline.analyse(&image)?;
        let summary = describe(&outcome);
        match outcome {
            FaceOutcome::Face(face) => Ok((face, summary)),
            FaceOutcome::NoFace => {
                Err(AppError::NoFace { image: path.display().to_string(), detail: "no face found".into() })
            }
            FaceOutcome::TooSmall { width_px } => Err(AppError::NoFace {
                image: path.display().to_string(),
                detail: format!("the face is only {width_px:.0} px wide; use a closer picture"),
            }),
        }
    };
    let (reference_face, reference_summary) = analyse(reference)?;
    let (probe_face, probe_summary) = analyse(probe)?;
    let decision = MatchDecision::compare(&reference_face.embedding, &probe_face.embedding, threshold);
    if as_json {
        let report = json!({
            "reference": reference_summary,
            "probe": probe_summary,
            "match": { "score": decision.score, "threshold": decision.threshold, "same_person": decision.same_person },
        });
        println!("{report:#}");
    } else {
        for (label, face) in [("reference", &reference_face), ("probe", &probe_face)] {
            println!(
                "{label:<10} faces found: {}, detection score {:.3}, face {:.0}×{:.0} px",
                face.faces_found, face.detection.score, face.detection.bbox[2], face.detection.bbox[3]
            );
        }
        println!(
            "match      cosine {:.3} (threshold {:.3}): {}",
            decision.score,
            decision.threshold,
            if decision.same_person { "SAME PERSON" } else { "DIFFERENT PEOPLE" }
        );
    }
    Ok(decision.same_person)
}
