//! The `warden` command. All logic lives in [`warden_host::cli`].

fn main() -> std::process::ExitCode {
    warden_host::cli::main()
}
