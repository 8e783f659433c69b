//! `kiosk diag`: runs the checks and prints the table or the JSON report.

use std::path::{Path, PathBuf};

use super::AppError;
use crate::diag::{self, Options, SimulatedFault};

/// Prints the report and returns its exit code (0 ok, 1 warnings, 2 failures).
pub fn run(
    config_file: Option<&Path>,
    json: bool,
    only: Vec<String>,
    interactive: bool,
    fault: Option<SimulatedFault>,
    data_dir: Option<PathBuf>,
) -> Result<u8, AppError> {
    let only = only.iter().flat_map(|s| s.split(',')).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
    let options = Options { only, interactive, fault, data_dir };
    let report = diag::run(config_file, &options).map_err(|e| AppError::Usage(e.to_string()))?;
    if json {
        let text = serde_json::to_string_pretty(&report).map_err(|e| AppError::internal("diag report", e))?;
        println!("{text}");
    } else {
        print!("{}", report.to_text());
    }
    Ok(report.exit_code)
}
