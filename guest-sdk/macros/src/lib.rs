//! The macros of [`warden-guest`](../warden_guest/index.html), which
//! re-exports them: use them as `warden_guest::plugin`,
//! `warden_guest::Type` and `warden_guest::define_plugin!`; do not depend
//! on this crate directly.
//!
//! - [`plugin`]: plain Rust functions become a plugin, with no WIT file.
//! - [`Type`]: marks the structs and enums a plugin's functions take and
//!   return.
//! - [`define_plugin!`]: bindings for a plugin that writes its own WIT.
//!
//! Both `plugin` and `define_plugin!` embed the plugin's WIT (with its doc
//! comments) in a custom section named `warden:wit`, which the host reads
//! to show docs and type names in its catalog. The payload is JSON:
//! `{"version":1,"world":"NAME","wit":"WIT source"}`.
//!
//! # Layout
//!
//! `model` reads a `#[plugin]` module into functions, interfaces (its
//! `pub mod`s) and types, `wit` writes their WIT, `expand` generates the
//! glue code, `section` the custom section, `define` implements
//! `define_plugin!`, `names` maps names between Rust and WIT the way
//! wit-bindgen does.

#![warn(missing_docs)]

mod define;
mod expand;
mod model;
mod names;
mod section;
mod wit;

use proc_macro::TokenStream;

