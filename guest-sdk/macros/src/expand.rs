//! The code `#[plugin]` adds to the module: the bindings (wit-bindgen's
//! `generate!` over the generated WIT), the `Guest` implementations that
//! call the user's functions and convert values both ways, `export!`, and the
//! `warden:wit` section.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::ItemMod;

use crate::model::{Def, DefKind, Func, Interface, Payload, Plugin, Ret, Ty};
use crate::names::{ident, rust_case_name, rust_flag_name, rust_ident, rust_type_name};
use crate::section;
use crate::wit::{self, Layout, NAMESPACE};

/// The module, with the generated code appended to its items.
pub(crate) fn plugin(mut module: ItemMod, plugin: &Plugin) -> syn::Result<TokenStream> {
    let layout = Layout::of(plugin);
    let source = wit::render(plugin);
    let printed = section::print_inline(&source, &layout.world_id())
        .map_err(|e| syn::Error::new(plugin.ident.span(), e))?;
    let section = section::static_item(&layout.world, &printed);
    let generator = Gen {
        plugin,
        layout: &layout,
    };
    let bindings = generator.bindings(&source);
    let generated = syn::Item::Verbatim(quote! {
        /// The bindings and glue `#[warden_guest::plugin]` generated.
        #[doc(hidden)]
        #[allow(
            missing_docs,
            unreachable_pub,
            unused,
            non_camel_case_types,
            non_snake_case,
            clippy::all,
            clippy::pedantic
        )]
        mod __warden_plugin {
            #bindings
            #section
        }
    });
    if let Some((_, items)) = &mut module.content {
        items.push(generated);
    }
    Ok(quote!(#module))
}

struct Gen<'a> {
    plugin: &'a Plugin,
    layout: &'a Layout,
}

