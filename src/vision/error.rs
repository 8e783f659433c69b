use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VisionError {
    #[error("model manifest {path}: {reason}. Run `make setup` to restore the models")]
    Manifest { path: PathBuf, reason: String },
    #[error("model file {path} is missing ({id}). Run `make setup`, which takes it from {source_hint}")]
    ModelMissing { id: String, path: PathBuf, source_hint: String },
    #[error("model file {path} has sha256 {actual}, expected {expected}: it is not the validated model. Run `make setup` to restore it")]
    ModelHashMismatch { path: PathBuf, expected: String, actual: String },
    #[error("onnxruntime library {path} could not be loaded: {reason}. Run `make setup` to install it")]
    Runtime { path: PathBuf, reason: String },
    #[error("model {model} could not be loaded: {reason}")]
    ModelLoad { model: String, reason: String },
    #[error("inference with {model} failed: {reason}")]
    Inference { model: String, reason: String },
    #[error("model {model} gave an output of unexpected shape: {reason}")]
    OutputShape { model: String, reason: String },
    #[error("image processing failed: {0}")]
    OpenCv(#[from] opencv::Error),
    #[error("image {what} could not be decoded: it is not a JPEG, JPEG 2000 or PNG image")]
    Undecodable { what: String },
    #[error("image {path} could not be read: {reason}")]
    ImageRead { path: PathBuf, reason: String },
}
