//! Every face image we have, through the kiosk's own pipeline (YuNet, alignment, SFace), and the
//! cosines of the pairs of different people: the measured impostor distribution the thresholds
//! of docs/FACE-MATCHING.md are computed from. Identities are known from where the images come
//! from (models/MANIFEST.toml); the three PAD samples are of unknown people, so pairs among them
//! are left out, their pairs with everyone else counted.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use kiosk::vision::{align_face, cosine_similarity, read_image, Embedding};

/// Image, and the identity of each face in it, largest first (`None`: unknown person).
fn images() -> Vec<(PathBuf, Vec<Option<String>>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let faces = root.join("models/faces");
    let one = |name: &str| vec![Some(name.to_string())];
    let mut list = vec![
        (faces.join("obama.jpg"), one("obama")),
        (faces.join("obama2.jpg"), one("obama")),
        (faces.join("obama3.jpg"), one("obama")),
        (faces.join("biden.jpg"), one("biden")),
        (faces.join("hanks.png"), one("hanks")),
        // A group photo of six people.
        (faces.join("group_t1.jpg"), (0..6).map(|n| Some(format!("group-{n}"))).collect()),
    ];
    for pad in ["image_T1.jpg", "image_F1.jpg", "image_F2.jpg"] {
        list.push((root.join("tests/data/pad-samples").join(pad), vec![None]));
    }
    list
}

/// Every face found, with its identity and template.
pub fn faces() -> Vec<(String, Option<String>, Embedding)> {
    let config = kiosk_config::load(None).unwrap();
    let mut pipeline = kiosk::wiring::face_pipeline(&config).unwrap();
    let mut out = Vec::new();
    for (path, identities) in images() {
        let image = read_image(&path).unwrap();
        let mut found = pipeline.detector().detect(&image).unwrap();
        found.sort_by(|a, b| (b.bbox[2] * b.bbox[3]).total_cmp(&(a.bbox[2] * a.bbox[3])));
        assert_eq!(found.len(), identities.len(), "faces in {}", path.display());
        for (n, (detection, identity)) in found.iter().zip(identities).enumerate() {
            let aligned = align_face(&image, detection).unwrap();
            out.push((format!("{}#{n}", path.display()), identity, pipeline.embed(&aligned).unwrap()));
        }
    }
    out
}

/// Cosines of pairs of faces of different people.
pub fn impostor_scores() -> Vec<f64> {
    pairs(|a, b| match (a, b) {
        (Some(a), Some(b)) => a != b,
        (None, None) => false,
        _ => true,
    })
}

/// Cosines of pairs of faces of the same person.
pub fn genuine_scores() -> Vec<f64> {
    pairs(|a, b| a.is_some() && a == b)
}

fn pairs(keep: impl Fn(&Option<String>, &Option<String>) -> bool) -> Vec<f64> {
    let faces = faces();
    let mut scores = Vec::new();
    for (i, (_, a, ea)) in faces.iter().enumerate() {
        for (_, b, eb) in faces.iter().skip(i + 1) {
            if keep(a, b) {
                scores.push(f64::from(cosine_similarity(ea, eb)));
            }
        }
    }
    scores
}

pub fn mean_sd(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}
