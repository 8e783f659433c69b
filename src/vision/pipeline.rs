//! The models loaded together, and one call from a frame to a face template.

use std::path::Path;

use opencv::core::Mat;

use super::{
    align_face, manifest::ModelManifest, runtime, Detection, Embedding, FaceDetector,
    FaceRecogniser, VisionError,
};

/// The settings the pipeline needs (from the `[face]` and `[models]` configuration).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PipelineSettings {
    pub detection_score_threshold: f32,
    pub nms_iou_threshold: f32,
    pub min_face_width_px: u32,
    pub intra_threads: usize,
}

/// The face that was analysed in a picture.
#[derive(Debug)]
pub struct FaceAnalysis {
    pub detection: Detection,
    pub embedding: Embedding,
    /// How many faces the detector found (the largest is analysed).
    pub faces_found: usize,
}

/// What looking at one picture gave.
#[derive(Debug)]
pub enum FaceOutcome {
    NoFace,
    /// The largest face is narrower than the configured minimum.
    TooSmall {
        width_px: f32,
    },
    Face(FaceAnalysis),
}

pub struct FacePipeline {
    detector: FaceDetector,
    recogniser: FaceRecogniser,
    settings: PipelineSettings,
}

impl FacePipeline {
    /// Verifies the model files against the manifest in `models_dir`, then loads them.
    pub fn load(models_dir: &Path, settings: PipelineSettings) -> Result<Self, VisionError> {
        let manifest = ModelManifest::load(models_dir)?;
        let env = runtime::environment(&manifest.verified_path("onnxruntime")?)?;
        let threads = settings.intra_threads.max(1);
        let detector_session = runtime::session(env, &manifest.verified_path("yunet")?, threads)?;
        let recogniser_session = runtime::session(env, &manifest.verified_path("sface")?, threads)?;
        Ok(Self {
            detector: FaceDetector::new(
                detector_session,
                settings.detection_score_threshold,
                settings.nms_iou_threshold,
            ),
            recogniser: FaceRecogniser::new(recogniser_session)?,
            settings,
        })
    }

    pub fn detector(&mut self) -> &mut FaceDetector {
        &mut self.detector
    }

    /// Detects, aligns and embeds the largest face of a BGR picture.
    pub fn analyse(&mut self, image: &Mat) -> Result<FaceOutcome, VisionError> {
        let faces = self.detector.detect(image)?;
        let faces_found = faces.len();
        let Some(largest) = faces
            .into_iter()
            .max_by(|a, b| (a.bbox[2] * a.bbox[3]).total_cmp(&(b.bbox[2] * b.bbox[3])))
        else {
            return Ok(FaceOutcome::NoFace);
        };
        if largest.width() < self.settings.min_face_width_px as f32 {
            return Ok(FaceOutcome::TooSmall {
                width_px: largest.width(),
            });
        }
        let aligned = align_face(image, &largest)?;
        let embedding = self.recogniser.embed(&aligned)?;
        Ok(FaceOutcome::Face(FaceAnalysis {
            detection: largest,
            embedding,
            faces_found,
        }))
    }
}
