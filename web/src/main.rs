//! kosuke's browser app (Leptos CSR). `main` only mounts; the screens live in `app`.

mod app;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
