//! The settings the gear opens: the proxy URL, the registry logins this tab holds, the theme.

use layerscope_core::registry::proxy::ProxyRoot;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::state::Settings;

/// `localStorage` key of the theme: a look the user wants on every visit, unlike logins and
/// the proxy, which stay with the tab.
const THEME_KEY: &str = "layerscope.theme";

/// The page's colours: the system's choice, or one forced by the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Theme {
    System,
    Light,
    Dark,
}

impl Theme {
    const ALL: [Theme; 3] = [Theme::System, Theme::Light, Theme::Dark];

    fn as_str(self) -> &'static str {
        match self {
            Theme::System => "system",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    fn parse(text: &str) -> Theme {
        Theme::ALL
            .into_iter()
            .find(|theme| theme.as_str() == text)
            .unwrap_or(Theme::System)
    }

    fn label(self) -> &'static str {
        match self {
            Theme::System => "System",
            Theme::Light => "Light",
            Theme::Dark => "Dark",
        }
    }

    /// The theme chosen on an earlier visit.
    pub fn saved() -> Theme {
        local_storage()
            .and_then(|storage| storage.get_item(THEME_KEY).ok().flatten())
            .map_or(Theme::System, |text| Theme::parse(&text))
    }

    /// Sets `data-theme` on `<html>` (removed for the system's choice, so the stylesheet's
    /// `prefers-color-scheme` decides).
    pub fn show(self) {
        if let Some(root) = web_sys::window()
            .and_then(|window| window.document())
            .and_then(|document| document.document_element())
        {
            let _ = match self {
                Theme::System => root.remove_attribute("data-theme"),
                theme => root.set_attribute("data-theme", theme.as_str()),
            };
        }
    }

    /// Shows the theme and remembers it for later visits.
    fn choose(self) {
        self.show();
        if let Some(storage) = local_storage() {
            let _ = storage.set_item(THEME_KEY, self.as_str());
        }
    }
}

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

#[derive(Properties, PartialEq)]
pub struct SettingsPanelProps {
    pub settings: Settings,
    /// Called with a checked proxy URL, or `None` for the page's own `./proxy/`.
    pub on_proxy: Callback<Option<String>>,
    /// Called with the registry whose login to forget.
    pub on_forget: Callback<String>,
    pub on_close: Callback<()>,
}

/// The settings panel. Everything it shows that came from a user or a registry (URLs, host
/// names, user names) is rendered as text.
#[function_component(SettingsPanel)]
pub fn settings_panel(props: &SettingsPanelProps) -> Html {
    let input = use_node_ref();
    let proxy_error = use_state(|| None::<String>);
    let theme = use_state(Theme::saved);

    let onsubmit = {
        let input = input.clone();
        let proxy_error = proxy_error.clone();
        let on_proxy = props.on_proxy.clone();
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let Some(input) = input.cast::<HtmlInputElement>() else {
                return;
            };
            let text = input.value().trim().to_string();
            if text.is_empty() {
                proxy_error.set(None);
                on_proxy.emit(None);
                return;
            }
            match ProxyRoot::parse(&text) {
                Ok(proxy) => {
                    proxy_error.set(None);
                    input.set_value(&proxy.to_string());
                    on_proxy.emit(Some(proxy.to_string()));
                }
                Err(error) => proxy_error.set(Some(error.to_string())),
            }
        })
    };
    let reset = {
        let input = input.clone();
        let proxy_error = proxy_error.clone();
        let on_proxy = props.on_proxy.clone();
        Callback::from(move |_: MouseEvent| {
            if let Some(input) = input.cast::<HtmlInputElement>() {
                input.set_value("");
            }
            proxy_error.set(None);
            on_proxy.emit(None);
        })
    };
    let current_proxy = props
        .settings
        .proxy
        .clone()
        .unwrap_or_else(|| "./proxy/ (this page's own server)".to_string());

    html! {
        <section class="settings" data-testid="settings" role="dialog" aria-label="Settings">
            <div class="settings-head">
                <h2>{"Settings"}</h2>
                <button type="button" class="close" data-testid="settings-close" aria-label="Close settings"
                    onclick={props.on_close.reform(|_: MouseEvent| ())}>{"×"}</button>
            </div>

            <form class="settings-proxy" {onsubmit}>
                <label for="settings-proxy">{"Proxy URL"}</label>
                <p class="muted">
                    {"For registries that do not let web pages read them directly. Empty: the proxy of the server that served this page. Another "}
                    <code>{"layerscope serve"}</code>
                    {" must allow this page's origin ("}<code>{"--allow-origin"}</code>{"). Kept for this tab."}
                </p>
                <div class="row">
                    <input ref={input} id="settings-proxy" type="text" inputmode="url" data-testid="settings-proxy" spellcheck="false"
                        autocomplete="off" placeholder="./proxy/" value={props.settings.proxy.clone().unwrap_or_default()} />
                    <button type="submit" data-testid="settings-proxy-save">{"Use"}</button>
                    <button type="button" data-testid="settings-proxy-reset" onclick={reset}>{"Default"}</button>
                </div>
                if let Some(error) = (*proxy_error).clone() {
                    <p class="field-error" data-testid="settings-proxy-error" role="alert">{error}</p>
                }
                <p class="muted" data-testid="settings-proxy-current">{format!("In use: {current_proxy}")}</p>
            </form>

            <h3>{"Registry logins"}</h3>
            if props.settings.logins.is_empty() {
                <p class="muted" data-testid="settings-no-logins">{"No logins in this tab."}</p>
            } else {
                <ul class="settings-logins">
                { for props.settings.logins.iter().map(|(registry, username)| {
                    let onclick = {
                        let registry = registry.clone();
                        props.on_forget.reform(move |_: MouseEvent| registry.clone())
                    };
                    html! {
                        <li data-testid="settings-login" data-registry={registry.clone()}>
                            <code>{registry.clone()}</code>
                            <span>{format!(" as {username}")}</span>
                            <button type="button" data-testid="settings-forget" {onclick}>{"Forget"}</button>
                        </li>
                    }
                }) }
                </ul>
            }
            <p class="muted">{"Passwords and tokens stay in this tab's memory (and in its session storage only if you ticked “remember in this tab”); they are never shown."}</p>

            <h3>{"Theme"}</h3>
            <div class="settings-theme" role="radiogroup" aria-label="Theme">
            { for Theme::ALL.into_iter().map(|choice| {
                let onchange = {
                    let theme = theme.clone();
                    Callback::from(move |_: Event| {
                        choice.choose();
                        theme.set(choice);
                    })
                };
                html! {
                    <label>
                        <input type="radio" name="theme" data-testid={format!("theme-{}", choice.as_str())}
                            checked={*theme == choice} {onchange} />
                        {choice.label()}
                    </label>
                }
            }) }
            </div>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn themes_read_back_and_unknown_text_is_the_system_choice() {
        for theme in Theme::ALL {
            assert_eq!(Theme::parse(theme.as_str()), theme);
        }
        assert_eq!(Theme::parse("<b>dark</b>"), Theme::System);
    }
}
