use layerscope_core::present::inspect::exec_form;
use layerscope_core::present::report::RunConfig;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct ConfigTabProps {
    pub config: RunConfig,
}

/// The container defaults as a card: what a container started from the image runs, as whom,
/// where, with which environment, ports, volumes, labels and health check.
#[function_component(ConfigTab)]
pub fn config_tab(props: &ConfigTabProps) -> Html {
    let c = &props.config;
    let none = || html! { <span class="muted">{"not set"}</span> };
    let words = |list: &Option<Vec<String>>| match list {
        Some(list) => html! { <code>{exec_form(list)}</code> },
        None => none(),
    };
    let text = |value: &Option<String>| match value {
        Some(value) => html! { <code>{value.clone()}</code> },
        None => none(),
    };
    let list = |items: &[String]| {
        if items.is_empty() {
            none()
        } else {
            html! { <ul class="plain">{ for items.iter().map(|item| html! { <li><code>{item.clone()}</code></li> }) }</ul> }
        }
    };
    let field = |name: &'static str, value: Html| {
        html! {
            <div class="field" data-testid="config-field" data-field={name}>
                <dt>{name}</dt><dd>{value}</dd>
            </div>
        }
    };
    let env = if c.env.is_empty() {
        none()
    } else {
        html! {
            <table class="pairs">
                <tbody>{ for c.env.iter().map(|var| html! {
                    <tr><th class="mono">{var.name.clone()}</th><td class="mono">{var.value.clone()}</td></tr>
                }) }</tbody>
            </table>
        }
    };
    let labels = if c.labels.is_empty() {
        none()
    } else {
        html! {
            <table class="pairs">
                <tbody>{ for c.labels.iter().map(|(name, value)| html! {
                    <tr><th class="mono">{name.clone()}</th><td class="mono">{value.clone()}</td></tr>
                }) }</tbody>
            </table>
        }
    };
    html! {
        <section class="config-card" data-testid="config-card" aria-label="Container defaults">
            <h2>{"What a container of this image runs"}</h2>
            <dl>
                {field("Entrypoint", words(&c.entrypoint))}
                {field("Cmd", words(&c.cmd))}
                {field("WorkingDir", text(&c.working_dir))}
                {field("User", match &c.user {
                    Some(user) => html! { <code>{user.clone()}</code> },
                    None => html! { <span class="muted">{"not set (root)"}</span> },
                })}
                {field("Env", env)}
                {field("ExposedPorts", list(&c.exposed_ports))}
                {field("Volumes", list(&c.volumes))}
                {field("Labels", labels)}
                {field("Healthcheck", text(&c.healthcheck))}
                if c.stop_signal.is_some() { {field("StopSignal", text(&c.stop_signal))} }
                if c.shell.is_some() { {field("Shell", words(&c.shell))} }
                if !c.on_build.is_empty() { {field("OnBuild", list(&c.on_build))} }
                {field("OS/Arch", html! { <code>{c.platform.clone()}</code> })}
            </dl>
        </section>
    }
}
