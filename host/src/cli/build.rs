//! `warden build [DIR]`: builds a plugin project with its language's
//! toolchain, checks the component, and with `--into` drops it into a plugin
//! directory.
//!
//! The language is read from the project's files: `Cargo.toml` (Rust, built
//! for `wasm32-wasip2` with cargo), `package.json` (JavaScript, built with
//! componentize-js), otherwise a Python module (built with the `guest-py`
//! tool, which `warden` carries, and componentize-py).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::Failure;
use super::check::{self, CheckArgs};

/// Arguments of `warden build`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct BuildArgs {
    /// The project directory.
    #[arg(default_value = ".")]
    pub(crate) dir: PathBuf,
    /// Also copy the component (and its manifest `NAME.toml`, if the project
    /// has one) into this plugin directory, replacing the old one atomically
    /// so a server watching it reloads the plugin.
    #[arg(long, value_name = "PLUGINS_DIR")]
    pub(crate) into: Option<PathBuf>,
    /// Build in the toolchain's debug mode (Rust only; faster builds,
    /// bigger and slower components).
    #[arg(long)]
    pub(crate) debug: bool,
}

/// A plugin project's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Lang {
    /// A Rust crate using `warden-guest`.
    Rust,
    /// A Python module built with componentize-py.
    Python,
    /// A JavaScript module built with componentize-js.
    Js,
}

/// A built component.
pub(crate) struct Built {
    /// The plugin's name (the component's file name without `.wasm`).
    pub(crate) name: String,
    /// The component.
    pub(crate) wasm: PathBuf,
    /// The project's manifest, `NAME.toml`, if it has one.
    pub(crate) manifest: Option<PathBuf>,
}

pub(crate) fn run(args: BuildArgs) -> Result<(), Failure> {
    let built = build(&args.dir, args.debug)?;
    check::run(CheckArgs::of(built.wasm.clone(), built.manifest.clone()))?;
    if let Some(into) = &args.into {
        let target = install(&built, into)?;
        eprintln!("warden: installed {}", target.display());
    }
    Ok(())
}

/// Which language the project in `dir` is written in.
pub(crate) fn detect(dir: &Path) -> Result<Lang, Failure> {
    if !dir.is_dir() {
        return Err(Failure::new(
            "usage",
            format!("`{}` is not a directory", dir.display()),
        ));
    }
    if dir.join("Cargo.toml").is_file() {
        return Ok(Lang::Rust);
    }
    if dir.join("package.json").is_file() {
        return Ok(Lang::Js);
    }
    if python_module(dir).is_some() {
        return Ok(Lang::Python);
    }
    Err(Failure::new(
        "usage",
        format!(
            "`{}` is not a plugin project: it has no Cargo.toml (Rust), package.json \
             (JavaScript) or app.py (Python); `warden new NAME` makes one",
            dir.display()
        ),
    ))
}

/// The project's name: its directory's name.
fn project_name(dir: &Path) -> Result<String, Failure> {
    let dir = dir
        .canonicalize()
        .map_err(|e| Failure::new("usage", format!("`{}`: {e}", dir.display())))?;
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Failure::new("usage", "the project directory has no name"))
}

/// Builds the project in `dir` into `DIR/target/warden/NAME.wasm`.
pub(crate) fn build(dir: &Path, debug: bool) -> Result<Built, Failure> {
    let lang = detect(dir)?;
    // Absolute: the toolchains run in the project directory.
    let dir = &dir
        .canonicalize()
        .map_err(|e| Failure::new("usage", format!("`{}`: {e}", dir.display())))?;
    let name = project_name(dir)?;
    let out_dir = dir.join("target").join("warden");
    std::fs::create_dir_all(&out_dir).map_err(|e| {
        Failure::new(
            "build",
            format!("cannot create `{}`: {e}", out_dir.display()),
        )
    })?;
    let wasm = out_dir.join(format!("{name}.wasm"));
    match lang {
        Lang::Rust => build_rust(dir, &name, debug, &wasm)?,
        Lang::Js => build_js(dir, &name, &wasm)?,
        Lang::Python => {
            super::guest_py::build(dir, &python_module(dir).unwrap_or_default(), &wasm)?
        }
    }
    let manifest = dir.join(format!("{name}.toml"));
    Ok(Built {
        name,
        wasm,
        manifest: manifest.is_file().then_some(manifest),
    })
}

/// `app.py`, or the only `.py` file of `dir`.
fn python_module(dir: &Path) -> Option<PathBuf> {
    let app = dir.join("app.py");
    if app.is_file() {
        return Some(app);
    }
    let mut modules = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "py"));
    let first = modules.next()?;
    modules.next().is_none().then_some(first)
}

