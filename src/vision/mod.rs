//! The face pipeline: detect → align → embed → match, images through OpenCV and every
//! inference through onnxruntime (`ort`).
//!
//! **Architecture invariant:** nothing here touches a device or the disk except to load model
//! files; frames arrive as in-memory `Mat`s and never leave memory.

mod align;
mod detect;
mod embed;
mod error;
mod image;
mod manifest;
mod matcher;
mod pipeline;
mod runtime;

pub use align::{align_face, ALIGNED_SIZE};
pub use detect::{Detection, FaceDetector};
pub use embed::{Embedding, FaceRecogniser, EMBEDDING_LEN};
pub use error::VisionError;
pub use image::{decode_image, read_image};
pub use manifest::{ManifestEntry, ModelManifest};
pub use matcher::{cosine_similarity, search_gallery, GalleryHit, MatchDecision};
pub use pipeline::{FaceAnalysis, FaceOutcome, FacePipeline, PipelineSettings};
