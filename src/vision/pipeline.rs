//! The models loaded together, with one method per stage and a whole-picture analysis.

use std::path::Path;

use opencv::{core::Mat, prelude::*};

use super::{
    align_face, liveness::PassiveLiveness, manifest::ModelManifest, quality,
    runtime::{self, Pool},
    Detection, Embedding,
    FaceDetector, FaceRecogniser, LivenessVerdict, QualityReport, QualityThresholds, VisionError,
};

/// The settings the pipeline needs (from the `[face]` and `[models]` configuration).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PipelineSettings {
    pub detection_score_threshold: f32,
    pub nms_iou_threshold: f32,
    pub liveness_threshold: f32,
    pub quality: QualityThresholds,
    pub intra_threads: usize,
}

/// Everything known about the main face of one picture.
#[derive(Debug)]
pub struct FaceAnalysis {
    pub detection: Detection,
    /// How many faces the detector found (the largest is analysed).
    pub faces_found: usize,
    pub quality: QualityReport,
    pub liveness: LivenessVerdict,
    pub embedding: Embedding,
}

#[derive(Debug)]
pub enum FaceOutcome {
    NoFace,
    Face(Box<FaceAnalysis>),
}

/// A face found in a frame with its aligned crop and quality (the cheap stages of a burst).
pub struct FaceCandidate {
    pub detection: Detection,
    pub faces_found: usize,
    pub aligned: Mat,
    pub quality: QualityReport,
}

pub struct FacePipeline {
    detector: FaceDetector,
    recogniser: FaceRecogniser,
    liveness: PassiveLiveness,
    settings: PipelineSettings,
}

impl FacePipeline {
    /// Verifies every model file against the manifest in `models_dir`, then loads them.
    pub fn load(models_dir: &Path, settings: PipelineSettings) -> Result<Self, VisionError> {
        let manifest = ModelManifest::load(models_dir)?;
        let env = runtime::environment(&manifest.verified_path("onnxruntime")?, settings.intra_threads.max(1))?;
        let session = |id: &str| runtime::session(env, &manifest.verified_path(id)?, Pool::Shared);
        let own = Pool::Own { threads: settings.intra_threads.max(1) };
        Ok(Self {
            detector: FaceDetector::new(
                session("yunet")?,
                settings.detection_score_threshold,
                settings.nms_iou_threshold,
            ),
            recogniser: FaceRecogniser::new(runtime::session(env, &manifest.verified_path("sface")?, own)?)?,
            liveness: PassiveLiveness::new(
                session("minifasnet_v2")?,
                session("minifasnet_v1se")?,
                settings.liveness_threshold,
            ),
            settings,
        })
    }

    pub fn settings(&self) -> &PipelineSettings {
        &self.settings
    }

    pub fn detector(&mut self) -> &mut FaceDetector {
        &mut self.detector
    }

    /// Detection, alignment and quality of the largest face; `None` when there is no face.
    pub fn candidate(&mut self, image: &Mat) -> Result<Option<FaceCandidate>, VisionError> {
        let faces = self.detector.detect(image)?;
        let faces_found = faces.len();
        let Some(largest) =
            faces.into_iter().max_by(|a, b| (a.bbox[2] * a.bbox[3]).total_cmp(&(b.bbox[2] * b.bbox[3])))
        else {
            return Ok(None);
        };
        let aligned = align_face(image, &largest)?;
        let quality = quality::assess(image.cols(), &largest, &aligned, faces_found, &self.settings.quality)?;
        Ok(Some(FaceCandidate { detection: largest, faces_found, aligned, quality }))
    }

    pub fn liveness(&mut self, image: &Mat, face: &Detection) -> Result<LivenessVerdict, VisionError> {
        self.liveness.assess(image, face)
    }

    pub fn embed(&mut self, aligned: &Mat) -> Result<Embedding, VisionError> {
        self.recogniser.embed(aligned)
    }

    /// Every stage on the largest face of a picture (tools, document photos).
    pub fn analyse(&mut self, image: &Mat) -> Result<FaceOutcome, VisionError> {
        let Some(candidate) = self.candidate(image)? else {
            return Ok(FaceOutcome::NoFace);
        };
        let liveness = self.liveness(image, &candidate.detection)?;
        let embedding = self.embed(&candidate.aligned)?;
        Ok(FaceOutcome::Face(Box::new(FaceAnalysis {
            detection: candidate.detection,
            faces_found: candidate.faces_found,
            quality: candidate.quality,
            liveness,
            embedding,
        })))
    }
}
