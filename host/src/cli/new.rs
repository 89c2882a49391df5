//! `warden new NAME [--lang rust|python|js]`: a plugin project that builds
//! and passes `warden check` as generated.

use std::path::{Path, PathBuf};

use super::Failure;
use super::build::Lang;

/// Arguments of `warden new`.
#[derive(Debug, clap::Args)]
pub(crate) struct NewArgs {
    /// The plugin's name (lowercase letters, digits and `-`, starting with a
    /// letter): the project directory's name and the first part of its
    /// nodes' names.
    name: String,
    /// The language to write the plugin in.
    #[arg(long, value_enum, default_value = "rust")]
    lang: Lang,
    /// Where to create the project directory.
    #[arg(long, value_name = "DIR", default_value = ".")]
    dir: PathBuf,
    /// Rust: the `warden-guest` crate (the repository's `guest-sdk/`) to
    /// depend on. Default: the one this `warden` was built with.
    #[arg(long, value_name = "PATH", env = "WARDEN_GUEST_SDK")]
    sdk: Option<PathBuf>,
}

/// The SDK beside the sources this binary was built from.
const BUILT_WITH_SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../guest-sdk");

pub(crate) fn run(args: NewArgs) -> Result<(), Failure> {
    check_name(&args.name)?;
    let project = args.dir.join(&args.name);
    if project.exists() {
        return Err(Failure::new(
            "usage",
            format!(
                "`{}` already exists: pick another name or --dir",
                project.display()
            ),
        ));
    }
    let files = match args.lang {
        Lang::Rust => {
            let sdk = sdk_path(args.sdk.as_deref())?;
            rust_files(&args.name, &sdk)
        }
        Lang::Python => vec![
            (
                "app.py".into(),
                fill(include_str!("templates/py_app.py"), &args.name),
            ),
            (".gitignore".into(), "target/\n__pycache__/\n".into()),
        ],
        Lang::Js => vec![
            (
                format!("{}.js", args.name),
                fill(include_str!("templates/js_main.js"), &args.name),
            ),
            (
                "wit/world.wit".into(),
                fill(include_str!("templates/js_world.wit"), &args.name),
            ),
            (
                "package.json".into(),
                fill(include_str!("templates/js_package.json"), &args.name),
            ),
            (".gitignore".into(), "target/\nnode_modules/\n".into()),
        ],
    };
    for (path, text) in &files {
        write(&project.join(path), text)?;
    }
    println!("created {} ({:?} plugin):", project.display(), args.lang);
    for (path, _) in &files {
        println!("  {path}");
    }
    println!();
    println!("next:");
    println!(
        "  warden build {}                 # build and check it",
        project.display()
    );
    println!(
        "  warden dev {}                   # serve it, rebuilt on every change",
        project.display()
    );
    Ok(())
}

fn rust_files(name: &str, sdk: &Path) -> Vec<(String, String)> {
    let sdk = sdk.display().to_string().replace('\\', "/");
    vec![
        (
            "Cargo.toml".into(),
            fill(include_str!("templates/rust_Cargo.toml"), name).replace("__SDK__", &sdk),
        ),
        (
            "src/lib.rs".into(),
            fill(include_str!("templates/rust_lib.rs"), name)
                .replace("__MODULE__", &name.replace('-', "_")),
        ),
        (".gitignore".into(), "target/\n".into()),
    ]
}

fn fill(template: &str, name: &str) -> String {
    template.replace("__NAME__", name)
}

/// Plugin names become WIT package and world names, Rust crate and module
/// names and file names: lowercase words joined by `-`.
fn check_name(name: &str) -> Result<(), Failure> {
    let ok = !name.is_empty()
        && name.split('-').all(|word| {
            word.starts_with(|c: char| c.is_ascii_lowercase())
                && word
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        });
    if ok {
        Ok(())
    } else {
        Err(Failure::new(
            "usage",
            format!(
                "`{name}` is not a plugin name: use lowercase words of letters and digits joined \
                 by `-`, each starting with a letter (e.g. `image-tools`)"
            ),
        ))
    }
}

fn sdk_path(given: Option<&Path>) -> Result<PathBuf, Failure> {
    let path = given.unwrap_or(Path::new(BUILT_WITH_SDK));
    let sdk = path
        .canonicalize()
        .ok()
        .filter(|p| p.join("Cargo.toml").is_file());
    sdk.ok_or_else(|| {
        Failure::new(
            "usage",
            format!(
                "the warden-guest crate is not at `{}`: pass --sdk PATH (the `guest-sdk` \
                 directory of the Warden repository)",
                path.display()
            ),
        )
    })
}

fn write(path: &Path, text: &str) -> Result<(), Failure> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| {
            Failure::new(
                "usage",
                format!("cannot create `{}`: {e}", parent.display()),
            )
        })?;
    }
    std::fs::write(path, text)
        .map_err(|e| Failure::new("usage", format!("cannot write `{}`: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_kebab_case_words() {
        assert!(check_name("hello").is_ok());
        assert!(check_name("image-tools2").is_ok());
        for bad in ["", "Hello", "2fast", "a--b", "-a", "a_b", "a-1"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
