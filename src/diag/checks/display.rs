//! Display (opens, shows a test pattern of colour bars) and input (opens; with a technician
//! present, a touch within the time limit).

use std::time::{Duration, Instant};

use embedded_graphics::{
    pixelcolor::Rgb888,
    prelude::*,
    primitives::{PrimitiveStyle, Rectangle},
};
use kiosk_config::{DisplayDriver, InputDriver};
use kiosk_hal::{Display, DisplayError, Input, InputEvent};

use super::blocked;
use crate::diag::{timed, CheckResult, Context};
use crate::wiring::{self, AnyDisplay, OpenError};

/// How long a technician has to touch the screen.
const TOUCH_WAIT: Duration = Duration::from_secs(15);

const BARS: [Rgb888; 8] = [
    Rgb888::WHITE,
    Rgb888::YELLOW,
    Rgb888::CYAN,
    Rgb888::GREEN,
    Rgb888::MAGENTA,
    Rgb888::RED,
    Rgb888::BLUE,
    Rgb888::BLACK,
];

const DISPLAY_ACTION: &str = "check the display cable and that `display.framebuffer` names the panel's /dev/fbN";
const INPUT_ACTION: &str = "check the touch controller's USB cable and that `input.device` names its /dev/input/eventN";

pub(super) fn run_display(cx: &Context<'_>, out: &mut Vec<CheckResult>) {
    let mut screen = None;
    out.push(timed(|| match open_display(cx) {
        Ok((s, what)) => {
            screen = Some(s);
            CheckResult::ok("display.open", what)
        }
        Err(e) => super::open_failed("display.open", &e, DISPLAY_ACTION),
    }));
    let Some(screen) = screen else {
        out.push(blocked("display.test_pattern", "display.open", DISPLAY_ACTION));
        return;
    };
    out.push(timed(|| test_pattern(screen)));
}

fn open_display(cx: &Context<'_>) -> Result<(AnyDisplay, String), OpenError> {
    let d = &cx.config.display;
    let display = wiring::open_display(cx.config, &cx.simulation())?;
    let what = match d.driver {
        DisplayDriver::Memory => format!("memory display {}×{}", d.width, d.height),
        DisplayDriver::Framebuffer => match &display {
            AnyDisplay::Framebuffer(fb) => fb.describe(),
            #[allow(unreachable_patterns)]
            _ => {
                let size = display.size();
                format!("/dev/{} {}×{}", d.framebuffer, size.width, size.height)
            }
        },
    };
    Ok((display, what))
}

fn draw_bars<D: Display>(display: &mut D) -> Result<(), DisplayError> {
    let size = display.size();
    let bar_width = (size.width / BARS.len() as u32).max(1);
    for (i, colour) in BARS.iter().enumerate() {
        Rectangle::new(Point::new((i as u32 * bar_width) as i32, 0), Size::new(bar_width, size.height))
            .into_styled(PrimitiveStyle::with_fill(*colour))
            .draw(display)?;
    }
    display.present("diag-test-pattern")
}

fn test_pattern(screen: AnyDisplay) -> CheckResult {
    const ID: &str = "display.test_pattern";
    match screen {
        AnyDisplay::Framebuffer(mut fb) => match draw_bars(&mut fb) {
            Ok(()) => CheckResult::ok(ID, "8 colour bars shown (white to black): look at the screen to confirm"),
            Err(e) => CheckResult::fail(ID, e.to_string(), DISPLAY_ACTION),
        },
        #[cfg(feature = "demo")]
        AnyDisplay::Memory(mut memory) => {
            if let Err(e) = draw_bars(&mut memory) {
                return CheckResult::fail(ID, e.to_string(), DISPLAY_ACTION);
            }
            // The memory display can be read back: every bar must hold its colour.
            let size = memory.size();
            let bar_width = size.width / BARS.len() as u32;
            let wrong = BARS
                .iter()
                .enumerate()
                .filter(|(i, colour)| memory.pixel(*i as u32 * bar_width + bar_width / 2, size.height / 2) != Some(**colour))
                .count();
            if wrong == 0 {
                CheckResult::ok(ID, "8 colour bars drawn and read back")
            } else {
                CheckResult::fail(ID, format!("{wrong} of 8 bars read back wrong"), DISPLAY_ACTION)
            }
        }
    }
}

pub(super) fn run_input(cx: &Context<'_>, out: &mut Vec<CheckResult>) {
    let mut input = None;
    out.push(timed(|| match open_input(cx) {
        Ok((i, what)) => {
            input = Some(i);
            CheckResult::ok("input.open", what)
        }
        Err(e) => super::open_failed("input.open", &e, INPUT_ACTION),
    }));
    if !cx.interactive {
        out.push(CheckResult::skip("input.touch", "interactive check skipped (--no-interactive)"));
        return;
    }
    let Some(mut input) = input else {
        out.push(blocked("input.touch", "input.open", INPUT_ACTION));
        return;
    };
    out.push(timed(|| wait_for_touch(input.as_mut())));
}

fn open_input(cx: &Context<'_>) -> Result<(Box<dyn Input>, String), OpenError> {
    let input = wiring::open_input(cx.config, &cx.simulation())?;
    let what = match cx.config.input.driver {
        InputDriver::Scripted => "scripted input".to_owned(),
        InputDriver::Evdev => format!("{} opened", cx.config.input.device.display()),
    };
    Ok((input, what))
}

fn wait_for_touch(input: &mut dyn Input) -> CheckResult {
    const ID: &str = "input.touch";
    eprintln!("input.touch: touch the screen (or press a key) within {} s", TOUCH_WAIT.as_secs());
    let started = Instant::now();
    while started.elapsed() < TOUCH_WAIT {
        match input.next_event(TOUCH_WAIT.saturating_sub(started.elapsed())) {
            Ok(Some(InputEvent::Touch { x, y })) => return CheckResult::ok(ID, format!("touch at ({x}, {y})")),
            Ok(Some(InputEvent::Key(key))) => return CheckResult::ok(ID, format!("key {key:?}")),
            Ok(None) => {}
            Err(e) => return CheckResult::fail(ID, e.to_string(), INPUT_ACTION),
        }
    }
    CheckResult::fail(ID, format!("no touch or key within {} s", TOUCH_WAIT.as_secs()), INPUT_ACTION)
}
