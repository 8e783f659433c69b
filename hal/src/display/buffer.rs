//! The RGB back buffer shared by the display drivers: clipped pixel writes.

use embedded_graphics::{pixelcolor::Rgb888, prelude::*, primitives::Rectangle};

/// Row-major RGB pixels; writes outside the buffer are dropped (the DrawTarget contract).
#[derive(Debug, Clone)]
pub(crate) struct PixelBuffer {
    width: u32,
    height: u32,
    pixels: Vec<Rgb888>,
}

impl PixelBuffer {
    pub(crate) fn new(width: u32, height: u32) -> Self {
        let len = width as usize * height as usize;
        Self { width, height, pixels: vec![Rgb888::BLACK; len] }
    }

    pub(crate) fn size(&self) -> Size {
        Size::new(self.width, self.height)
    }

    pub(crate) fn width(&self) -> u32 {
        self.width
    }

    // Reading back is the memory display's (a simulator).
    #[cfg(any(test, feature = "sim"))]
    pub(crate) fn height(&self) -> u32 {
        self.height
    }

    pub(crate) fn pixels(&self) -> &[Rgb888] {
        &self.pixels
    }

    fn index(&self, x: i32, y: i32) -> Option<usize> {
        let (x, y) = (u32::try_from(x).ok()?, u32::try_from(y).ok()?);
        (x < self.width && y < self.height).then(|| y as usize * self.width as usize + x as usize)
    }

    #[cfg(any(test, feature = "sim"))]
    pub(crate) fn get(&self, x: u32, y: u32) -> Option<Rgb888> {
        let (x, y) = (i32::try_from(x).ok()?, i32::try_from(y).ok()?);
        self.index(x, y).and_then(|i| self.pixels.get(i).copied())
    }

    pub(crate) fn set(&mut self, point: Point, color: Rgb888) {
        if let Some(i) = self.index(point.x, point.y) {
            if let Some(p) = self.pixels.get_mut(i) {
                *p = color;
            }
        }
    }

    pub(crate) fn fill_rect(&mut self, area: &Rectangle, color: Rgb888) {
        let clipped = area.intersection(&Rectangle::new(Point::zero(), self.size()));
        let Some(bottom_right) = clipped.bottom_right() else { return };
        let row = self.width as usize;
        for y in clipped.top_left.y..=bottom_right.y {
            let start = y as usize * row + clipped.top_left.x as usize;
            let end = start + clipped.size.width as usize;
            if let Some(span) = self.pixels.get_mut(start..end) {
                span.fill(color);
            }
        }
    }

    pub(crate) fn fill(&mut self, color: Rgb888) {
        self.pixels.fill(color);
    }
}

/// Implements `DrawTarget` for a driver struct with a `buffer: PixelBuffer` field.
macro_rules! draw_target_via_buffer {
    ($driver:ty) => {
        impl embedded_graphics::draw_target::DrawTarget for $driver {
            type Color = embedded_graphics::pixelcolor::Rgb888;
            type Error = $crate::display::DisplayError;

            fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
            where
                I: IntoIterator<Item = embedded_graphics::Pixel<Self::Color>>,
            {
                for embedded_graphics::Pixel(point, color) in pixels {
                    self.buffer.set(point, color);
                }
                Ok(())
            }

            fn fill_solid(
                &mut self,
                area: &embedded_graphics::primitives::Rectangle,
                color: Self::Color,
            ) -> Result<(), Self::Error> {
                self.buffer.fill_rect(area, color);
                Ok(())
            }

            fn clear(&mut self, color: Self::Color) -> Result<(), Self::Error> {
                self.buffer.fill(color);
                Ok(())
            }
        }

        impl embedded_graphics::geometry::OriginDimensions for $driver {
            fn size(&self) -> embedded_graphics::geometry::Size {
                self.buffer.size()
            }
        }
    };
}
pub(crate) use draw_target_via_buffer;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_outside_are_dropped_and_fill_is_clipped() {
        let mut b = PixelBuffer::new(4, 3);
        b.set(Point::new(-1, 0), Rgb888::RED);
        b.set(Point::new(4, 0), Rgb888::RED);
        b.fill_rect(&Rectangle::new(Point::new(2, 1), Size::new(10, 10)), Rgb888::GREEN);
        assert_eq!(b.get(1, 1), Some(Rgb888::BLACK));
        assert_eq!(b.get(3, 2), Some(Rgb888::GREEN));
        assert_eq!(b.get(4, 0), None);
        assert!(b.pixels().iter().all(|&p| p != Rgb888::RED));
    }
}
