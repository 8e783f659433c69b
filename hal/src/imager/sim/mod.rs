//! The simulated imager: the page of a person's internal passport under whichever light the card
//! reader simulator has switched on — the host switches it with command 0x71 over the pty, as
//! it would a real reader — placed crooked in the frame, with glare, blur and JPEG loss, at the
//! imager's resolution. Nothing is written to disk.

pub mod page;
mod text;

pub use page::{PageContent, Paper, PAGE_MM};
pub use text::Fonts;

use std::sync::{Arc, Mutex};

use opencv::core::{self, Mat, Point2f, Scalar, Size, Vector, CV_8UC3};
use opencv::imgcodecs;
use opencv::imgproc;
use opencv::prelude::*;

use super::{DocumentImager, ImagerError, Light, Lights};

/// Which light the simulated reader has on; shared by the card reader simulator (which the host
/// switches over the pty) and the simulated imager's camera (which photographs under it).
#[derive(Debug, Clone, Default)]
pub struct LightPanel(Arc<Mutex<Option<Light>>>);

impl LightPanel {
    pub fn set(&self, light: Option<Light>) {
        // A poisoned lock still holds a valid Option.
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = light;
    }

    pub fn get(&self) -> Option<Light> {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// How the page lies on the window and how the camera sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    /// The imager's frame, pixels.
    pub frame: (i32, i32),
    /// Page width as a share of the frame width.
    pub page_width: f32,
    /// Rotation, degrees (positive: counter-clockwise).
    pub angle_deg: f32,
    /// Offset of the page's centre from the frame's, as shares of the frame.
    pub offset: (f32, f32),
    /// Gaussian blur sigma, pixels (0: sharp).
    pub blur_sigma: f64,
    /// A specular highlight from the light: centre (shares of the frame), radius (share of the
    /// frame width), strength 0..1.
    pub glare: Option<((f32, f32), f32, f32)>,
    /// Re-encode each picture as JPEG at this quality (the camera's MJPG stream).
    pub jpeg_quality: Option<i32>,
}

impl Default for Placement {
    fn default() -> Self {
        Self {
            frame: (1600, 1200),
            page_width: 0.5,
            angle_deg: 0.0,
            offset: (0.0, 0.0),
            blur_sigma: 0.0,
            glare: None,
            jpeg_quality: None,
        }
    }
}

fn cv(e: opencv::Error) -> ImagerError {
    ImagerError::Render(e.to_string())
}

/// The flat page (from [`page::render`]) as the imager's camera sees it.
pub fn photograph(flat: &Mat, light: Option<Light>, placement: &Placement) -> Result<Mat, ImagerError> {
    let (w, h) = placement.frame;
    let window = match light {
        None => [8.0, 8.0, 8.0],
        Some(Light::White) => [35.0, 35.0, 38.0],
        Some(Light::Infrared) => [30.0, 30.0, 30.0],
        Some(Light::Ultraviolet) => [25.0, 6.0, 12.0],
    };
    let mut frame = Mat::new_size_with_default(
        Size::new(w, h),
        CV_8UC3,
        Scalar::new(window[0], window[1], window[2], 0.0),
    )
    .map_err(cv)?;
    if light.is_none() {
        return Ok(frame); // No light: the page is not seen.
    }
    let scale = f64::from(placement.page_width) * f64::from(w) / f64::from(flat.cols().max(1));
    let centre = Point2f::new(w as f32 * (0.5 + placement.offset.0), h as f32 * (0.5 + placement.offset.1));
    let mut m = imgproc::get_rotation_matrix_2d(
        Point2f::new(flat.cols() as f32 / 2.0, flat.rows() as f32 / 2.0),
        f64::from(placement.angle_deg),
        scale,
    )
    .map_err(cv)?;
    // Move the page's centre to where it lies in the frame.
    for (row, target) in [(0, centre.x), (1, centre.y)] {
        let shift = f64::from(target) - f64::from(if row == 0 { flat.cols() } else { flat.rows() }) / 2.0;
        *m.at_2d_mut::<f64>(row, 2).map_err(cv)? += shift;
    }
    imgproc::warp_affine(
        flat,
        &mut frame,
        &m,
        Size::new(w, h),
        imgproc::INTER_AREA,
        core::BORDER_TRANSPARENT,
        Scalar::default(),
    )
    .map_err(cv)?;
    if let Some(((gx, gy), radius, strength)) = placement.glare {
        let mut glare = Mat::new_size_with_default(Size::new(w, h), CV_8UC3, Scalar::all(0.0)).map_err(cv)?;
        let r = (radius * w as f32).max(1.0);
        imgproc::circle(
            &mut glare,
            core::Point::new((gx * w as f32) as i32, (gy * h as f32) as i32),
            r as i32,
            Scalar::all(255.0 * f64::from(strength.clamp(0.0, 1.0))),
            -1,
            imgproc::LINE_AA,
            0,
        )
        .map_err(cv)?;
        let mut soft = Mat::default();
        let sigma = f64::from(r) / 2.5;
        imgproc::gaussian_blur(&glare, &mut soft, Size::new(0, 0), sigma, sigma, core::BORDER_DEFAULT)
            .map_err(cv)?;
        let mut lit = Mat::default();
        core::add(&frame, &soft, &mut lit, &core::no_array(), -1).map_err(cv)?;
        frame = lit;
    }
    if placement.blur_sigma > 0.0 {
        let mut blurred = Mat::default();
        imgproc::gaussian_blur(
            &frame,
            &mut blurred,
            Size::new(0, 0),
            placement.blur_sigma,
            placement.blur_sigma,
            core::BORDER_DEFAULT,
        )
        .map_err(cv)?;
        frame = blurred;
    }
    if let Some(quality) = placement.jpeg_quality {
        let mut bytes = Vector::<u8>::new();
        let params = Vector::<i32>::from_iter([imgcodecs::IMWRITE_JPEG_QUALITY, quality.clamp(1, 100)]);
        imgcodecs::imencode(".jpg", &frame, &mut bytes, &params).map_err(cv)?;
        frame = imgcodecs::imdecode(&bytes, imgcodecs::IMREAD_COLOR).map_err(cv)?;
    }
    Ok(frame)
}

/// The simulated device: lights switched through `lights` (the host's card reader, talking to
/// the reader simulator over its pty), pictures taken under what `panel` — the simulator's
/// lights — actually shows.
pub struct SimulatedImager {
    flats: [Mat; 3],
    placement: Placement,
    lights: Box<dyn Lights>,
    panel: LightPanel,
}

impl SimulatedImager {
    /// Renders the page once under each light at a resolution that gives the frame its
    /// `placement.page_width`.
    pub fn new(
        content: &PageContent,
        paper: Paper,
        placement: Placement,
        lights: Box<dyn Lights>,
        panel: LightPanel,
    ) -> Result<Self, ImagerError> {
        let fonts = Fonts::load()?;
        // Render at the frame's own scale or finer (a page 800 px wide is about 230 dpi).
        let px_per_mm = (placement.page_width * placement.frame.0 as f32 / PAGE_MM.0).max(4.0);
        let flats = [
            page::render(content, paper, Light::White, px_per_mm, &fonts)?,
            page::render(content, paper, Light::Infrared, px_per_mm, &fonts)?,
            page::render(content, paper, Light::Ultraviolet, px_per_mm, &fonts)?,
        ];
        Ok(Self { flats, placement, lights, panel })
    }

    pub fn set_placement(&mut self, placement: Placement) {
        self.placement = placement;
    }
}

impl DocumentImager for SimulatedImager {
    fn capture(&mut self, light: Light) -> Result<Mat, ImagerError> {
        self.lights.switch(Some(light))?;
        let shown = self.panel.get();
        let flat = match shown {
            Some(Light::White) => &self.flats[0],
            Some(Light::Infrared) => &self.flats[1],
            Some(Light::Ultraviolet) => &self.flats[2],
            None => &self.flats[0],
        };
        photograph(flat, shown, &self.placement)
    }

    fn lights_off(&mut self) -> Result<(), ImagerError> {
        self.lights.switch(None)
    }

    fn describe(&self) -> String {
        format!("simulated document imager {}×{}", self.placement.frame.0, self.placement.frame.1)
    }
}
