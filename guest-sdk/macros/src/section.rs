//! The `warden:wit` custom section: the plugin's WIT, docs included, for
//! the host's catalog.
//!
//! Its payload is JSON, `{"version":1,"world":"NAME","wit":"WIT source"}`,
//! where the WIT source is one document: the world's package, then the
//! packages it depends on as nested `package ns:name { .. }` blocks.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::LitByteStr;
use wit_component::WitPrinter;
use wit_parser::{PackageId, Resolve};

/// The custom section's name.
pub(crate) const SECTION: &str = "warden:wit";

/// Parses `source` (one package), checks that it has `world` and prints it
/// back as the section carries it.
///
/// # Errors
///
/// When the source does not parse or has no such world, with wit-parser's
/// message.
pub(crate) fn print_inline(source: &str, world: &str) -> Result<String, String> {
    let mut resolve = Resolve::default();
    let pkg = resolve
        .push_str("plugin.wit", source)
        .map_err(|e| format!("the WIT generated for this module is invalid: {e:#}\n\n{source}"))?;
    resolve
        .select_world(&[pkg], Some(world))
        .map_err(|e| format!("the generated WIT has no world `{world}`: {e:#}"))?;
    print(&resolve, pkg)
}

/// Prints package `main` of `resolve`, docs included, with every other
/// package of `resolve` nested in it.
///
/// # Errors
///
/// When wit-component cannot print it.
pub(crate) fn print(resolve: &Resolve, main: PackageId) -> Result<String, String> {
    let nested: Vec<PackageId> = resolve
        .topological_packages()
        .into_iter()
        .filter(|p| *p != main)
        .collect();
    let mut printer = WitPrinter::default();
    printer
        .print(resolve, main, &nested)
        .map_err(|e| format!("cannot print the WIT: {e:#}"))?;
    Ok(printer.output.to_string())
}

/// The section's JSON payload.
pub(crate) fn payload(world: &str, wit: &str) -> String {
    // serde_json escapes the strings; the keys are written in a fixed order.
    format!(
        "{{\"version\":1,\"world\":{},\"wit\":{}}}",
        serde_json::Value::from(world),
        serde_json::Value::from(wit)
    )
}

/// A `#[used]` static placing the payload in the `warden:wit` section of the
/// wasm module (only when compiling for wasm: other object formats name
/// sections differently, and only a component carries it to the host).
pub(crate) fn static_item(world: &str, wit: &str) -> TokenStream {
    let json = payload(world, wit);
    let len = json.len();
    let bytes = LitByteStr::new(json.as_bytes(), Span::call_site());
    quote! {
        #[cfg(target_family = "wasm")]
        const _: () = {
            #[used]
            #[unsafe(link_section = #SECTION)]
            static __WARDEN_WIT: [u8; #len] = *#bytes;
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_is_json_with_the_wit_escaped() {
        let json = payload(
            "math",
            "package a:b;\n/// \"quoted\" \\ \u{1}\nworld math {}\n",
        );
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["version"], 1);
        assert_eq!(value["world"], "math");
        assert_eq!(
            value["wit"],
            "package a:b;\n/// \"quoted\" \\ \u{1}\nworld math {}\n"
        );
        assert!(json.starts_with("{\"version\":1,\"world\":\"math\",\"wit\":"));
    }

    #[test]
    fn printing_keeps_docs() {
        let printed = print_inline(
            "package a:b;\n/// The world.\nworld w {\n    /// Adds.\n    export add: func(x: s32) -> s32;\n}\n",
            "w",
        )
        .unwrap();
        assert!(printed.contains("/// The world."), "{printed}");
        assert!(printed.contains("/// Adds."), "{printed}");
        assert!(printed.starts_with("package a:b;"), "{printed}");
    }
}
