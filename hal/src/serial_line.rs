//! The serial line both the card reader and the receipt printer use: 8 data bits, no parity,
//! one stop bit, no flow control, and short read slices so a caller's own deadline governs.

use std::time::Duration;

use serialport::{DataBits, FlowControl, Parity, SerialPort, StopBits};

/// How long one read waits before it returns to its caller's loop.
pub(crate) const READ_SLICE: Duration = Duration::from_millis(20);

/// Opens `path` at `baud`, 8N1, no flow control; the error text is the port's own.
pub(crate) fn open_8n1(path: &str, baud: u32) -> Result<Box<dyn SerialPort>, String> {
    serialport::new(path, baud)
        .data_bits(DataBits::Eight)
        .parity(Parity::None)
        .stop_bits(StopBits::One)
        .flow_control(FlowControl::None)
        .timeout(READ_SLICE)
        .open()
        .map_err(|e| e.to_string())
}
