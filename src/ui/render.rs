//! Draws whole screens. Drawing only: the caller presents, so it decides when the person
//! sees the result.

use embedded_graphics::{
    pixelcolor::Rgb888,
    prelude::*,
    primitives::{PrimitiveStyleBuilder, Rectangle},
};
use kiosk_hal::{Display, DisplayError};

use super::error::UiError;
use super::fonts::Fonts;
use super::icons;
use super::layout::{columns, rect, split_bottom, split_left, Layout, Metrics};
use super::qr::draw_qr;
use super::text::{self as tx, Tr};
use super::textblock::{para, Align, Para, Role, Writer};
use super::theme::Theme;
use super::widgets::{button, header, ButtonKind};
use super::{ButtonId, Language, Refusal, Screen, UiOptions};

/// Smallest display the layouts are designed for.
const MIN_SIZE: Size = Size::new(480, 320);

/// Draws `screen` on `display` (clearing it first) with the system fonts; does not present.
pub fn render<D: Display>(display: &mut D, screen: &Screen, options: &UiOptions) -> Result<Layout, UiError> {
    render_with_fonts(display, screen, options, Fonts::system()?)
}

/// [`render`] with explicit fonts.
pub fn render_with_fonts<D: Display>(
    display: &mut D,
    screen: &Screen,
    options: &UiOptions,
    fonts: &Fonts,
) -> Result<Layout, UiError> {
    let size = display.size();
    if size.width < MIN_SIZE.width || size.height < MIN_SIZE.height {
        return Err(UiError::DisplayTooSmall { width: size.width, height: size.height });
    }
    let metrics = Metrics::new(size, options);
    let theme = Theme::new(options.high_contrast);
    display.clear(theme.background)?;
    let mut s = Painter {
        target: display,
        w: Writer { fonts, theme: &theme, metrics: &metrics },
        lang: options.language,
        layout: Layout::default(),
    };
    s.screen(screen, options)?;
    Ok(s.layout)
}

/// The area where the camera picture and the face box belong on the FaceCapture screen.
pub fn face_preview_area(size: Size, options: &UiOptions) -> Rectangle {
    let m = Metrics::new(size, options);
    let body = m.body();
    let h = body.size.height as i32;
    let w = (h * 4 / 3).min(m.width * 11 / 20);
    rect(body.top_left.x, body.top_left.y, w, h)
}

/// The step (0..4) a screen belongs to, for the header indicator.
fn step_of(screen: &Screen) -> Option<usize> {
    match screen {
        Screen::Consent { .. } => Some(0),
        Screen::PlaceDocument | Screen::ReadingDocument => Some(1),
        Screen::FaceCapture { .. } | Screen::Verifying => Some(2),
        Screen::AccountIssued { .. } | Screen::SocialPayments { .. } => Some(3),
        Screen::Welcome | Screen::Goodbye { .. } | Screen::Refused { .. } | Screen::OutOfService => None,
    }
}

struct Painter<'a, D> {
    target: &'a mut D,
    w: Writer<'a>,
    lang: Language,
    layout: Layout,
}

