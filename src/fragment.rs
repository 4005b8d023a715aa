//! The page's URL fragment: `#/image/REF?platform=os/arch[/variant]`.
//!
//! Everything after `#` stays in the browser, so a reference (and the platform) can live there
//! without any host seeing it; opening the link in a fresh browser opens the same image.

/// What a fragment names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageLink {
    pub reference: String,
    pub platform: Option<String>,
}

const PREFIX: &str = "#/image/";

impl ImageLink {
    /// Reads `#/image/REF[?platform=P]` (already percent-decoded); `None` for any other
    /// fragment.
    pub fn parse(hash: &str) -> Option<ImageLink> {
        let rest = hash.strip_prefix(PREFIX)?;
        let (reference, query) = match rest.split_once('?') {
            Some((reference, query)) => (reference, Some(query)),
            None => (rest, None),
        };
        let reference = reference.trim();
        if reference.is_empty() {
            return None;
        }
        let platform = query.and_then(|query| {
            query
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .find(|(name, _)| *name == "platform")
                .map(|(_, value)| value.to_string())
                .filter(|value| !value.is_empty())
        });
        Some(ImageLink {
            reference: reference.to_string(),
            platform,
        })
    }

    /// The fragment, `#` included.
    pub fn to_hash(&self) -> String {
        match &self.platform {
            Some(platform) => format!("{PREFIX}{}?platform={platform}", self.reference),
            None => format!("{PREFIX}{}", self.reference),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fragment_names_a_reference_and_maybe_a_platform() {
        assert_eq!(
            ImageLink::parse("#/image/127.0.0.1:5000/demo/app:1.0"),
            Some(ImageLink {
                reference: "127.0.0.1:5000/demo/app:1.0".into(),
                platform: None
            })
        );
        let link = ImageLink::parse("#/image/nginx@sha256:ab?platform=linux/arm64/v8").unwrap();
        assert_eq!(link.reference, "nginx@sha256:ab");
        assert_eq!(link.platform.as_deref(), Some("linux/arm64/v8"));
        assert_eq!(
            link.to_hash(),
            "#/image/nginx@sha256:ab?platform=linux/arm64/v8"
        );
        assert_eq!(ImageLink::parse("#/image/"), None);
        assert_eq!(ImageLink::parse("#/other"), None);
        assert_eq!(ImageLink::parse(""), None);
    }
}
