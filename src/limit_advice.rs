//! What the page says when an image goes past one of the core's limits.
//!
//! The core's refusal names the limit, the value met and the limit in force. The page reads
//! within the defaults and has no setting to raise them, so it says what does: the CLI with
//! the option and the value that lets the image through.

use layerscope_core::limits::exceeded_in;

/// `message` about `error`, with the page's advice when the image went past a limit;
/// `source` is what the CLI is to be given (`ARCHIVE` for a dropped file, the reference).
pub fn with_limit_advice(
    message: String,
    error: &(dyn std::error::Error + 'static),
    source: &str,
) -> String {
    let Some(exceeded) = exceeded_in(error) else {
        return message;
    };
    let value = exceeded
        .needed()
        .map_or_else(|| "N".to_string(), |value| value.to_string());
    format!(
        "{message}. The page reads within fixed limits; to read past this one, open it with the CLI: layerscope inspect {} {value} {source}",
        exceeded.limit.option()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use layerscope_core::limits::{Limit, Limits};

    #[test]
    fn a_limit_gets_the_clis_option_and_other_errors_stay_as_they_are() {
        let exceeded = Limits::DEFAULT
            .check(Limit::ZstdWindow, "zstd frame 1", 1 << 31)
            .unwrap_err();
        let advised = with_limit_advice(exceeded.to_string(), &exceeded, "ARCHIVE");
        assert!(
            advised.ends_with(
                "open it with the CLI: layerscope inspect --max-zstd-window 2147483648 ARCHIVE"
            ),
            "{advised}"
        );
        let other = std::io::Error::other("cut short");
        assert_eq!(
            with_limit_advice("cut short".into(), &other, "x"),
            "cut short"
        );
    }
}
