//! The blurred preview of an image: a thumbnail so small that no detail survives.
//!
//! At [`PREVIEW_SIDE`] pixels on the long side a face, a label or a house number is a few
//! blocks of colour, so the preview can go to anyone who may view the conversation: it
//! tells an agent "a photo of a parcel on a doorstep" without showing whose doorstep. The
//! page scales it up with a CSS blur. The decoder runs with limits, so a hostile file (a
//! decompression bomb) fails instead of taking the server's memory.

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits};

/// The long side of a preview, in pixels.
pub const PREVIEW_SIDE: u32 = 16;

/// The largest image decoded (either side, in pixels).
const MAX_SIDE: u32 = 12_000;
/// The most memory one decode may take.
const MAX_ALLOC: u64 = 256 * 1024 * 1024;

/// A PNG of at most [`PREVIEW_SIDE`] × [`PREVIEW_SIDE`] pixels of `bytes` (a JPEG, PNG or
/// WebP), or `None` when they do not decode as one of those.
pub fn blurred_preview(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .ok()?;
    if !matches!(
        reader.format(),
        Some(ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP)
    ) {
        return None;
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let image = reader.decode().ok()?;
    // `thumbnail` keeps the aspect ratio within the box and averages the pixels it drops.
    let tiny = image.thumbnail(PREVIEW_SIDE, PREVIEW_SIDE).into_rgb8();
    let mut png = Vec::new();
    tiny.write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .ok()?;
    Some(png)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_of(width: u32, height: u32) -> Vec<u8> {
        let image = image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x ^ y) % 256) as u8])
        });
        let mut png = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        png
    }

    #[test]
    fn a_photo_becomes_a_few_pixels() {
        let preview = blurred_preview(&png_of(640, 480)).unwrap();
        let decoded = image::load_from_memory(&preview).unwrap();
        assert_eq!(decoded.width(), PREVIEW_SIDE);
        assert!(decoded.height() <= PREVIEW_SIDE && decoded.height() >= 1);
    }

    #[test]
    fn what_is_not_an_image_has_no_preview() {
        assert!(blurred_preview(b"%PDF-1.7 not an image").is_none());
        assert!(blurred_preview(b"").is_none());
        let mut cut = png_of(64, 64);
        cut.truncate(cut.len() / 2);
        assert!(blurred_preview(&cut).is_none());
    }
}
