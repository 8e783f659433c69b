//! The activation QR code, drawn as filled squares: dark on white whatever the theme,
//! because phone scanners expect that.

use embedded_graphics::{pixelcolor::Rgb888, prelude::*, primitives::Rectangle};
use kiosk_hal::DisplayError;
use qrcode::{Color, EcLevel, QrCode};

use super::error::UiError;
use super::layout::rect;

/// Modules of white border the QR standard asks for.
const QUIET_ZONE: i32 = 4;
/// Below this many pixels per module phone cameras struggle at kiosk distance.
const MIN_MODULE_PX: i32 = 3;

/// Draws `data` as a QR code, as large as fits, centred in `area`; returns where it went.
pub(crate) fn draw_qr<T>(target: &mut T, data: &str, area: Rectangle) -> Result<Rectangle, UiError>
where
    T: DrawTarget<Color = Rgb888, Error = DisplayError>,
{
    let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M)
        .map_err(|e| UiError::Qr { reason: e.to_string() })?;
    let modules = code.width() as i32;
    let total = modules + 2 * QUIET_ZONE;
    let module_px = area.size.width.min(area.size.height) as i32 / total;
    if module_px < MIN_MODULE_PX {
        return Err(UiError::Qr {
            reason: format!("{modules} modules do not fit a {}x{} area", area.size.width, area.size.height),
        });
    }
    let side = total * module_px;
    let origin = area.center() - Point::new(side / 2, side / 2);
    let placed = rect(origin.x, origin.y, side, side);
    target.fill_solid(&placed, Rgb888::WHITE)?;
    let colors = code.to_colors();
    let start = origin + Point::new(QUIET_ZONE * module_px, QUIET_ZONE * module_px);
    for (y, row) in colors.chunks(modules as usize).enumerate() {
        // Runs of dark modules become one rectangle: fewer draw calls, same pixels.
        let mut x = 0;
        while x < row.len() {
            if row[x] != Color::Dark {
                x += 1;
                continue;
            }
            let run_start = x;
            while x < row.len() && row[x] == Color::Dark {
                x += 1;
            }
            let r = rect(
                start.x + run_start as i32 * module_px,
                start.y + y as i32 * module_px,
                (x - run_start) as i32 * module_px,
                module_px,
            );
            target.fill_solid(&r, Rgb888::BLACK)?;
        }
    }
    Ok(placed)
}
