//! `#[remote]`: registers a function so that cluster workers of the same
//! binary can run it by name.
//!
//! On `fn add(a: i64, b: i64) -> i64` it keeps the function as it is and
//! adds, beside it, a module `add` (modules and functions live in
//! different namespaces, so both are called `add`) with:
//! - `add::REMOTE`, the typed handle (`Remote<(i64, i64), i64>`), for
//!   `Client::map`;
//! - `add::call(a, b)`, the task a client submits: each argument a value of
//!   the parameter's type or the future of an earlier task of that type, so
//!   that a wrong argument type is a compile error;
//! - a registry entry, made before `main` runs, under the function's
//!   module path, with a wrapper that decodes the arguments, calls the
//!   function and encodes the result;
//! - for a function of one argument, `f::BATCH` too: the function over a
//!   `Vec` of items in one task (`Client::map_batched`), registered as
//!   `f#batch`.
//!
//! The generated code names the cluster crate as `::flotilla::cluster`;
//! `#[remote(crate = some::path)]` names it otherwise.
//!
//! Argument and result types must implement serde's `Serialize` and
//! `DeserializeOwned`. Only free functions with plain identifier
//! parameters and no generics can be registered; anything else is a
//! compile error that says so.

use proc_macro::TokenStream;
use proc_macro2::Span;
use quote::{format_ident, quote};
use syn::parse::Parser;
use syn::{parse_macro_input, FnArg, ItemFn, Pat, ReturnType};

