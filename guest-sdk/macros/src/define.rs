//! `define_plugin!`: wit-bindgen's `generate!` over the plugin's own WIT,
//! plus that WIT (docs included) in the `warden:wit` section.

use std::path::{Path, PathBuf};

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use quote::quote;
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::{Ident, LitStr, Token};
use wit_parser::Resolve;

use crate::section;

/// One `key: value` option, as written.
struct Opt {
    key: Ident,
    value: TokenStream,
}

/// Expands `define_plugin!({ options })`.
pub(crate) fn expand(input: TokenStream) -> syn::Result<TokenStream> {
    let mut tokens = input.clone().into_iter();
    let (Some(TokenTree::Group(group)), None) = (tokens.next(), tokens.next()) else {
        return Err(syn::Error::new_spanned(
            input,
            "write `define_plugin!({ world: \"NAME\", path: \"wit\" })`",
        ));
    };
    if group.delimiter() != Delimiter::Brace {
        return Err(syn::Error::new(
            group.span(),
            "write `define_plugin!({ world: \"NAME\", path: \"wit\" })`, with braces",
        ));
    }
    let options = parse_options.parse2(group.stream())?;
    let content = group.stream();
    let runtime_path = if options.iter().any(|o| o.key == "runtime_path") {
        quote!()
    } else {
        quote!(runtime_path: "::warden_guest::__wit_bindgen::rt",)
    };
    // A WIT that does not parse is reported by `generate!` below, once.
    let embedded = embed(&options).unwrap_or_default();
    Ok(quote! {
        ::warden_guest::__wit_bindgen::generate!({
            #runtime_path
            #content
        });
        #embedded
    })
}

fn parse_options(input: ParseStream<'_>) -> syn::Result<Vec<Opt>> {
    let mut options = Vec::new();
    while !input.is_empty() {
        let key = Ident::parse_any(input)?;
        let mut value = TokenStream::new();
        if input.parse::<Option<Token![:]>>()?.is_some() {
            while !input.is_empty() && !input.peek(Token![,]) {
                value.extend([input.parse::<TokenTree>()?]);
            }
        }
        options.push(Opt { key, value });
        if input.parse::<Option<Token![,]>>()?.is_none() {
            break;
        }
    }
    if !input.is_empty() {
        return Err(input.error("expected `,` between options"));
    }
    Ok(options)
}

/// The section and the `include_bytes!` that make cargo rebuild when a WIT
/// file changes; `None` when the WIT cannot be read (then `generate!` says
/// why).
fn embed(options: &[Opt]) -> Option<TokenStream> {
    let string = |o: &Opt| {
        syn::parse2::<LitStr>(o.value.clone())
            .ok()
            .map(|s| s.value())
    };
    let mut world = None;
    let mut paths: Option<Vec<String>> = None;
    let mut inline = None;
    for o in options {
        if o.key == "world" {
            world = Some(string(o)?);
        } else if o.key == "path" {
            paths = Some(match string(o) {
                Some(p) => vec![p],
                None => list_of_strings(o.value.clone())?,
            });
        } else if o.key == "inline" {
            inline = Some(string(o)?);
        }
    }
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").ok()?);
    let (resolve, main, files) = load(&root, paths, inline.as_deref()).ok()?;
    let world_id = resolve.select_world(&main, world.as_deref()).ok()?;
    let world = &resolve.worlds[world_id];
    let package = world.package?;
    let wit = section::print(&resolve, package).ok()?;
    let section = section::static_item(&world.name, &wit);
    let includes = files.iter().map(|f| {
        let f = f.display().to_string();
        quote!(
            const _: &[u8] = ::core::include_bytes!(#f);
        )
    });
    Some(quote! {
        #section
        #(#includes)*
    })
}

/// `["a", "b"]`.
fn list_of_strings(value: TokenStream) -> Option<Vec<String>> {
    let parse = |input: ParseStream<'_>| {
        let content;
        syn::bracketed!(content in input);
        let list = content.parse_terminated(|i| i.parse::<LitStr>(), Token![,])?;
        Ok(list.into_iter().map(|s| s.value()).collect())
    };
    parse.parse2(value).ok()
}

/// Reads the WIT as wit-bindgen does: each path (relative to `root`, a file
/// or a directory with `deps/`), `wit` when there is neither a path nor
/// inline WIT, and the inline WIT as the main package when given.
fn load(
    root: &Path,
    paths: Option<Vec<String>>,
    inline: Option<&str>,
) -> Result<(Resolve, Vec<wit_parser::PackageId>, Vec<PathBuf>), String> {
    let mut resolve = Resolve::default();
    let mut main = Vec::new();
    let mut files = Vec::new();
    let paths = match (paths, inline) {
        (Some(p), _) => p,
        (None, Some(_)) if !root.join("wit").exists() => Vec::new(),
        (None, _) => vec!["wit".to_owned()],
    };
    for path in paths {
        let full = root.join(&path);
        let full = std::fs::canonicalize(&full).unwrap_or(full);
        let (pkg, sources) = resolve
            .push_path(&full)
            .map_err(|e| format!("{}: {e:#}", full.display()))?;
        main.push(pkg);
        files.extend(sources.paths().map(Path::to_path_buf));
    }
    if let Some(inline) = inline {
        main.clear();
        main.push(
            resolve
                .push_str("macro-input", inline)
                .map_err(|e| format!("{e:#}"))?,
        );
    }
    Ok((resolve, main, files))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_read_as_written() {
        let options = parse_options
            .parse2(quote!(world: "math", path: ["wit", "more"], generate_all, async: true))
            .unwrap();
        let keys: Vec<String> = options.iter().map(|o| o.key.to_string()).collect();
        assert_eq!(keys, ["world", "path", "generate_all", "async"]);
        assert_eq!(
            list_of_strings(options[1].value.clone()),
            Some(vec!["wit".to_owned(), "more".to_owned()])
        );
    }

    #[test]
    fn a_wit_directory_with_deps_prints_as_one_document() {
        let root = std::env::temp_dir().join(format!("warden-define-{}", std::process::id()));
        let deps = root.join("wit/deps/shapes");
        std::fs::create_dir_all(&deps).unwrap();
        std::fs::write(
            deps.join("shapes.wit"),
            "package dep:shapes;\n/// Shapes.\ninterface kinds {\n    /// A point.\n    record point { x: f64 }\n}\n",
        )
        .unwrap();
        std::fs::write(
            root.join("wit/main.wit"),
            "package my:plugin;\n/// The world.\nworld plugin {\n    use dep:shapes/kinds.{point};\n    /// Moves.\n    export move: func(p: point) -> point;\n}\n",
        )
        .unwrap();
        let (resolve, main, files) = load(&root, None, None).unwrap();
        assert_eq!(files.len(), 2, "{files:?}");
        let world = resolve.select_world(&main, Some("plugin")).unwrap();
        let package = resolve.worlds[world].package.unwrap();
        let wit = section::print(&resolve, package).unwrap();
        std::fs::remove_dir_all(&root).unwrap();
        assert!(wit.starts_with("package my:plugin;"), "{wit}");
        assert!(wit.contains("/// Moves."), "{wit}");
        assert!(wit.contains("package dep:shapes {"), "{wit}");
        assert!(wit.contains("/// A point."), "{wit}");
        // The document parses back on its own, as the host reads it.
        let mut back = Resolve::default();
        let pkg = back.push_str("warden.wit", &wit).unwrap();
        back.select_world(&[pkg], Some("plugin")).unwrap();
    }
}
