//! The register macros: one per kind, each exporting a type as that kind's component. Each keeps the configured
//! value in a `static` [`crate::Instance`] and forwards every export to it; on other targets than wasm32 they only
//! check that the type implements the kind's trait, so a plugin crate builds and tests natively.

/// Exports `$ty` (a [`crate::Policy`]) as the component's `policy-plugin` world.
///
/// `register_policy!(MyPolicy)` takes the plugin's name from the package name in `Cargo.toml`;
/// `register_policy!(MyPolicy, name = "my-policy")` sets it. The version and the description are the package's.
#[macro_export]
macro_rules! register_policy {
    ($ty:ty) => {
        $crate::register_policy!($ty, name = ::core::env!("CARGO_PKG_NAME"));
    };
    ($ty:ty, name = $name:expr) => {
        $crate::__register!(policy, Policy, $ty, $name, {
            impl __bindings::PolicyGuest for Component {
                fn check_run(run: __types::RunRequest) -> __types::Decision {
                    __bindings::check_run(&INSTANCE, run)
                }
                fn check_call(call: __types::CallRequest) -> __types::Decision {
                    __bindings::check_call(&INSTANCE, call)
                }
                fn check_result(result: __types::CallResult) -> __types::ResultDecision {
                    __bindings::check_result(&INSTANCE, result)
                }
            }
        });
    };
}

/// Exports `$ty` (an [`crate::Encoder`]) as the component's `encoder-plugin` world. The name works as for
/// [`register_policy!`].
#[macro_export]
macro_rules! register_encoder {
    ($ty:ty) => {
        $crate::register_encoder!($ty, name = ::core::env!("CARGO_PKG_NAME"));
    };
    ($ty:ty, name = $name:expr) => {
        $crate::__register!(encoder, Encoder, $ty, $name, {
            impl __bindings::EncoderGuest for Component {
                fn encode(
                    payload: __types::Payload,
                ) -> ::core::result::Result<__types::Encoded, ::std::string::String> {
                    __bindings::encode(&INSTANCE, payload)
                }
            }
        });
    };
}

/// Exports `$ty` (a [`crate::Discovery`]) as the component's `discovery-plugin` world. The name works as for
/// [`register_policy!`].
#[macro_export]
macro_rules! register_discovery {
    ($ty:ty) => {
        $crate::register_discovery!($ty, name = ::core::env!("CARGO_PKG_NAME"));
    };
    ($ty:ty, name = $name:expr) => {
        $crate::__register!(discovery, Discovery, $ty, $name, {
            impl __bindings::DiscoveryGuest for Component {
                fn wanted_files() -> ::std::vec::Vec<__types::FilePattern> {
                    __bindings::wanted_files(&INSTANCE)
                }
                fn parse(
                    file: __types::SourceFile,
                ) -> ::core::result::Result<
                    ::std::vec::Vec<__types::ServerEntry>,
                    ::std::string::String,
                > {
                    __bindings::parse(&INSTANCE, file)
                }
            }
        });
    };
}

/// What the three register macros share: the static instance, the `plugin` interface (`metadata` from
/// `Cargo.toml`, `configure`) and the export, around the kind's own interface (`$kind_impl`, which sees
/// `Component`, `INSTANCE`, `__bindings` and `__types`). Natively: only the trait check.
#[doc(hidden)]
#[macro_export]
macro_rules! __register {
    ($world:ident, $kind:ident, $ty:ty, $name:expr, { $($kind_impl:tt)* }) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::__private::$world as __bindings;
            use $crate::__private::$world::exports::mcp_bridge::plugin::$world as __types;
            static INSTANCE: $crate::Instance<$ty> = $crate::Instance::new($crate::Kind::$kind, $name);
            struct Component;
            impl __bindings::PluginGuest for Component {
                fn metadata() -> __bindings::Info {
                    __bindings::metadata(
                        $name,
                        ::core::env!("CARGO_PKG_VERSION"),
                        ::core::env!("CARGO_PKG_DESCRIPTION"),
                    )
                }
                fn configure(
                    config: ::std::string::String,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    __bindings::configure(&INSTANCE, config)
                }
            }
            $($kind_impl)*
            $crate::__private::$world::export!(Component with_types_in $crate::__private::$world);
        };
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn() = || {
            fn implements<T: $crate::$kind>() {}
            implements::<$ty>();
            let _: &str = $name;
        };
    };
}
