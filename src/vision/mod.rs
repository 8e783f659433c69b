//! The face pipeline: detect → align → embed → match, images through OpenCV and every
//! inference through onnxruntime (`ort`).
//!
//! **Architecture invariant:** nothing here touches a device or the disk except to load model
//! files; frames arrive as in-memory `Mat`s and never leave memory.

mod align;
mod burst;
pub mod challenge;
mod detect;
mod embed;
mod error;
mod gallery;
mod image;
mod liveness;
mod manifest;
mod matcher;
mod pipeline;
pub mod quality;
mod runtime;
mod tensor;

pub use align::{align_face, ALIGNED_SIZE};
pub use burst::{pose_sample, BurstPicker};
pub use challenge::{ChallengeRules, ChallengeStatus, ChallengeTracker, PoseSample, TurnDirection};
pub use detect::{window_around, Detection, FaceDetector};
pub use embed::{Embedding, FaceRecogniser, EMBEDDING_LEN};
pub use error::VisionError;
pub use gallery::{BucketSearch, BucketedGallery, Gallery, GalleryHit};
pub use image::{decode_image, read_image};
pub use liveness::{LivenessVerdict, PassiveLiveness};
pub use manifest::{ManifestEntry, ModelManifest};
pub use matcher::{cosine_similarity, MatchDecision};
pub use pipeline::{FaceAnalysis, FaceCandidate, FaceOutcome, FacePipeline, PipelineSettings};
pub use quality::{Advice, QualityReport, QualityThresholds};
