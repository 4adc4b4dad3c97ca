//! kosuke's browser app (Leptos CSR). `main` only mounts; `app` holds the route table.

mod app;
mod attention;
mod components;
mod live;
mod pages;
mod perf;
mod state;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