/// Turns the `pub fn`s of a module into a plugin: one node per function,
/// with the WIT generated from their signatures and doc comments.
///
/// ```no_run
/// /// Arithmetic.
/// #[warden_guest::plugin]
/// mod math {
///     /// Adds two integers.
///     pub fn add(a: i64, b: i64) -> i64 {
///         a.wrapping_add(b)
///     }
/// }
/// # fn main() {}
/// ```
///
/// With `[lib] crate-type = ["cdylib"]` and a dependency on `warden-guest`,
/// that is the whole plugin: no WIT file, no `impl Guest`, no `export!`.
/// `cargo build --release --target wasm32-wasip2` makes a component whose
/// node `PLUGIN/add` is `add: func(a: s64, b: s64) -> s64`, documented
/// "Adds two integers.".
///
/// # What becomes what
///
/// - Every `pub fn` of the module is a node; its name in kebab-case is the
///   node's (`slow_sum` → `slow-sum`), and so are its parameters'
///   (`delay_ms` → `delay-ms`). Other items (private functions, constants,
///   `use`s, private modules) stay private helpers.
/// - Every `pub mod` with `pub fn`s is an exported **interface** of that
///   name, whose functions are nodes `PLUGIN/INTERFACE/f` (see
///   [below](#interfaces-pub-mod)). A `pub mod` without `pub fn`s only
///   holds types (and helpers).
/// - The module's doc comment documents the world, a `pub mod`'s (`///`
///   before it, `//!` inside it) its interface, and each function's doc
///   comment its node. WIT has no docs on parameters: a `///` comment on a
///   parameter is appended to the function's docs as a list item.
/// - The package is `warden-plugin:NAME` and the world `NAME`, after the
///   module (`NAME-plugin` when an interface is named `NAME`, as the one of
///   the module's stream and channel nodes is). Derived types, whichever
///   module declares them, live in an interface named `types`.
///
/// | Rust | WIT |
/// |---|---|
/// | `bool`, `char`, `String` | `bool`, `char`, `string` |
/// | `i8` .. `i64`, `u8` .. `u64` | `s8` .. `s64`, `u8` .. `u64` |
/// | `f32`, `f64` | `f32`, `f64` |
/// | `&str` (parameters of plain nodes only) | `string` |
/// | `Vec<T>` (`Vec<u8>`: bytes) | `list<T>` (`list<u8>`) |
/// | `Option<T>` | `option<T>` |
/// | `Result<T, E>`, `Result<(), E>`, `Result<T, ()>` | `result<T, E>`, `result<_, E>`, `result<T>` |
/// | `(A, B, ..)` | `tuple<A, B, ..>` |
/// | `()` or no result | no result |
/// | `struct` with named fields, `#[derive(Type)]` | `record` (field docs kept) |
/// | `struct` of `bool`s, `#[derive(Type)]` and `#[warden(flags)]` | `flags` |
/// | `enum` of unit cases, `#[derive(Type)]` | `enum` |
/// | `enum` whose cases carry one value (or several: a tuple), `#[derive(Type)]` | `variant` |
/// | result `impl Iterator<Item = T>` (or `Box<dyn Iterator<..>>`) | a **stream node** |
/// | result `impl Iterator<Item = Result<T, E>>` | a stream node that ends with the first error |
/// | result [`Channel<I, O>`](../warden_guest/struct.Channel.html) | a **channel node** |
///
/// A node whose result is `Result<T, E>` returns `T`; its `Err(e)` reaches
/// the caller as a `node-error` with `e` as details. Derived types may name
/// each other (not themselves: WIT types are not recursive) and must be
/// declared inside the module or one of its `pub mod`s. Type aliases
/// declared there are followed.
///
/// Anything else is a compile error naming the type, why it cannot cross
/// the plugin boundary, and what to use instead: references (but `&str`
/// parameters), maps (`HashMap<K, V>` → `Vec<(K, V)>`), sets, `Box`/`Rc`,
/// `u128`/`usize`, arrays, trait objects, generic or `async` or `unsafe`
/// functions, types declared outside the module, and structs or enums
/// without `#[derive(warden_guest::Type)]`.
///
/// # Streams and channels
///
/// The host calls a node that returns a resource with a `next` method a
/// stream node, and one whose resource has `send` (and `finish`) a channel
/// node; resources only exist inside interfaces. So plain functions are
/// exported by the world (node `PLUGIN/add`), while **stream and channel
/// functions go into an exported interface named after the module**:
///
/// ```no_run
/// #[warden_guest::plugin]
/// mod counter {
///     use warden_guest::Channel;
///
///     /// Counts from 1 to `n`: node `PLUGIN/counter/count`.
///     pub fn count(n: u64) -> impl Iterator<Item = u64> {
///         1..=n
///     }
///
///     /// Echoes each message back: node `PLUGIN/counter/echo`.
///     pub fn echo(prefix: String) -> Channel<String, String> {
///         Channel::new(move |message: String| vec![format!("{prefix}{message}")])
///     }
///
///     /// A plain node beside them: `PLUGIN/double`.
///     pub fn double(n: u64) -> u64 {
///         n * 2
///     }
/// }
/// # fn main() {}
/// ```
///
/// # Interfaces: `pub mod`
///
/// A `pub mod` of the plugin module groups nodes under a name: it is an
/// exported WIT interface, documented by the module's docs, holding its
/// `pub fn`s (plain, stream and channel alike: no second interface for
/// those). Its other items stay helpers. Derived types may be declared in
/// any of the modules and used in all of them (`use super::Stats;`,
/// `strings::Span`): they all live in the interface `types`.
///
/// ```no_run
/// /// Text utilities.
/// #[warden_guest::plugin]
/// mod text {
///     /// Counts describing a piece of text.
///     #[derive(warden_guest::Type)]
///     pub struct Stats {
///         pub words: u32,
///     }
///
///     /// String functions (nodes `PLUGIN/strings/...`).
///     pub mod strings {
///         /// Upper-cases `s`: node `PLUGIN/strings/upper`.
///         pub fn upper(s: &str) -> String {
///             s.to_uppercase()
///         }
///
///         /// The words of `s`, one at a time: node `PLUGIN/strings/words`.
///         pub fn words(s: String) -> impl Iterator<Item = String> {
///             s.split_whitespace().map(str::to_owned).collect::<Vec<_>>().into_iter()
///         }
///     }
///
///     /// Counts the words of `s`: node `PLUGIN/stats`.
///     pub fn stats(s: &str) -> Stats {
///         Stats { words: s.split_whitespace().count() as u32 }
///     }
/// }
/// # fn main() {}
/// ```
///
/// makes
///
/// ```wit
/// package warden-plugin:text;
///
/// interface types {
///     /// Counts describing a piece of text.
///     record stats { words: u32 }
/// }
///
/// /// String functions (nodes `PLUGIN/strings/...`).
/// interface strings {
///     /// Upper-cases `s`: node `PLUGIN/strings/upper`.
///     upper: func(s: string) -> string;
///     resource words-stream { next: func() -> option<string>; }
///     /// The words of `s`, one at a time: node `PLUGIN/strings/words`.
///     words: func(s: string) -> words-stream;
/// }
///
/// /// Text utilities.
/// world text {
///     use types.{stats};
///     export strings;
///     /// Counts the words of `s`: node `PLUGIN/stats`.
///     export stats: func(s: string) -> stats;
/// }
/// ```
///
/// Types and fields declared in a `pub mod` must not be private (`pub` or
/// `pub(super)`): the generated code beside the `pub mod`s converts them.
/// One level is enough: a `pub mod` inside a `pub mod` is an error, a
/// private one a helper. An interface's name must be free: not `types`,
/// not the name of a function the world exports (`pub fn strings` beside
/// `pub mod strings`), not the name of the interface of the module's own
/// stream and channel nodes. And inside an interface, unlike in the world,
/// a function cannot share its name with a type it uses (`pub fn stats`
/// returning `Stats`) or with a stream's resource (`count` makes
/// `count-stream`).
///
/// # Errors
///
/// Besides the unsupported types and the clashes above: a module without
/// `pub fn`s (in it or in its `pub mod`s), a module declared as `mod NAME;`
/// (or a `pub mod NAME;`), names whose kebab-case form is not a WIT name
/// (`step_2`), and two names with the same kebab-case form.
#[proc_macro_attribute]
pub fn plugin(args: TokenStream, item: TokenStream) -> TokenStream {
    let args = proc_macro2::TokenStream::from(args);
    if !args.is_empty() {
        return syn::Error::new_spanned(args, "#[warden_guest::plugin] takes no arguments")
            .into_compile_error()
            .into();
    }
    let mut module = match syn::parse::<syn::ItemMod>(item) {
        Ok(m) => m,
        Err(e) => {
            return syn::Error::new(
                e.span(),
                "#[warden_guest::plugin] goes on a module: `mod NAME { pub fn .. }`",
            )
            .into_compile_error()
            .into();
        }
    };
    let read = model::read(&module);
    model::clean(&mut module);
    match read.and_then(|plugin| expand::plugin(module.clone(), &plugin)) {
        Ok(expanded) => expanded.into(),
        // The module as written (so that only these errors show), and why
        // it is not a plugin.
        Err(e) => {
            let mut out = quote::quote!(#module);
            out.extend(e.into_compile_error());
            out.into()
        }
    }
}

/// Marks a struct or enum declared inside a [`plugin`] module as a type its
/// nodes take or return: a WIT `record` (a struct with named fields),
/// `flags` (a struct of `bool`s with `#[warden(flags)]`), `enum` (unit
/// cases) or `variant` (cases carrying values). Doc comments on the type,
/// its fields and cases become WIT docs.
///
/// The derive itself generates nothing: the `plugin` attribute reads it.
/// On a type outside a `plugin` module it is an error.
///
/// ```no_run
/// #[warden_guest::plugin]
/// mod shapes {
///     /// A point in the plane.
///     #[derive(warden_guest::Type)]
///     pub struct Point {
///         /// Across.
///         pub x: f64,
///         /// Up.
///         pub y: f64,
///     }
///
///     /// What a file may do.
///     #[derive(warden_guest::Type)]
///     #[warden(flags)]
///     pub struct Perms {
///         pub read: bool,
///         pub write: bool,
///     }
///
///     /// Moves `p` right by one.
///     pub fn nudge(p: Point) -> Point {
///         Point { x: p.x + 1.0, ..p }
///     }
///
///     /// Whether `p` allows writing.
///     pub fn writable(p: Perms) -> bool {
///         p.write
///     }
/// }
/// # fn main() {}
/// ```
#[proc_macro_derive(Type, attributes(warden))]
pub fn derive_type(item: TokenStream) -> TokenStream {
    let Ok(input) = syn::parse::<syn::DeriveInput>(item) else {
        return TokenStream::new();
    };
    let mut in_plugin = false;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("warden")) {
        let _ = attr.parse_nested_meta(|meta| {
            in_plugin |= meta.path.is_ident(model::MARKER);
            Ok(())
        });
    }
    if in_plugin {
        return TokenStream::new();
    }
    syn::Error::new(
        input.ident.span(),
        format!(
            "#[derive(warden_guest::Type)] only works inside a #[warden_guest::plugin] module: \
             declare `{}` in the plugin's module or in one of its `pub mod`s",
            input.ident
        ),
    )
    .into_compile_error()
    .into()
}

/// Generates the bindings of a plugin's own WIT world, and embeds that WIT
/// (docs included) for the host's catalog.
///
/// Takes the options of `wit_bindgen::generate!` (most often `world` and
/// `path`, relative to your crate's `Cargo.toml`; `path` defaults to `wit`,
/// a file or a directory with a `deps/` folder). It produces a `Guest`
/// trait (plus one trait per exported interface) for you to implement and
/// an `export!` macro to name the type that implements them, and the
/// `warden:wit` section. Cargo rebuilds the plugin when a WIT file changes.
///
/// ```ignore
/// warden_guest::define_plugin!({ world: "math", path: "wit" });
///
/// struct Math;
/// impl Guest for Math {
///     fn add(a: i32, b: i32) -> i32 { a + b }
/// }
/// export!(Math);
/// ```
///
/// # Errors
///
/// Those of `generate!`: a WIT that does not parse, a world that is not
/// there.
#[proc_macro]
pub fn define_plugin(input: TokenStream) -> TokenStream {
    define::expand(input.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
