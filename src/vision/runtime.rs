//! The one onnxruntime environment of the process, loaded from the library in `models/`.

use std::{
    path::Path,
    sync::{Mutex, OnceLock},
};

use ort::{
    environment::Environment,
    session::{builder::GraphOptimizationLevel, Session},
};

use super::VisionError;

static ENVIRONMENT: OnceLock<Environment> = OnceLock::new();
static INIT: Mutex<()> = Mutex::new(());

/// Loads libonnxruntime once; later calls return the same environment.
pub(crate) fn environment(dylib: &Path) -> Result<&'static Environment, VisionError> {
    if let Some(env) = ENVIRONMENT.get() {
        return Ok(env);
    }
    let _guard = INIT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(env) = ENVIRONMENT.get() {
        return Ok(env);
    }
    // ort panics on a missing library; check first so the person gets a clear error.
    if !dylib.is_file() {
        return Err(VisionError::Runtime { path: dylib.to_path_buf(), reason: "file not found".into() });
    }
    let runtime_err = |reason: String| VisionError::Runtime { path: dylib.to_path_buf(), reason };
    let env = ort::init_from(dylib)
        .map_err(|e| runtime_err(e.to_string()))?
        .with_name("kiosk")
        .build()
        .map_err(|e| runtime_err(e.to_string()))?;
    env.set_log_level(ort::logging::LogLevel::Error);
    Ok(ENVIRONMENT.get_or_init(|| env))
}

/// A CPU session tuned for the kiosk: all graph optimisations, a fixed small thread pool.
pub(crate) fn session(env: &Environment, model: &Path, threads: usize) -> Result<Session, VisionError> {
    let load_err = |reason: String| VisionError::ModelLoad { model: model.display().to_string(), reason };
    Session::builder(env)
        .map_err(|e| load_err(e.to_string()))?
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(|e| load_err(e.to_string()))?
        .with_intra_threads(threads)
        .map_err(|e| load_err(e.to_string()))?
        .commit_from_file(model)
        .map_err(|e| load_err(e.to_string()))
}
