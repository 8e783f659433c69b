//! Screen snapshots: every screen in the main variants, compared pixel for pixel with the
//! PNGs in tests/snapshots/ui. On a difference the new picture is written next to the old
//! one as `*.png.new`; `UPDATE_SNAPSHOTS=1` accepts the new pictures.

use std::path::{Path, PathBuf};

use embedded_graphics::{pixelcolor::Rgb888, prelude::*, primitives::Rectangle};
use kiosk::ui::{face_preview_area, render, ButtonId, Guidance, Language, Refusal, Screen, UiOptions};
use kiosk_hal::display::{DisplayError, MemoryDisplay};
use kiosk_hal::Display;

const TOKEN: &str = "KIOSK-ACT-7F3A9C21-5D2E-4B8F-A1C0-93E4D7B2F6A8";

const CONSENT: &str = "Я, действуя свободно, своей волей и в своём интересе, даю согласие банку на обработку моих персональных данных, включая биометрические (изображение лица), а также данных паспорта, считанных с его чипа. Цель обработки: проверка личности и открытие демонстрационного счёта. Данные хранятся не дольше, чем нужно для этой цели, и не передаются третьим лицам, кроме случаев, прямо предусмотренных законом. Согласие можно отозвать в любой момент, подав заявление в любом отделении банка. Биометрическое изображение лица удаляется сразу после сверки с фотографией в паспорте.";

fn screens(size: Size) -> Vec<(&'static str, Screen)> {
    let preview = face_preview_area(size, &UiOptions::default());
    let c = preview.center();
    vec![
        ("welcome", Screen::Welcome),
        ("consent", Screen::Consent { version: "2.1".into(), text: CONSENT.into(), page: 0, can_accept: true }),
        ("place_document", Screen::PlaceDocument),
        ("reading_document", Screen::ReadingDocument),
        (
            "face_capture",
            Screen::FaceCapture {
                guidance: Some(Guidance::ComeCloser),
                face_box: Some(Rectangle::new(c - Point::new(60, 80), Size::new(120, 150))),
                preview: None,
            },
        ),
        ("verifying", Screen::Verifying),
        (
            "account_issued",
            Screen::AccountIssued {
                account_reference: "D-4821".into(),
                per_transaction_limit_rub: 15_000,
                daily_limit_rub: 50_000,
                monthly_limit_rub: 200_000,
                activation_token: TOKEN.into(),
                expires_at: "14:35".into(),
                can_print: false,
                receipt: None,
            },
        ),
        ("refused", Screen::Refused { reason: Refusal::FaceMismatch }),
        ("out_of_service", Screen::OutOfService),
    ]
}

fn variants() -> [(&'static str, UiOptions); 4] {
    let ru = UiOptions::default();
    [
        ("ru", ru),
        ("en", UiOptions { language: Language::En, ..ru }),
        ("ru-large", UiOptions { large_text: true, ..ru }),
        ("ru-contrast", UiOptions { high_contrast: true, ..ru }),
    ]
}

fn snapshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/ui")
}

fn decode_png(path: &Path) -> Option<(u32, u32, Vec<u8>)> {
    let file = std::fs::File::open(path).ok()?;
    let mut reader = png::Decoder::new(std::io::BufReader::new(file)).read_info().ok()?;
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).ok()?;
    if info.color_type != png::ColorType::Rgb || info.bit_depth != png::BitDepth::Eight {
        return None;
    }
    buf.truncate(info.buffer_size());
    Some((info.width, info.height, buf))
}

/// Renders and compares; returns a description of the mismatch, if any.
fn check(name: &str, size: Size, screen: &Screen, options: &UiOptions) -> Option<String> {
    let mut display = MemoryDisplay::new(size.width, size.height);
    render(&mut display, screen, options).unwrap();
    let path = snapshot_dir().join(format!("{name}.png"));
    let png = display.to_png().unwrap();
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(snapshot_dir()).unwrap();
        std::fs::write(&path, png).unwrap();
        return None;
    }
    let same = decode_png(&path)
        .is_some_and(|(w, h, px)| (w, h) == (size.width, size.height) && px == display.rgb_bytes());
    if same {
        return None;
    }
    let new = path.with_extension("png.new");
    std::fs::write(&new, png).unwrap();
    Some(format!("{name}: differs from {} (new picture: {})", path.display(), new.display()))
}