/// Registers a free function for cluster workers; see the crate docs.
///
/// ```
/// use flotilla_cluster::Client;
/// use flotilla_macros::remote;
///
/// // In a crate that depends on `flotilla`, plain `#[flotilla::remote]`.
/// #[remote(crate = flotilla_cluster)]
/// fn add(a: i64, b: i64) -> i64 {
///     a + b
/// }
///
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     assert_eq!(add(2, 3), 5); // still a plain function
///     assert!(add::REMOTE.name().ends_with("::add"));
///
///     let client = Client::in_process(2)?;
///     let x = client.submit(add::call(1, 2))?; // a task of `add`
///     let y = client.submit(add::call(&x, 10))?; // a future as an argument
///     assert_eq!(y.result()?, 13);
///     let sums = client.map(add::REMOTE, (0..3, 10..13))?;
///     assert_eq!(client.gather(&sums)?, [10, 12, 14]);
///     // One argument: a batch form too, many items per task.
///     let doubled = client.submit(double::BATCH.call(vec![1, 2, 3]))?;
///     assert_eq!(doubled.result()?, [2, 4, 6]);
///     Ok(())
/// }
///
/// #[remote(crate = flotilla_cluster)]
/// fn double(x: i64) -> i64 {
///     2 * x
/// }
/// ```
///
/// A generic function cannot be registered: a worker finds it by one name.
///
/// ```compile_fail
/// #[flotilla_macros::remote(crate = flotilla_cluster)]
/// fn first<T: Clone>(items: Vec<T>) -> T {
///     items[0].clone()
/// }
/// # fn main() {}
/// ```
#[proc_macro_attribute]
pub fn remote(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut krate: syn::Path = syn::parse_quote!(::flotilla::cluster);
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("crate") {
            krate = meta.value()?.parse()?;
            Ok(())
        } else {
            Err(meta.error("expected `crate = path`"))
        }
    });
    if let Err(e) = parser.parse(attr) {
        return e.to_compile_error().into();
    }
    let function = parse_macro_input!(item as ItemFn);
    match expand(&krate, &function) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn expand(krate: &syn::Path, function: &ItemFn) -> syn::Result<proc_macro2::TokenStream> {
    let sig = &function.sig;
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(syn::Error::new_spanned(
            &sig.generics,
            "#[remote] functions cannot be generic: a worker finds them by one name",
        ));
    }
    if let Some(a) = &sig.asyncness {
        return Err(syn::Error::new_spanned(
            a,
            "#[remote] functions cannot be async",
        ));
    }
    let name = &sig.ident;
    let vis = &function.vis;
    let mut params = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(r) => {
                return Err(syn::Error::new_spanned(
                    r,
                    "#[remote] registers free functions, not methods",
                ))
            }
            FnArg::Typed(t) => match &*t.pat {
                Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => {
                    params.push((p.ident.clone(), (*t.ty).clone()))
                }
                other => {
                    return Err(syn::Error::new_spanned(
                        other,
                        "#[remote] parameters must be plain names",
                    ))
                }
            },
        }
    }
    let output = match &sig.output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, ty) => (**ty).clone(),
    };
    let types: Vec<_> = params.iter().map(|(_, t)| t.clone()).collect();
    let idents: Vec<_> = params.iter().map(|(i, _)| i.clone()).collect();
    let n = params.len();
    let indices: Vec<syn::Index> = (0..n).map(syn::Index::from).collect();
    let decoded: Vec<_> = (0..n).map(|i| format_ident!("arg{}", i)).collect();
    let positions: Vec<usize> = (0..n).collect();
    let lifetime = syn::Lifetime::new("'flotilla_arg", Span::call_site());
    let doc = format!("The cluster handle of [`{name}`](fn@{name}): `REMOTE` and `call`.");
    // A one-argument function also runs over a batch of items per task.
    let batch = match types.as_slice() {
        [item] => quote! {
            /// The function over a batch of items, one task for all of them.
            pub const BATCH: #krate::Batch<#item, #output> =
                #krate::Batch::new(::core::concat!(::core::module_path!(), "#batch"));

            fn __flotilla_batch(args: &[&[u8]]) -> ::core::result::Result<::std::vec::Vec<u8>, ::std::string::String> {
                let function = ::core::concat!(::core::module_path!(), "#batch");
                #krate::__private::check_arity(args, 1, function)?;
                let items: ::std::vec::Vec<#item> = #krate::__private::decode_arg(args[0], 0, function)?;
                let results: ::std::vec::Vec<#output> = items.into_iter().map(super::#name).collect();
                #krate::__private::encode_result(&results, function)
            }

            #krate::__private::inventory::submit! {
                #krate::RemoteFunction::new(::core::concat!(::core::module_path!(), "#batch"), __flotilla_batch)
            }
        },
        _ => quote! {},
    };

    Ok(quote! {
        #function

        #[doc = #doc]
        #[allow(clippy::all, unused_imports)]
        #vis mod #name {
            use super::*;

            /// The typed handle of the function, for `Client::map`.
            pub const REMOTE: #krate::Remote<(#(#types,)*), #output> =
                #krate::Remote::new(::core::module_path!(), __flotilla_local);

            /// The task that calls the function with these arguments: each a
            /// value or the future of an earlier task.
            pub fn call<#lifetime>(
                #(#idents: impl ::core::convert::Into<#krate::Arg<#lifetime, #types>>),*
            ) -> #krate::Call<#output> {
                #krate::Call::new(::core::module_path!())
                    #(.arg(#idents.into()))*
            }

            fn __flotilla_local(args: (#(#types,)*)) -> #output {
                super::#name(#(args.#indices),*)
            }

            fn __flotilla_call(args: &[&[u8]]) -> ::core::result::Result<::std::vec::Vec<u8>, ::std::string::String> {
                let function = ::core::module_path!();
                #krate::__private::check_arity(args, #n, function)?;
                #(let #decoded: #types = #krate::__private::decode_arg(args[#positions], #positions, function)?;)*
                let result = super::#name(#(#decoded),*);
                #krate::__private::encode_result(&result, function)
            }

            #krate::__private::inventory::submit! {
                #krate::RemoteFunction::new(::core::module_path!(), __flotilla_call)
            }

            #batch
        }
    })
}
