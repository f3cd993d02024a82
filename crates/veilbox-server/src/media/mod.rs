//! Customer media (photos, documents, voice notes) kept away from agents until revealed.
//!
//! Meta keeps inbound media for 7 days, and a photo of a doorstep or an ID card carries as
//! much personal data as any text. So the [`fetcher`] downloads each inbound file in the
//! background and stores it sealed with the customer's data key; the thread shows only the
//! type, the size and, for images, a [`preview`] made on the server so small that no detail
//! survives; the original leaves the server only through a [`routes`] reveal: authorised
//! for the kind `MEDIA`, justified, audited and counted like the reveal of a text value.

pub mod fetcher;
pub mod preview;
pub mod routes;

/// The largest file kept (WhatsApp's own limits are 5 MB for images and 16 MB for audio
/// and video; bigger documents stay at Meta and the thread says so).
pub const MAX_MEDIA_BYTES: usize = 16 * 1024 * 1024;

/// The types kept, by their MIME essence. Everything served back on a reveal is one of
/// these, so no HTML, SVG or script ever comes out of our origin as a customer's file.
const ACCEPTED: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/webp",
    "application/pdf",
    "text/plain",
    "text/csv",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "audio/aac",
    "audio/amr",
    "audio/mpeg",
    "audio/mp4",
    "audio/ogg",
    "video/mp4",
    "video/3gpp",
];

/// Image types a preview is made of (the decoders compiled in).
const PREVIEWED: &[&str] = &["image/jpeg", "image/png", "image/webp"];

/// The MIME essence of `mime` (`"audio/ogg; codecs=opus"` → `"audio/ogg"`), lower case.
pub fn essence(mime: &str) -> String {
    mime.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Whether a file of `mime` is kept for a message of `media_type`: the type is on the
/// list, and images and stickers are images.
pub fn accepted(media_type: &str, mime: &str) -> bool {
    let mime = essence(mime);
    if !ACCEPTED.contains(&mime.as_str()) {
        return false;
    }
    match media_type {
        "image" | "sticker" => PREVIEWED.contains(&mime.as_str()),
        "audio" => mime.starts_with("audio/"),
        "video" => mime.starts_with("video/"),
        _ => true,
    }
}

/// Whether a preview is made of a file of `mime`.
pub fn previewed(mime: &str) -> bool {
    PREVIEWED.contains(&essence(mime).as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_types_are_kept_and_images_are_images() {
        assert!(accepted("image", "image/jpeg"));
        assert!(accepted("audio", "audio/ogg; codecs=opus"));
        assert!(accepted("document", "application/pdf"));
        assert!(!accepted("document", "text/html"));
        assert!(!accepted("image", "image/svg+xml"));
        assert!(!accepted("image", "application/pdf"));
        assert!(!accepted("audio", "video/mp4"));
        assert!(previewed("IMAGE/PNG"));
        assert!(!previewed("application/pdf"));
    }
}
