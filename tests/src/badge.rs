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
/// were still being checked: the tree did not wait for them.
pub fn tree_came_before_the_digests(browser: &Browser) -> bool {
    let badges = browser.execute("return window.__badges;");
    badges.as_array().unwrap().iter().any(|seen| {
        seen["busy"] == serde_json::json!(false)
            && seen["badge"]
                .as_str()
                .is_some_and(|badge| badge.starts_with("checking…"))
    })
}
