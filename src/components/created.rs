use layerscope_core::model::time::Timestamp;
use layerscope_core::present::humanize;
use yew::prelude::*;

/// A creation time, relative (`4 weeks ago`) with the absolute time on hover.
pub fn created(rfc3339: Option<&str>) -> Html {
    let Some(text) = rfc3339 else {
        return html! { <span class="muted">{"unknown"}</span> };
    };
    let now = (js_sys::Date::now() / 1000.0) as i64;
    match Timestamp::parse(text) {
        Ok(time) => {
            html! { <time datetime={text.to_string()} title={text.to_string()}>{humanize::ago(time.unix, now)}</time> }
        }
        Err(_) => html! { <span title="not an RFC 3339 time">{text.to_string()}</span> },
    }
}
