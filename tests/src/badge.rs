//! The verification badge's history on a page under test: whether the tree was drawn before
//! the digests were in (the pool's promise), read from every state the badge went through.

use crate::Browser;

/// Installed before the image is opened: records every state of the verification badge the
/// page draws in `window.__badges`, with whether the progress bar (the work on the layers)
/// was there at that moment.
pub const BADGE_LOG: &str = r#"
window.__badges = [];
const note = () => {
  const badge = document.querySelector('[data-testid="verify-status"]');
  if (!badge) return;
  const seen = { badge: badge.textContent,
                 busy: document.querySelector('[data-testid="progress"]') !== null };
  const last = window.__badges[window.__badges.length - 1];
  if (!last || last.badge !== seen.badge || last.busy !== seen.busy) window.__badges.push(seen);
};
new MutationObserver(note).observe(document.body,
  { childList: true, subtree: true, characterData: true });
return null;"#;

/// Whether, after [`BADGE_LOG`], the page showed the layers' work done while the digests
/// were still being checked: the tree did not wait for them. A badge that already names a
/// mismatch known before the digests (a blob's size) says so by counting fewer rows then
/// than at the end.
pub fn tree_came_before_the_digests(browser: &Browser) -> bool {
    let badges = browser.execute("return window.__badges;");
    let badges = badges.as_array().unwrap();
    let rows = |seen: &serde_json::Value| seen["badge"].as_str().and_then(rows_counted);
    let final_rows = badges.last().and_then(rows);
    badges.iter().any(|seen| {
        let badge = seen["badge"].as_str().unwrap_or("");
        seen["busy"] == serde_json::json!(false)
            && (badge.starts_with("checking…")
                || (badge.contains(" mismatch")
                    && rows(seen)
                        .zip(final_rows)
                        .is_some_and(|(now, at_end)| now < at_end)))
    })
}

/// The rows a mismatch badge counts: `t` in `N mismatches (m/t verified)`.
fn rows_counted(badge: &str) -> Option<usize> {
    let (_, tally) = badge.split_once(" verified)")?.0.rsplit_once('(')?;
    tally.split_once('/')?.1.parse().ok()
}
