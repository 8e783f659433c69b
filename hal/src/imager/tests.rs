use super::sim::{LightPanel, PageContent, Paper, Placement, SimulatedImager};
use super::*;
use crate::card_reader::sim::{spawn, SimulatorConfig};
use crate::card_reader::SerialCardReader;
use crate::CardReader;
use opencv::core;
use opencv::prelude::*;

fn specimen() -> PageContent {
    PageContent {
        surname: "Иванов".into(),
        given_name: "Иван".into(),
        patronymic: "Иванович".into(),
        sex: "МУЖ.".into(),
        birth_date: "19.07.1980".into(),
        birth_place: "гор. Москва".into(),
        series_and_number: "45 09 235857".into(),
        mrz: [
            "PNRUSIVANOV<<IVAN<IVANOVI3<<<<<<<<<<<<<<<<<<".into(),
            "4502358579RUS8007197M<<<<<<<9150625770077<02".into(),
        ],
        portrait: None,
    }
}

fn mean(m: &core::Mat) -> [f64; 3] {
    let s = core::mean(m, &core::no_array()).unwrap();
    [s[0], s[1], s[2]]
}

fn reader_with_lights() -> (crate::card_reader::sim::SimulatorHandle, SerialCardReader, LightPanel) {
    let panel = LightPanel::default();
    let sim = spawn(SimulatorConfig { lights: panel.clone(), ..SimulatorConfig::default() }).unwrap();
    let reader = SerialCardReader::open(sim.port_path(), 115_200).unwrap();
    (sim, reader, panel)
}

#[test]
fn the_light_command_switches_the_readers_lights() {
    let (_sim, mut reader, panel) = reader_with_lights();
    for light in Light::ALL {
        reader.set_light(Some(light)).unwrap();
        assert_eq!(panel.get(), Some(light));
    }
    reader.set_light(None).unwrap();
    assert_eq!(panel.get(), None);
    reader.set_light(Some(Light::Ultraviolet)).unwrap();
    reader.initialise().unwrap();
    assert_eq!(panel.get(), None, "initialise switches the lights off");
}

#[test]
fn the_simulated_imager_photographs_under_the_light_the_reader_switched() {
    let (_sim, reader, panel) = reader_with_lights();
    let placement = Placement {
        frame: (800, 600),
        angle_deg: 4.0,
        blur_sigma: 0.8,
        glare: Some(((0.6, 0.4), 0.08, 0.5)),
        jpeg_quality: Some(85),
        ..Placement::default()
    };
    let mut imager =
        SimulatedImager::new(&specimen(), Paper::Genuine, placement, Box::new(reader), panel.clone())
            .unwrap();
    let page = imager.capture_page().unwrap();
    assert_eq!(panel.get(), None, "lights off after the page");
    for light in Light::ALL {
        let m = page.get(light);
        assert_eq!((m.cols(), m.rows()), (800, 600), "{light:?}");
    }
    let (white, uv) = (mean(&page.white), mean(&page.ultraviolet));
    // The page is seen in white light; a genuine blank is dull and violet under UV.
    assert!(white.iter().all(|&c| c > 70.0), "white {white:?}");
    assert!(
        uv[0] > uv[1] && uv.iter().sum::<f64>() < white.iter().sum::<f64>() / 2.0,
        "uv {uv:?} white {white:?}"
    );
}

#[test]
fn a_colour_copy_glows_under_uv() {
    let glow = |paper| {
        let (_sim, reader, panel) = reader_with_lights();
        let mut imager = SimulatedImager::new(
            &specimen(),
            paper,
            Placement { frame: (640, 480), ..Placement::default() },
            Box::new(reader),
            panel,
        )
        .unwrap();
        mean(&imager.capture(Light::Ultraviolet).unwrap()).iter().sum::<f64>()
    };
    let (genuine, copy) = (glow(Paper::Genuine), glow(Paper::ColourCopy));
    assert!(copy > 2.0 * genuine, "copy {copy} genuine {genuine}");
}

/// Lights that never switch: the camera sees the window dark, not the page.
struct Dead;
impl Lights for Dead {
    fn switch(&mut self, _: Option<Light>) -> Result<(), ImagerError> {
        Ok(())
    }
}

#[test]
fn without_the_light_command_the_page_is_not_seen() {
    let mut imager = SimulatedImager::new(
        &specimen(),
        Paper::Genuine,
        Placement { frame: (320, 240), ..Placement::default() },
        Box::new(Dead),
        LightPanel::default(),
    )
    .unwrap();
    let frame = imager.capture(Light::White).unwrap();
    assert!(mean(&frame).iter().all(|&c| c < 10.0));
}