impl<D: DrawTarget<Color = Rgb888, Error = DisplayError>> Painter<'_, D> {
    fn m(&self) -> &Metrics {
        self.w.metrics
    }

    fn t(&self, tr: Tr) -> &'static str {
        tr.get(self.lang)
    }

    fn button(
        &mut self,
        id: ButtonId,
        area: Rectangle,
        label: &str,
        kind: ButtonKind,
    ) -> Result<(), DisplayError> {
        let r = button(self.target, &self.w, area, label, kind)?;
        self.layout.buttons.push((id, r));
        Ok(())
    }

    fn block(&mut self, paras: &[Para], area: Rectangle, align: Align) -> Result<i32, DisplayError> {
        self.w.block(self.target, paras, area, align)
    }

    fn screen(&mut self, screen: &Screen, options: &UiOptions) -> Result<(), UiError> {
        let plain = match screen {
            Screen::Welcome | Screen::OutOfService => format!("{} · {}", tx::HEADER.ru, tx::HEADER.en),
            _ => self.t(tx::HEADER).to_owned(),
        };
        header(self.target, &self.w, self.lang, step_of(screen), &plain)?;
        match screen {
            Screen::Welcome => self.welcome(options)?,
            Screen::Consent { version, text, .. } => self.consent(version, text)?,
            Screen::PlaceDocument => self.document(false)?,
            Screen::ReadingDocument => self.document(true)?,
            Screen::FaceCapture { guidance, face_box, .. } => {
                self.face(tx::guidance(*guidance), *face_box, options)?
            }
            Screen::Verifying => self.verifying()?,
            Screen::AccountIssued {
                account_reference,
                per_transaction_limit_rub,
                daily_limit_rub,
                monthly_limit_rub,
                activation_token,
                expires_at,
                ..
            } => {
                let limits = [
                    (tx::LIMIT_PER_TRANSACTION, *per_transaction_limit_rub),
                    (tx::LIMIT_DAILY, *daily_limit_rub),
                    (tx::LIMIT_MONTHLY, *monthly_limit_rub),
                ];
                self.issued(account_reference, &limits, activation_token, expires_at)?
            }
            Screen::Refused { reason } => self.refused(*reason)?,
            Screen::OutOfService => self.out_of_service()?,
            // Placeholders until these screens are drawn properly.
            Screen::SocialPayments { .. } | Screen::Goodbye { .. } => self.out_of_service()?,
        }
        Ok(())
    }

    fn welcome(&mut self, o: &UiOptions) -> Result<(), DisplayError> {
        let m = *self.m();
        let (content, start_row) = split_bottom(m.body(), m.button_h, m.gap);
        let (content, options_row) = split_bottom(content, m.button_h, m.gap);
        let paras = [
            para(self.t(tx::WELCOME_TITLE), Role::Title),
            para(tx::WELCOME_TITLE.other(self.lang), Role::Muted),
            para(self.t(tx::WELCOME_BODY), Role::Body),
        ];
        self.block(&paras, content, Align::Center)?;
        let cols = columns(options_row, 4, m.gap);
        let lang_kind = |l| if o.language == l { ButtonKind::Primary } else { ButtonKind::Secondary };
        self.button(ButtonId::LanguageRu, cols[0], tx::LANG_RU, lang_kind(Language::Ru))?;
        self.button(ButtonId::LanguageEn, cols[1], tx::LANG_EN, lang_kind(Language::En))?;
        self.button(
            ButtonId::LargeText,
            cols[2],
            self.t(tx::LARGE_TEXT),
            ButtonKind::Toggle { on: o.large_text },
        )?;
        self.button(
            ButtonId::HighContrast,
            cols[3],
            self.t(tx::HIGH_CONTRAST),
            ButtonKind::Toggle { on: o.high_contrast },
        )?;
        self.button(ButtonId::Start, start_row, self.t(tx::START), ButtonKind::Primary)
    }

    fn consent(&mut self, version: &str, text: &str) -> Result<(), DisplayError> {
        let m = *self.m();
        let t = *self.w.theme;
        let (content, buttons) = split_bottom(m.body(), m.button_h, m.gap);
        let title = [para(self.t(tx::CONSENT_TITLE), Role::Title)];
        let title_h = self.w.height_of(&title, content.size.width).min(content.size.height as i32 / 3);
        self.block(&title, content, Align::Left)?;
        let version_line = format!("{} {version}", self.t(tx::CONSENT_VERSION));
        let full_note = [para(format!("{version_line} · {}", self.t(tx::CONSENT_MORE)), Role::Small)];
        let note_h = self.w.height_of(&full_note, content.size.width);
        let top = content.top_left.y + title_h + m.gap;
        let bottom = content.top_left.y + content.size.height as i32 - note_h - m.gap / 2;
        let frame = rect(content.top_left.x, top, content.size.width as i32, bottom - top);
        frame
            .into_styled(
                PrimitiveStyleBuilder::new()
                    .fill_color(t.surface)
                    .stroke_color(t.surface_border)
                    .stroke_width(t.outline_width)
                    .build(),
            )
            .draw(self.target)?;
        let pad = m.px(12.0);
        let inner = rect(
            frame.top_left.x + pad,
            frame.top_left.y + pad / 2,
            frame.size.width as i32 - 2 * pad,
            frame.size.height as i32 - pad,
        );
        // The consent is shown at full size and cut, never shrunk: it must stay readable.
        let surface = Theme { background: t.surface, ..t };
        let on_surface = Writer { fonts: self.w.fonts, theme: &surface, metrics: self.w.metrics };
        let truncated = on_surface.block_clipped(self.target, text, inner)?;
        let note = if truncated { full_note } else { [para(version_line, Role::Small)] };
        self.block(
            &note,
            rect(content.top_left.x, bottom + m.gap / 2, content.size.width as i32, note_h),
            Align::Left,
        )?;
        let cols = columns(buttons, 2, m.gap);
        self.button(ButtonId::Decline, cols[0], self.t(tx::DECLINE), ButtonKind::Secondary)?;
        self.button(ButtonId::Accept, cols[1], self.t(tx::ACCEPT), ButtonKind::Primary)
    }

    fn document(&mut self, reading: bool) -> Result<(), DisplayError> {
        let m = *self.m();
        let body = m.body();
        let (text_col, picture) = split_left(body, body.size.width as i32 * 11 / 20, m.gap * 2);
        let (text_area, button_row) = if reading {
            (text_col, None)
        } else {
            let (a, b) = split_bottom(text_col, m.button_h, m.gap);
            (a, Some(b))
        };
        let paras = if reading {
            vec![
                para(self.t(tx::READING_TITLE), Role::Title),
                para(self.t(tx::READING_HOLD), Role::Strong),
                para(self.t(tx::READING_BODY), Role::Body),
            ]
        } else {
            vec![para(self.t(tx::PLACE_TITLE), Role::Title), para(self.t(tx::PLACE_BODY), Role::Body)]
        };
        self.block(&paras, text_area, Align::Left)?;
        icons::passport_on_reader(self.target, self.w.theme, &m, picture, reading)?;
        if let Some(row) = button_row {
            let w = (row.size.width as i32).min(m.px(260.0));
            self.button(
                ButtonId::Cancel,
                rect(row.top_left.x, row.top_left.y, w, row.size.height as i32),
                self.t(tx::CANCEL),
                ButtonKind::Secondary,
            )?;
        }
        Ok(())
    }

    fn face(&mut self, guidance: Tr, face_box: Option<Rectangle>, o: &UiOptions) -> Result<(), DisplayError> {
        let m = *self.m();
        let preview = face_preview_area(Size::new(m.width as u32, m.height as u32), o);
        icons::face_guide(self.target, self.w.theme, &m, preview, face_box)?;
        let body = m.body();
        let (_, right) = split_left(body, preview.size.width as i32, m.gap * 2);
        let (text_area, row) = split_bottom(right, m.button_h, m.gap);
        let paras = [
            para(self.t(tx::FACE_TITLE), Role::Title),
            para(self.t(guidance), Role::Strong),
            para(self.t(tx::FACE_HINT), Role::Small),
        ];
        self.block(&paras, text_area, Align::Left)?;
        self.button(ButtonId::Cancel, row, self.t(tx::CANCEL), ButtonKind::Secondary)
    }

    fn verifying(&mut self) -> Result<(), DisplayError> {
        let m = *self.m();
        let body = m.body();
        let ring = (body.size.height as i32 * 2 / 5).min(m.px(160.0));
        let paras =
            [para(self.t(tx::VERIFYING_TITLE), Role::Title), para(self.t(tx::VERIFYING_BODY), Role::Body)];
        // Ring and words as one group in the middle of the screen.
        let text_h =
            self.w.height_of(&paras, body.size.width).min(body.size.height as i32 - ring - m.gap * 2);
        let top = body.center().y - (ring + m.gap * 2 + text_h) / 2;
        icons::waiting_ring(self.target, self.w.theme, Point::new(body.center().x, top + ring / 2), ring)?;
        let text_area = rect(body.top_left.x, top + ring + m.gap * 2, body.size.width as i32, text_h);
        self.block(&paras, text_area, Align::Center)?;
        Ok(())
    }

    fn issued(
        &mut self,
        reference: &str,
        limits: &[(Tr, u64)],
        token: &str,
        expires_at: &str,
    ) -> Result<(), UiError> {
        let m = *self.m();
        let body = m.body();
        let qr_side = (body.size.height as i32).min(body.size.width as i32 * 9 / 20);
        let (left, _) = split_left(body, body.size.width as i32 - qr_side - m.gap * 2, m.gap * 2);
        let qr_area =
            rect(body.top_left.x + body.size.width as i32 - qr_side, body.top_left.y, qr_side, qr_side);
        draw_qr(self.target, token, qr_area)?;
        let (text_area, row) = split_bottom(left, m.button_h, m.gap);
        let mut paras = vec![
            para(self.t(tx::ISSUED_TITLE), Role::Title),
            para(format!("{} {reference}", self.t(tx::ISSUED_REFERENCE)), Role::Muted),
            para(self.t(tx::ISSUED_LIMITS), Role::Strong),
        ];
        let lines: Vec<String> = limits
            .iter()
            .map(|(label, amount)| format!("• {} — {}", self.t(*label), tx::money(*amount, self.lang)))
            .collect();
        paras.push(para(lines.join("\n"), Role::Body));
        paras.push(para(format!("{} {expires_at}.", self.t(tx::ISSUED_SCAN)), Role::Small));
        self.block(&paras, text_area, Align::Left)?;
        self.button(ButtonId::Finish, row, self.t(tx::FINISH), ButtonKind::Primary)?;
        Ok(())
    }

    fn refused(&mut self, reason: Refusal) -> Result<(), DisplayError> {
        let m = *self.m();
        let [title, what, next] = tx::refusal(reason);
        let (content, row) = split_bottom(m.body(), m.button_h, m.gap);
        let badge = m.px(72.0);
        let (badge_col, text_area) = split_left(content, badge, m.gap * 2);
        icons::info_badge(
            self.target,
            self.w.theme,
            Point::new(badge_col.center().x, badge_col.top_left.y + badge / 2),
            badge,
        )?;
        let paras = [
            para(self.t(title), Role::Title),
            para(self.t(what), Role::Body),
            para(self.t(next), Role::Strong),
        ];
        self.block(&paras, text_area, Align::Left)?;
        let w = (row.size.width as i32).min(m.px(320.0));
        let centred = rect(row.center().x - w / 2, row.top_left.y, w, row.size.height as i32);
        self.button(ButtonId::Finish, centred, self.t(tx::REFUSED_FINISH), ButtonKind::Primary)
    }

    fn out_of_service(&mut self) -> Result<(), DisplayError> {
        let m = *self.m();
        let body = m.body();
        let badge = m.px(80.0);
        icons::info_badge(
            self.target,
            self.w.theme,
            Point::new(body.center().x, body.top_left.y + badge / 2),
            badge,
        )?;
        let area = rect(
            body.top_left.x,
            body.top_left.y + badge + m.gap,
            body.size.width as i32,
            body.size.height as i32 - badge - m.gap,
        );
        let (first, second) = match self.lang {
            Language::Ru => (Language::Ru, Language::En),
            Language::En => (Language::En, Language::Ru),
        };
        let paras = [
            para(tx::OUT_OF_SERVICE_TITLE.get(first), Role::Title),
            para(tx::OUT_OF_SERVICE_BODY.get(first), Role::Body),
            para(tx::OUT_OF_SERVICE_TITLE.get(second), Role::Strong),
            para(tx::OUT_OF_SERVICE_BODY.get(second), Role::Muted),
        ];
        self.block(&paras, area, Align::Center)?;
        Ok(())
    }
}
