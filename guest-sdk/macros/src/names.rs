//! Names: Rust identifiers to WIT names, WIT names to the Rust names
//! wit-bindgen 0.61 gives them, and doc comments.

use heck::{ToKebabCase, ToShoutySnakeCase, ToSnakeCase, ToUpperCamelCase};
use proc_macro2::{Ident, Span};
use syn::ext::IdentExt;
use syn::{Attribute, Expr, ExprLit, Lit, Meta};

/// The WIT (kebab-case) name of a Rust identifier: `slow_sum` → `slow-sum`,
/// `LetterCase` → `letter-case`.
///
/// # Errors
///
/// When the kebab-case form is not a WIT identifier (a word starting with
/// a digit, as in `step_2`), pointing at `ident`.
pub(crate) fn wit_name(ident: &Ident) -> syn::Result<String> {
    let rust = ident.unraw().to_string();
    let kebab = rust.to_kebab_case();
    match invalid_reason(&kebab) {
        None => Ok(kebab),
        Some(why) => Err(syn::Error::new(
            ident.span(),
            format!(
                "`{rust}` has no WIT name: its kebab-case form `{kebab}` {why}; rename it \
                 (e.g. `step_2` → `step2`)"
            ),
        )),
    }
}

/// Why `name` is not a WIT identifier, or `None` when it is one.
fn invalid_reason(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("is empty".into());
    }
    for word in name.split('-') {
        let Some(first) = word.chars().next() else {
            return Some("has an empty word".into());
        };
        if !first.is_ascii_alphabetic() {
            return Some(format!(
                "has a word that does not start with a letter (`{word}`)"
            ));
        }
        if !word.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Some(format!("has a character WIT does not allow in `{word}`"));
        }
        let lower = word.chars().any(|c| c.is_ascii_lowercase());
        let upper = word.chars().any(|c| c.is_ascii_uppercase());
        if lower && upper {
            return Some(format!("mixes cases in the word `{word}`"));
        }
    }
    None
}

/// Words of the WIT grammar: a name spelled like one is written `%name`.
const WIT_KEYWORDS: &[&str] = &[
    "use",
    "type",
    "func",
    "u8",
    "u16",
    "u32",
    "u64",
    "s8",
    "s16",
    "s32",
    "s64",
    "f32",
    "f64",
    "char",
    "resource",
    "own",
    "borrow",
    "record",
    "flags",
    "variant",
    "enum",
    "bool",
    "string",
    "option",
    "result",
    "future",
    "stream",
    "error-context",
    "list",
    "map",
    "as",
    "from",
    "static",
    "interface",
    "tuple",
    "world",
    "import",
    "export",
    "package",
    "constructor",
    "include",
    "with",
    "async",
];

/// `name` as it is written in WIT source: `%type` for a keyword.
pub(crate) fn wit_ident(name: &str) -> String {
    if WIT_KEYWORDS.contains(&name) {
        format!("%{name}")
    } else {
        name.to_owned()
    }
}

/// The Rust name wit-bindgen gives a function, parameter, field or module
/// named `name` in WIT (its `to_rust_ident`).
pub(crate) fn rust_ident(name: &str) -> String {
    const KEYWORDS: &[&str] = &[
        "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn",
        "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref",
        "return", "self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use",
        "where", "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final",
        "macro", "override", "priv", "typeof", "unsized", "virtual", "yield", "try",
    ];
    if KEYWORDS.contains(&name) {
        format!("{name}_")
    } else {
        name.to_snake_case()
    }
}

/// The Rust name wit-bindgen gives a type (record, variant, enum, flags,
/// resource) named `name` in WIT.
pub(crate) fn rust_type_name(name: &str) -> String {
    if name == "guest" {
        "Guest_".into()
    } else {
        name.to_upper_camel_case()
    }
}

/// The Rust name wit-bindgen gives a variant or enum case.
pub(crate) fn rust_case_name(name: &str) -> String {
    name.to_upper_camel_case()
}

/// The name of the constant wit-bindgen gives a flag.
pub(crate) fn rust_flag_name(name: &str) -> String {
    name.to_shouty_snake_case()
}

/// An identifier for generated code.
pub(crate) fn ident(name: &str) -> Ident {
    Ident::new(name, Span::call_site())
}

/// The text of the `///` comments (`#[doc = "..."]` attributes) among
/// `attrs`, with their common indentation removed.
pub(crate) fn docs(attrs: &[Attribute]) -> String {
    let mut lines = Vec::new();
    for attr in attrs {
        if !attr.path().is_ident("doc") {
            continue;
        }
        if let Meta::NameValue(nv) = &attr.meta
            && let Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) = &nv.value
        {
            lines.extend(
                s.value()
                    .split('\n')
                    .map(|l| l.trim_end_matches('\r').to_owned()),
            );
        }
    }
    let indent = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let lines: Vec<&str> = lines
        .iter()
        .map(|l| l.get(indent..).unwrap_or("").trim_end())
        .collect();
    lines.join("\n").trim_matches('\n').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_names_become_kebab_case() {
        let name = |s: &str| wit_name(&Ident::new(s, Span::call_site()));
        assert_eq!(name("slow_sum").unwrap(), "slow-sum");
        assert_eq!(name("LetterCase").unwrap(), "letter-case");
        assert_eq!(name("add").unwrap(), "add");
        assert_eq!(name("vec2").unwrap(), "vec2");
        assert_eq!(name("HTTPError").unwrap(), "http-error");
        assert_eq!(
            Ident::parse_any
                .parse2(quote::quote!(r#type))
                .map(|i| wit_name(&i).unwrap())
                .unwrap(),
            "type"
        );
        let err = name("step_2").unwrap_err().to_string();
        assert!(err.contains("`step-2`"), "{err}");
    }

    #[test]
    fn wit_keywords_are_escaped_and_rust_keywords_suffixed() {
        assert_eq!(wit_ident("type"), "%type");
        assert_eq!(wit_ident("add"), "add");
        assert_eq!(rust_ident("type"), "type_");
        assert_eq!(rust_ident("delay-ms"), "delay_ms");
        assert_eq!(rust_type_name("letter-case"), "LetterCase");
        assert_eq!(rust_type_name("guest"), "Guest_");
        assert_eq!(rust_flag_name("exec-all"), "EXEC_ALL");
    }

    #[test]
    fn docs_lose_their_common_indentation() {
        let item: syn::ItemFn = syn::parse_quote! {
            /// Adds.
            ///
            ///   Indented.
            fn f() {}
        };
        assert_eq!(docs(&item.attrs), "Adds.\n\n  Indented.");
    }

    use syn::parse::Parser;
}
