use yew::prelude::*;

use crate::state::Checks;

#[derive(Properties, PartialEq)]
pub struct VerifyBadgeProps {
    /// Every digest checked so far, and the layers not checked yet.
    pub checks: Checks,
    /// Every layer is scanned.
    pub complete: bool,
    /// Layers are still streaming, or their digests are being checked.
    pub busy: bool,
}

/// Whether the bytes are what the documents promise: every digest and diff_id checked, the
/// checking still going, or the mismatches (digests, or blob sizes against their
/// descriptors) with what was expected and what was read.
#[function_component(VerifyBadge)]
pub fn verify_badge(props: &VerifyBadgeProps) -> Html {
    let total = props.checks.total();
    let matched = props.checks.matched;
    let mismatches = &props.checks.mismatches;
    if !mismatches.is_empty() {
        return html! {
            <div class="verify bad" data-testid="verify-status" role="status">
                <span class="badge">{format!("{} mismatch{} ({matched}/{total} verified)", mismatches.len(), if mismatches.len() == 1 { "" } else { "es" })}</span>
                <ul class="mismatches">
                { for mismatches.iter().map(|check| html! {
                    <li>
                        <span>{format!("{} of {}", check.what(), check.subject)}</span>
                        <span class="mono">{"expected "}{check.expected_text()}</span>
                        <span class="mono">{"actual "}{check.actual_text()}</span>
                    </li>
                }) }
                </ul>
            </div>
        };
    }
    let (class, text, title) = if props.complete && props.checks.unverified_layers == 0 {
        (
            "good",
            format!("verified ({matched}/{total})"),
            "every digest and diff_id the documents give matches the bytes read".to_string(),
        )
    } else if props.busy {
        let title = if props.complete {
            format!(
                "every layer is read; the digests of {} are being checked beside the tree",
                layers(props.checks.unverified_layers)
            )
        } else {
            "digests are checked as the layers stream".to_string()
        };
        ("pending", format!("checking… ({matched} so far)"), title)
    } else {
        (
            "pending",
            format!("unverified ({matched} checked)"),
            "not every layer was read, so not every digest was checked".to_string(),
        )
    };
    html! {
        <span class={classes!("verify", class)} data-testid="verify-status" role="status" {title}>
            <span class="badge">{text}</span>
        </span>
    }
}

fn layers(count: usize) -> String {
    if count == 1 {
        "1 layer".to_string()
    } else {
        format!("{count} layers")
    }
}
