use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::hooks::LoginSubmit;
use crate::state::LoginPrompt;

#[derive(Properties, PartialEq)]
pub struct LoginFormProps {
    pub prompt: LoginPrompt,
    pub on_login: Callback<LoginSubmit>,
    pub on_dismiss: Callback<()>,
}

/// A registry's login: user name and password or token, held in this tab's memory (and in
/// `sessionStorage` only when "remember in this tab" is ticked).
#[function_component(LoginForm)]
pub fn login_form(props: &LoginFormProps) -> Html {
    let username = use_node_ref();
    let secret = use_node_ref();
    let remember = use_node_ref();
    let onsubmit = {
        let (username, secret, remember) = (username.clone(), secret.clone(), remember.clone());
        let on_login = props.on_login.clone();
        let registry = props.prompt.registry.clone();
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let value = |node: &NodeRef| {
                node.cast::<HtmlInputElement>()
                    .map(|i| i.value())
                    .unwrap_or_default()
            };
            let secret_input = secret.cast::<HtmlInputElement>();
            let submit = LoginSubmit {
                registry: registry.clone(),
                username: value(&username),
                secret: value(&secret),
                remember: remember
                    .cast::<HtmlInputElement>()
                    .is_some_and(|i| i.checked()),
            };
            // The password leaves the form as soon as it is read.
            if let Some(input) = secret_input {
                input.set_value("");
            }
            on_login.emit(submit);
        })
    };
    let on_dismiss = props.on_dismiss.reform(|_: MouseEvent| ());
    let registry = props.prompt.registry.clone();
    html! {
        <section class="login" data-testid="login-form" aria-label={format!("Login for {registry}")}>
            <p class="login-title">{format!("This repository needs a login for {registry}.")}</p>
            if props.prompt.refused {
                <p class="login-refused" data-testid="login-refused">{format!("{registry} did not accept that login: {}", props.prompt.detail)}</p>
            }
            <form {onsubmit} autocomplete="off">
                <label>{"User name "}<input ref={username} type="text" name="username" data-testid="login-username" autocomplete="username" spellcheck="false" /></label>
                <label>{"Password or token "}<input ref={secret} type="password" name="password" data-testid="login-password" autocomplete="current-password" /></label>
                <label class="remember"><input ref={remember} type="checkbox" data-testid="login-remember" />{" remember in this tab"}</label>
                <div class="buttons">
                    <button type="submit" data-testid="login-submit">{"Log in"}</button>
                    <button type="button" class="secondary" onclick={on_dismiss}>{"Cancel"}</button>
                </div>
            </form>
            <p class="private">{format!("The login stays in this tab and goes only to {registry} and its token service.")}</p>
        </section>
    }
}
