//! `warden dev [DIR]`: builds a plugin project, serves it, and rebuilds it
//! on every change to its sources. A build that fails is reported and the
//! last good version keeps serving; a good one replaces it in place (the
//! served plugin directory is watched, so calls in flight finish on the old
//! version and new calls get the new one).

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use super::Failure;
use super::build::{build, install};
use super::serve::{ServeOptions, serve};

/// Arguments of `warden dev`.
#[derive(Debug, clap::Args)]
pub(crate) struct DevArgs {
    /// The plugin project to build, serve and watch.
    #[arg(default_value = ".")]
    project: PathBuf,
    /// Build in the toolchain's debug mode (Rust only).
    #[arg(long)]
    debug: bool,
    #[command(flatten)]
    serve: ServeOptions,
}

/// How long the sources must be quiet before a rebuild starts (editors save
/// in several steps).
const SETTLE: Duration = Duration::from_millis(300);

pub(crate) fn run(args: DevArgs) -> Result<(), Failure> {
    super::build::detect(&args.project)?;
    // Absolute, so the watcher's paths can be compared with it.
    let project = args
        .project
        .canonicalize()
        .map_err(|e| Failure::new("usage", format!("`{}`: {e}", args.project.display())))?;
    // The served directory lives in the project's build output, so nothing
    // is left behind elsewhere however `warden dev` ends.
    let plugins = project.join("target").join("warden").join("dev-plugins");
    let _ = std::fs::remove_dir_all(&plugins);
    std::fs::create_dir_all(&plugins).map_err(|e| {
        Failure::new(
            "usage",
            format!("cannot create `{}`: {e}", plugins.display()),
        )
    })?;
    rebuild(&project, args.debug, &plugins);
    let (changed, changes) = mpsc::channel();
    let watched = project.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && is_source_change(&watched, &event)
        {
            let _ = changed.send(());
        }
    })
    .map_err(|e| Failure::new("internal", format!("cannot watch the project: {e}")))?;
    {
        use notify::Watcher;
        watcher
            .watch(&project, notify::RecursiveMode::Recursive)
            .map_err(|e| {
                Failure::new(
                    "usage",
                    format!("cannot watch `{}`: {e}", args.project.display()),
                )
            })?;
    }
    let debug = args.debug;
    let into = plugins.clone();
    let sources = project.clone();
    std::thread::Builder::new()
        .name("warden-dev-rebuild".into())
        .spawn(move || {
            while changes.recv().is_ok() {
                // Wait for the burst of writes to end.
                while changes.recv_timeout(SETTLE).is_ok() {}
                eprintln!("warden dev: sources changed: rebuilding");
                rebuild(&sources, debug, &into);
            }
        })
        .map_err(|e| Failure::new("internal", format!("cannot start the rebuild thread: {e}")))?;
    eprintln!(
        "warden dev: serving {} from {}; edit its sources to rebuild",
        args.project.display(),
        plugins.display()
    );
    let served = serve(&plugins, args.serve);
    drop(watcher);
    served
}

/// Builds and installs the project; says what happened.
fn rebuild(project: &Path, debug: bool, plugins: &Path) {
    let result = build(project, debug).and_then(|built| {
        // The same report `warden build` prints, so errors look the same.
        super::check::run(super::check::CheckArgs::of(
            built.wasm.clone(),
            built.manifest.clone(),
        ))?;
        install(&built, plugins)
    });
    match result {
        // The server compiles the new file before it swaps it in; its own
        // log says `replaced plugin=…` once new calls get the new version.
        Ok(file) => eprintln!(
            "warden dev: built {}; it is served as soon as it is compiled",
            file.display()
        ),
        Err(e) => eprintln!(
            "warden dev: build failed, still serving the last good version: {}",
            e.message()
        ),
    }
}

/// Whether `event` touches a source file rather than a build output.
fn is_source_change(project: &Path, event: &notify::Event) -> bool {
    use notify::EventKind;
    if !matches!(
        event.kind,
        EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_)
    ) {
        return false;
    }
    event.paths.iter().any(|path| {
        let relative = path.strip_prefix(project).unwrap_or(path);
        !relative.components().any(|c| {
            let c = c.as_os_str().to_string_lossy();
            c == "target" || c == "node_modules" || c == "__pycache__" || c.starts_with('.')
        })
    })
}