/// Runs `cmd`, failing with `what` and how to get the tool when it cannot
/// start or fails.
pub(crate) fn run_tool(mut cmd: Command, what: &str, install: &str) -> Result<(), Failure> {
    let status = cmd
        .status()
        .map_err(|e| Failure::new("build", format!("cannot run {what}: {e}; {install}")))?;
    if !status.success() {
        return Err(Failure::new(
            "build",
            format!("{what} failed ({status}); its messages are above"),
        ));
    }
    Ok(())
}

fn build_rust(dir: &Path, name: &str, debug: bool, out: &Path) -> Result<(), Failure> {
    let manifest = dir.join("Cargo.toml");
    let package = rust_package_name(&manifest)?;
    // Cargo's convention: CARGO_TARGET_DIR, when set, says where builds go.
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.join("target"));
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.args(["build", "--target", "wasm32-wasip2", "--manifest-path"])
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", &target_dir)
        .env_remove("CARGO_BUILD_TARGET");
    if !debug {
        cmd.arg("--release");
    }
    run_tool(
        cmd,
        "cargo",
        "install Rust (https://rustup.rs) and `rustup target add wasm32-wasip2`",
    )?;
    let built = target_dir
        .join("wasm32-wasip2")
        .join(if debug { "debug" } else { "release" })
        .join(format!("{}.wasm", package.replace('-', "_")));
    std::fs::copy(&built, out).map_err(|e| {
        Failure::new(
            "build",
            format!(
                "cargo built `{name}` but `{}` is not there ({e}): is `crate-type = [\"cdylib\"]` \
                 under [lib] in Cargo.toml?",
                built.display()
            ),
        )
    })?;
    Ok(())
}

fn rust_package_name(manifest: &Path) -> Result<String, Failure> {
    let text = std::fs::read_to_string(manifest).map_err(|e| {
        Failure::new(
            "build",
            format!("cannot read `{}`: {e}", manifest.display()),
        )
    })?;
    let doc: toml::Table = text
        .parse()
        .map_err(|e| Failure::new("build", format!("`{}`: {e}", manifest.display())))?;
    doc.get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .map(str::to_owned)
        .ok_or_else(|| {
            Failure::new(
                "build",
                format!("`{}` has no [package] name", manifest.display()),
            )
        })
}

fn build_js(dir: &Path, name: &str, out: &Path) -> Result<(), Failure> {
    let tool = dir
        .join("node_modules")
        .join(".bin")
        .join("componentize-js");
    if !tool.exists() {
        let mut npm = Command::new("npm");
        npm.args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(dir);
        run_tool(
            npm,
            "npm install",
            "install Node.js and npm (Debian: `apt-get install nodejs npm`)",
        )?;
    }
    let script = [
        format!("{name}.js"),
        "index.js".to_owned(),
        "app.js".to_owned(),
    ]
    .into_iter()
    .find(|f| dir.join(f).is_file())
    .ok_or_else(|| {
        Failure::new(
            "build",
            format!("`{}` has no {name}.js, index.js or app.js", dir.display()),
        )
    })?;
    let wit = dir.join("wit");
    let mut cmd = Command::new(&tool);
    cmd.current_dir(dir)
        .arg("--wit")
        .arg(&wit)
        .arg("-o")
        .arg(out)
        .arg(&script);
    run_tool(cmd, "componentize-js", "run `npm install` in the project")?;
    // componentize-js drops the WIT docs; put them back for the catalog.
    let section =
        crate::runtime::section_for_dir(&wit, None).map_err(|e| Failure::new("build", e))?;
    append(out, &section)
}

/// Appends `bytes` (a custom section) to the component in `file`.
pub(crate) fn append(file: &Path, bytes: &[u8]) -> Result<(), Failure> {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(file)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|e| Failure::new("build", format!("cannot write `{}`: {e}", file.display())))
}

/// Copies the component (and manifest) into the plugin directory `into`,
/// each through a temporary file renamed into place.
pub(crate) fn install(built: &Built, into: &Path) -> Result<PathBuf, Failure> {
    std::fs::create_dir_all(into)
        .map_err(|e| Failure::new("usage", format!("cannot create `{}`: {e}", into.display())))?;
    let target = into.join(format!("{}.wasm", built.name));
    if let Some(manifest) = &built.manifest {
        copy_atomically(manifest, &into.join(format!("{}.toml", built.name)))?;
    }
    copy_atomically(&built.wasm, &target)?;
    Ok(target)
}

fn copy_atomically(from: &Path, to: &Path) -> Result<(), Failure> {
    let name = to
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // A dot file with another extension: the directory watcher ignores it.
    let tmp = to.with_file_name(format!(".{name}.{}.partial", std::process::id()));
    std::fs::copy(from, &tmp)
        .and_then(|_| std::fs::rename(&tmp, to))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Failure::new(
                "build",
                format!(
                    "cannot copy `{}` to `{}`: {e}",
                    from.display(),
                    to.display()
                ),
            )
        })
}
