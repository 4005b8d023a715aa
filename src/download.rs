//! Saving something the page holds as a file the user downloads.

use wasm_bindgen::{JsCast, JsValue};
use web_sys::Blob;

/// Makes a `Blob` of `parts` (strings or byte arrays) and clicks a download link for it named
/// `file_name`. Returns the object URL, which the caller revokes once it is not needed.
pub fn save(parts: &js_sys::Array, media_type: &str, file_name: &str) -> Result<String, String> {
    let failed = |error: JsValue| format!("{file_name} could not be made a file: {error:?}");
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(media_type);
    let blob = Blob::new_with_u8_array_sequence_and_options(parts, &options).map_err(failed)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(failed)?;
    let document = web_sys::window()
        .and_then(|window| window.document())
        .ok_or("no document")?;
    let link: web_sys::HtmlAnchorElement = document
        .create_element("a")
        .map_err(failed)?
        .unchecked_into();
    link.set_href(&url);
    link.set_download(file_name);
    link.click();
    Ok(url)
}

/// The last component of a path, as a download's file name (`/etc/os-release` ->
/// `os-release`); `file` for a path without one.
pub fn file_name_of(path: &str) -> String {
    let name = path
        .rsplit('/')
        .find(|part| !part.is_empty())
        .unwrap_or("file");
    // Names come from the image: keep them out of the user's directories' special names.
    match name {
        "." | ".." => "file".to_string(),
        name => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::file_name_of;

    #[test]
    fn a_download_is_named_after_the_path_s_last_component() {
        assert_eq!(file_name_of("/etc/os-release"), "os-release");
        assert_eq!(file_name_of("/usr/lib/"), "lib");
        assert_eq!(file_name_of("/"), "file");
        assert_eq!(file_name_of("/a/.."), "file");
    }
}