#[test]
fn screens_match_snapshots() {
    let mut failures = Vec::new();
    let small = Size::new(800, 480);
    for (variant, options) in variants() {
        for (id, screen) in screens(small) {
            failures.extend(check(&format!("{id}-{variant}-800x480"), small, &screen, &options));
        }
    }
    let big = Size::new(1280, 800);
    let wanted = ["welcome", "consent", "face_capture", "account_issued", "refused"];
    for (id, screen) in screens(big).into_iter().filter(|(id, _)| wanted.contains(id)) {
        failures.extend(check(&format!("{id}-ru-1280x800"), big, &screen, &UiOptions::default()));
    }
    let en_large = UiOptions { language: Language::En, large_text: true, high_contrast: true, spoken: false };
    failures.extend(check("welcome-en-large-contrast-1280x800", big, &Screen::Welcome, &en_large));
    assert!(failures.is_empty(), "{} snapshot(s) changed; look at the .png.new files and rerun with UPDATE_SNAPSHOTS=1 if they are right:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn qr_code_on_the_account_screen_decodes_to_the_token() {
    for size in [Size::new(800, 480), Size::new(1280, 800)] {
        for (_, options) in variants() {
            let screen = screens(size).into_iter().find(|(id, _)| *id == "account_issued").unwrap().1;
            let mut display = MemoryDisplay::new(size.width, size.height);
            render(&mut display, &screen, &options).unwrap();
            let img = rqrr::PreparedImage::prepare_from_greyscale(
                size.width as usize,
                size.height as usize,
                |x, y| {
                    let p = display.pixel(x as u32, y as u32).unwrap();
                    ((u32::from(p.r()) + u32::from(p.g()) + u32::from(p.b())) / 3) as u8
                },
            );
            let mut img = img;
            let grids = img.detect_grids();
            assert_eq!(grids.len(), 1, "one QR code on screen ({size:?}, {options:?})");
            let (_, content) = grids[0].decode().unwrap();
            assert_eq!(content, TOKEN);
        }
    }
}

/// A display that counts everything drawn outside the screen.
struct Fenced {
    inner: MemoryDisplay,
    outside: usize,
}

impl DrawTarget for Fenced {
    type Color = Rgb888;
    type Error = DisplayError;

    fn draw_iter<I: IntoIterator<Item = Pixel<Rgb888>>>(&mut self, pixels: I) -> Result<(), DisplayError> {
        let bounds = self.inner.bounding_box();
        let mut inside = Vec::new();
        for p in pixels {
            if bounds.contains(p.0) {
                inside.push(p);
            } else {
                self.outside += 1;
            }
        }
        self.inner.draw_iter(inside)
    }
}

impl OriginDimensions for Fenced {
    fn size(&self) -> Size {
        self.inner.size()
    }
}

impl Display for Fenced {
    fn present(&mut self, screen_id: &str) -> Result<(), DisplayError> {
        self.inner.present(screen_id)
    }
}

#[test]
fn buttons_are_finger_sized_and_nothing_is_drawn_off_screen() {
    for size in [Size::new(800, 480), Size::new(1280, 800)] {
        let screen_box = Rectangle::new(Point::zero(), size);
        for (variant, options) in variants() {
            for (id, screen) in screens(size) {
                let mut display = Fenced { inner: MemoryDisplay::new(size.width, size.height), outside: 0 };
                let layout = render(&mut display, &screen, &options).unwrap();
                assert_eq!(display.outside, 0, "{id} {variant} {size:?} draws off screen");
                for (i, (button, r)) in layout.buttons.iter().enumerate() {
                    assert!(r.size.height >= 60, "{button:?} on {id} {variant} is {} px tall", r.size.height);
                    assert!(r.size.width >= 60, "{button:?} on {id} {variant} is {} px wide", r.size.width);
                    assert_eq!(
                        screen_box.intersection(r),
                        *r,
                        "{button:?} on {id} {variant} leaves the screen"
                    );
                    for (other, o) in &layout.buttons[i + 1..] {
                        assert!(
                            r.intersection(o).size == Size::zero(),
                            "{button:?} overlaps {other:?} on {id}"
                        );
                    }
                    assert_eq!(layout.hit(r.center().x, r.center().y), Some(*button));
                    assert_eq!(layout.center_of(*button), Some(r.center()));
                }
            }
        }
    }
}

#[test]
fn screens_offer_the_expected_buttons() {
    let size = Size::new(800, 480);
    let ids = |screen: &Screen| {
        let mut d = MemoryDisplay::new(size.width, size.height);
        render(&mut d, screen, &UiOptions::default())
            .unwrap()
            .buttons
            .into_iter()
            .map(|(id, _)| id)
            .collect::<Vec<_>>()
    };
    let all = screens(size);
    let get = |name: &str| all.iter().find(|(id, _)| *id == name).unwrap().1.clone();
    assert_eq!(
        ids(&get("welcome")),
        [
            ButtonId::LanguageRu,
            ButtonId::LanguageEn,
            ButtonId::LargeText,
            ButtonId::HighContrast,
            ButtonId::Start
        ]
    );
    assert_eq!(ids(&get("consent")), [ButtonId::Decline, ButtonId::Accept]);
    assert_eq!(ids(&get("account_issued")), [ButtonId::Finish]);
    assert_eq!(ids(&get("refused")), [ButtonId::Finish]);
    assert!(ids(&get("verifying")).is_empty());
    assert!(ids(&get("out_of_service")).is_empty());
}

#[test]
fn tiny_display_is_a_clear_error() {
    let mut d = MemoryDisplay::new(100, 50);
    let err = render(&mut d, &Screen::Welcome, &UiOptions::default()).unwrap_err().to_string();
    assert!(err.contains("100x50"), "{err}");
}