impl Gen<'_> {
    fn bindings(&self, source: &str) -> TokenStream {
        let world = self.layout.world_id();
        let mut items = Vec::new();
        if !self.plugin.funcs.is_empty() {
            let methods = self.plugin.funcs.iter().map(|f| self.method(None, f));
            items.push(quote! {
                impl Guest for __WardenPlugin {
                    #(#methods)*
                }
            });
        }
        for iface in &self.plugin.interfaces {
            let module = self.export_module(&iface.name);
            let streams: Vec<&Func> = iface
                .funcs
                .iter()
                .filter(|f| f.ret.in_interface())
                .collect();
            let assoc = streams.iter().map(|f| {
                let name = ident(&rust_type_name(&wit::resource_name(f)));
                let rep = rep_name(iface, f);
                quote!(type #name = #rep;)
            });
            let methods = iface.funcs.iter().map(|f| self.method(Some(iface), f));
            items.push(quote! {
                impl #module::Guest for __WardenPlugin {
                    #(#assoc)*
                    #(#methods)*
                }
            });
            for f in streams {
                items.push(self.resource(iface, f));
            }
        }
        for i in self.plugin.reachable() {
            items.push(self.conversions(i));
        }
        quote! {
            ::warden_guest::__wit_bindgen::generate!({
                inline: #source,
                world: #world,
                path: [],
                runtime_path: "::warden_guest::__wit_bindgen::rt",
            });

            /// Implements the bindings' traits by calling the module's functions.
            pub struct __WardenPlugin;

            #(#items)*

            export!(__WardenPlugin);
        }
    }

    /// `self::exports::warden_plugin::NAME::INTERFACE`.
    fn export_module(&self, interface: &str) -> TokenStream {
        let ns = ident(&rust_ident(NAMESPACE));
        let pkg = ident(&rust_ident(&self.layout.package_name));
        let iface = ident(&rust_ident(interface));
        quote!(self::exports::#ns::#pkg::#iface)
    }

    /// One trait method (of the world's `Guest`, or of interface `iface`'s):
    /// converts the arguments, calls the user's function, converts the
    /// result.
    fn method(&self, iface: Option<&Interface>, f: &Func) -> TokenStream {
        let name = ident(&rust_ident(&f.name));
        let user = user_path(f.module.as_ref(), &f.ident);
        let names: Vec<_> = (0..f.params.len())
            .map(|i| format_ident!("__p{i}"))
            .collect();
        let decls = f.params.iter().zip(&names).map(|(p, n)| {
            let t = self.bound(&p.ty);
            quote!(#n: #t)
        });
        let args = f.params.iter().zip(&names).map(|(p, n)| {
            let value = self.lift(&p.ty, quote!(#n));
            if p.by_ref { quote!(&#value) } else { value }
        });
        let call = quote!(#user(#(#args),*));
        match (&f.ret, iface) {
            (Ret::Nothing, _) => quote! {
                fn #name(#(#decls),*) {
                    #call
                }
            },
            (Ret::Value(t), _) => {
                let out = self.bound(t);
                let convert = self.lower(t, quote!(__r));
                quote! {
                    fn #name(#(#decls),*) -> #out {
                        let __r = #call;
                        #convert
                    }
                }
            }
            (Ret::Stream { item, error }, Some(iface)) => {
                let (module, handle, rep) = self.resource_names(iface, f);
                let mut user_item = self.user(item);
                if let Some(error) = error {
                    let user_error = self.user(error);
                    user_item = quote!(::core::result::Result<#user_item, #user_error>);
                }
                quote! {
                    fn #name(#(#decls),*) -> #module::#handle {
                        let __items: ::std::boxed::Box<dyn ::core::iter::Iterator<Item = #user_item>> =
                            ::std::boxed::Box::new(#call);
                        #module::#handle::new(#rep(::core::cell::RefCell::new(__items)))
                    }
                }
            }
            (Ret::Channel { .. }, Some(iface)) => {
                let (module, handle, rep) = self.resource_names(iface, f);
                quote! {
                    fn #name(#(#decls),*) -> #module::#handle {
                        #module::#handle::new(#rep(::core::cell::RefCell::new(#call)))
                    }
                }
            }
            // Invariant: the model puts stream and channel functions into
            // interfaces.
            (Ret::Stream { .. } | Ret::Channel { .. }, None) => TokenStream::new(),
        }
    }

    /// The export module, the handle type and the representation type of
    /// the resource of `f` (in `iface`).
    fn resource_names(&self, iface: &Interface, f: &Func) -> (TokenStream, syn::Ident, syn::Ident) {
        let module = self.export_module(&iface.name);
        let handle = ident(&rust_type_name(&wit::resource_name(f)));
        (module, handle, rep_name(iface, f))
    }

    /// The representation of a stream or channel resource and its `Guest*`
    /// trait implementation.
    fn resource(&self, iface: &Interface, f: &Func) -> TokenStream {
        let module = self.export_module(&iface.name);
        let rep = rep_name(iface, f);
        let guest = format_ident!("Guest{}", rust_type_name(&wit::resource_name(f)));
        match &f.ret {
            Ret::Stream { item, error: None } => {
                let user_item = self.user(item);
                let out = self.bound(item);
                let convert = self.lower(item, quote!(__v));
                quote! {
                    pub struct #rep(
                        ::core::cell::RefCell<::std::boxed::Box<dyn ::core::iter::Iterator<Item = #user_item>>>,
                    );
                    impl #module::#guest for #rep {
                        fn next(&self) -> ::core::option::Option<#out> {
                            let __next = self.0.borrow_mut().next();
                            __next.map(|__v| #convert)
                        }
                    }
                }
            }
            Ret::Stream {
                item,
                error: Some(error),
            } => {
                let user_item = self.user(item);
                let user_error = self.user(error);
                let out = self.bound(item);
                let out_error = self.bound(error);
                let convert = self.lower(item, quote!(__v));
                let convert_error = self.lower(error, quote!(__e));
                quote! {
                    pub struct #rep(
                        ::core::cell::RefCell<::std::boxed::Box<dyn ::core::iter::Iterator<
                            Item = ::core::result::Result<#user_item, #user_error>,
                        >>>,
                    );
                    impl #module::#guest for #rep {
                        fn next(&self) -> ::core::result::Result<::core::option::Option<#out>, #out_error> {
                            let __next = self.0.borrow_mut().next();
                            match __next {
                                ::core::option::Option::None => ::core::result::Result::Ok(::core::option::Option::None),
                                ::core::option::Option::Some(::core::result::Result::Ok(__v)) => {
                                    ::core::result::Result::Ok(::core::option::Option::Some(#convert))
                                }
                                ::core::option::Option::Some(::core::result::Result::Err(__e)) => {
                                    ::core::result::Result::Err(#convert_error)
                                }
                            }
                        }
                    }
                }
            }
            Ret::Channel { input, output } => {
                let user_in = self.user(input);
                let user_out = self.user(output);
                let bound_in = self.bound(input);
                let bound_out = self.bound(output);
                let message = self.lift(input, quote!(message));
                let answers = self.lower(&Ty::List(Box::new(output.clone())), quote!(__answers));
                quote! {
                    pub struct #rep(::core::cell::RefCell<::warden_guest::Channel<#user_in, #user_out>>);
                    impl #module::#guest for #rep {
                        fn send(&self, message: #bound_in) -> ::std::vec::Vec<#bound_out> {
                            let __answers = self.0.borrow_mut().send(#message);
                            #answers
                        }
                        fn finish(&self) -> ::std::vec::Vec<#bound_out> {
                            let __answers = self.0.borrow_mut().finish();
                            #answers
                        }
                    }
                }
            }
            Ret::Nothing | Ret::Value(_) => TokenStream::new(),
        }
    }

    /// `__to_wit_N` and `__from_wit_N` for derived type `i`.
    fn conversions(&self, i: usize) -> TokenStream {
        let def = &self.plugin.defs[i];
        let to = to_fn(i);
        let from = from_fn(i);
        let user = user_path(def.module.as_ref(), &def.ident);
        let bound = self.bound_def(def);
        let (to_body, from_body) = match &def.kind {
            DefKind::Record(fields) => {
                let to_fields = fields.iter().map(|f| {
                    let b = ident(&rust_ident(&f.name));
                    let u = &f.ident;
                    let v = self.lower(&f.ty, quote!(__v.#u));
                    quote!(#b: #v)
                });
                let from_fields = fields.iter().map(|f| {
                    let b = ident(&rust_ident(&f.name));
                    let u = &f.ident;
                    let v = self.lift(&f.ty, quote!(__v.#b));
                    quote!(#u: #v)
                });
                (
                    quote!(#bound { #(#to_fields),* }),
                    quote!(#user { #(#from_fields),* }),
                )
            }
            DefKind::Flags(fields) => {
                let sets = fields.iter().map(|f| {
                    let u = &f.ident;
                    let c = ident(&rust_flag_name(&f.name));
                    quote!(if __v.#u { __f |= #bound::#c; })
                });
                let gets = fields.iter().map(|f| {
                    let u = &f.ident;
                    let c = ident(&rust_flag_name(&f.name));
                    quote!(#u: __v.contains(#bound::#c))
                });
                (
                    quote!({
                        let mut __f = #bound::empty();
                        #(#sets)*
                        __f
                    }),
                    quote!(#user { #(#gets),* }),
                )
            }
            DefKind::Enum(cases) | DefKind::Variant(cases) => {
                let mut to_arms = Vec::new();
                let mut from_arms = Vec::new();
                for c in cases {
                    let u = &c.ident;
                    let b = ident(&rust_case_name(&c.name));
                    match &c.payload {
                        Payload::None => {
                            to_arms.push(quote!(#user::#u => #bound::#b));
                            from_arms.push(quote!(#bound::#b => #user::#u));
                        }
                        Payload::One(t) => {
                            let to_v = self.lower(t, quote!(__x));
                            let from_v = self.lift(t, quote!(__x));
                            to_arms.push(quote!(#user::#u(__x) => #bound::#b(#to_v)));
                            from_arms.push(quote!(#bound::#b(__x) => #user::#u(#from_v)));
                        }
                        Payload::Many(ts) => {
                            let vars: Vec<_> =
                                (0..ts.len()).map(|i| format_ident!("__x{i}")).collect();
                            let to_vs =
                                ts.iter().zip(&vars).map(|(t, v)| self.lower(t, quote!(#v)));
                            let from_vs =
                                ts.iter().zip(&vars).map(|(t, v)| self.lift(t, quote!(#v)));
                            to_arms.push(quote!(
                                #user::#u(#(#vars),*) => #bound::#b((#(#to_vs,)*))
                            ));
                            from_arms.push(quote!(
                                #bound::#b((#(#vars,)*)) => #user::#u(#(#from_vs),*)
                            ));
                        }
                    }
                }
                (
                    quote!(match __v { #(#to_arms,)* }),
                    quote!(match __v { #(#from_arms,)* }),
                )
            }
        };
        quote! {
            fn #to(__v: #user) -> #bound {
                #to_body
            }
            fn #from(__v: #bound) -> #user {
                #from_body
            }
        }
    }

    /// The bindings' type for derived type `def`.
    fn bound_def(&self, def: &Def) -> TokenStream {
        let ns = ident(&rust_ident(NAMESPACE));
        let pkg = ident(&rust_ident(&self.layout.package_name));
        let types = ident(&rust_ident(self.layout.types.as_deref().unwrap_or("types")));
        let name = ident(&rust_type_name(&def.name));
        quote!(self::#ns::#pkg::#types::#name)
    }

    /// The Rust type the bindings use for `t`.
    fn bound(&self, t: &Ty) -> TokenStream {
        self.rust_ty(t, &|i| self.bound_def(&self.plugin.defs[i]))
    }

    /// The Rust type the user's code uses for `t`.
    fn user(&self, t: &Ty) -> TokenStream {
        self.rust_ty(t, &|i| {
            let def = &self.plugin.defs[i];
            user_path(def.module.as_ref(), &def.ident)
        })
    }

    fn rust_ty(&self, t: &Ty, named: &dyn Fn(usize) -> TokenStream) -> TokenStream {
        match t {
            Ty::Prim(p) => p.rust(),
            Ty::List(t) => {
                let t = self.rust_ty(t, named);
                quote!(::std::vec::Vec<#t>)
            }
            Ty::Option(t) => {
                let t = self.rust_ty(t, named);
                quote!(::core::option::Option<#t>)
            }
            Ty::Result(ok, err) => {
                let ok = ok.as_ref().map_or(quote!(()), |t| self.rust_ty(t, named));
                let err = err.as_ref().map_or(quote!(()), |t| self.rust_ty(t, named));
                quote!(::core::result::Result<#ok, #err>)
            }
            Ty::Tuple(ts) => {
                let ts = ts.iter().map(|t| self.rust_ty(t, named));
                quote!((#(#ts,)*))
            }
            Ty::Named(i) => named(*i),
        }
    }

    /// Converts `value` (the user's type) to the bindings' type.
    fn lower(&self, t: &Ty, value: TokenStream) -> TokenStream {
        self.convert(t, value, &to_fn)
    }

    /// Converts `value` (the bindings' type) to the user's type.
    fn lift(&self, t: &Ty, value: TokenStream) -> TokenStream {
        self.convert(t, value, &from_fn)
    }

    fn convert(
        &self,
        t: &Ty,
        value: TokenStream,
        named: &dyn Fn(usize) -> syn::Ident,
    ) -> TokenStream {
        if !has_named(t) {
            return value;
        }
        match t {
            Ty::Prim(_) => value,
            Ty::Named(i) => {
                let f = named(*i);
                quote!(#f(#value))
            }
            Ty::List(inner) => {
                let inner = self.convert(inner, quote!(__e), named);
                quote!(::core::iter::Iterator::collect::<::std::vec::Vec<_>>(
                    ::core::iter::Iterator::map(::core::iter::IntoIterator::into_iter(#value), |__e| #inner)
                ))
            }
            Ty::Option(inner) => {
                let inner = self.convert(inner, quote!(__e), named);
                quote!(::core::option::Option::map(#value, |__e| #inner))
            }
            Ty::Result(ok, err) => {
                let ok = ok
                    .as_ref()
                    .map_or(quote!(__e), |t| self.convert(t, quote!(__e), named));
                let err = err
                    .as_ref()
                    .map_or(quote!(__e), |t| self.convert(t, quote!(__e), named));
                quote!(match #value {
                    ::core::result::Result::Ok(__e) => ::core::result::Result::Ok(#ok),
                    ::core::result::Result::Err(__e) => ::core::result::Result::Err(#err),
                })
            }
            Ty::Tuple(ts) => {
                let vars: Vec<_> = (0..ts.len()).map(|i| format_ident!("__t{i}")).collect();
                let parts = ts
                    .iter()
                    .zip(&vars)
                    .map(|(t, v)| self.convert(t, quote!(#v), named));
                quote!({
                    let (#(#vars,)*) = #value;
                    (#(#parts,)*)
                })
            }
        }
    }
}

/// Whether `t` names a derived type (and so needs converting).
fn has_named(t: &Ty) -> bool {
    match t {
        Ty::Prim(_) => false,
        Ty::Named(_) => true,
        Ty::List(t) | Ty::Option(t) => has_named(t),
        Ty::Result(ok, err) => [ok, err].into_iter().flatten().any(|t| has_named(t)),
        Ty::Tuple(ts) => ts.iter().any(has_named),
    }
}

fn to_fn(i: usize) -> syn::Ident {
    format_ident!("__to_wit_{i}")
}

fn from_fn(i: usize) -> syn::Ident {
    format_ident!("__from_wit_{i}")
}

/// The type behind the stream or channel resource of `f` in `iface`
/// (`__` between the names: a kebab-case name has no `--`).
fn rep_name(iface: &Interface, f: &Func) -> syn::Ident {
    format_ident!(
        "__Resource_{}__{}",
        iface.name.replace('-', "_"),
        f.name.replace('-', "_")
    )
}

/// The path from the generated module to the user's item `name`, declared
/// in the plugin module or in its `pub mod` `module`.
fn user_path(module: Option<&syn::Ident>, name: &syn::Ident) -> TokenStream {
    match module {
        Some(m) => quote!(super::#m::#name),
        None => quote!(super::#name),
    }
}
