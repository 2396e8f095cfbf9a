//! The register macros: one per kind, each exporting a type as that kind's component. Each keeps the configured
//! value in a `static` [`crate::Instance`] and forwards every export to it; on other targets than wasm32 they only
//! check that the type implements the kind's trait, so a plugin crate builds and tests natively.

/// Exports `$ty` (a [`crate::Policy`]) as the component's `policy-plugin` world. Needs the SDK's `policy`
/// feature.
///
/// `register_policy!(MyPolicy)` takes the plugin's name from the package name in `Cargo.toml`;
/// `register_policy!(MyPolicy, name = "my-policy")` sets it. The version and the description are the package's.
#[macro_export]
macro_rules! register_policy {
    ($ty:ty) => {
        $crate::register_policy!($ty, name = ::core::env!("CARGO_PKG_NAME"));
    };
    ($ty:ty, name = $name:expr) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::__private::policy as __bindings;
            static INSTANCE: $crate::Instance<$ty> = $crate::Instance::new($crate::Kind::Policy, $name);
            struct Component;
            impl __bindings::PluginGuest for Component {
                fn metadata() -> __bindings::Info {
                    __bindings::metadata(
                        $name,
                        ::core::env!("CARGO_PKG_VERSION"),
                        ::core::env!("CARGO_PKG_DESCRIPTION"),
                    )
                }
                fn configure(config: ::std::string::String) -> ::core::result::Result<(), ::std::string::String> {
                    __bindings::configure(&INSTANCE, config)
                }
            }
            impl __bindings::PolicyGuest for Component {
                fn check_run(
                    run: __bindings::exports::mcp_bridge::plugin::policy::RunRequest,
                ) -> __bindings::exports::mcp_bridge::plugin::policy::Decision {
                    __bindings::check_run(&INSTANCE, run)
                }
                fn check_call(
                    call: __bindings::exports::mcp_bridge::plugin::policy::CallRequest,
                ) -> __bindings::exports::mcp_bridge::plugin::policy::Decision {
                    __bindings::check_call(&INSTANCE, call)
                }
                fn check_result(
                    result: __bindings::exports::mcp_bridge::plugin::policy::CallResult,
                ) -> __bindings::exports::mcp_bridge::plugin::policy::ResultDecision {
                    __bindings::check_result(&INSTANCE, result)
                }
            }
            $crate::__private::policy::export_policy!(Component with_types_in $crate::__private::policy);
        };
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn() = || {
            fn is_a_policy<T: $crate::Policy>() {}
            is_a_policy::<$ty>();
            let _: &str = $name;
        };
    };
}

/// Exports `$ty` (an [`crate::Encoder`]) as the component's `encoder-plugin` world. Needs the SDK's `encoder`
/// feature. The name works as for [`register_policy!`].
#[macro_export]
macro_rules! register_encoder {
    ($ty:ty) => {
        $crate::register_encoder!($ty, name = ::core::env!("CARGO_PKG_NAME"));
    };
    ($ty:ty, name = $name:expr) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::__private::encoder as __bindings;
            static INSTANCE: $crate::Instance<$ty> = $crate::Instance::new($crate::Kind::Encoder, $name);
            struct Component;
            impl __bindings::PluginGuest for Component {
                fn metadata() -> __bindings::Info {
                    __bindings::metadata(
                        $name,
                        ::core::env!("CARGO_PKG_VERSION"),
                        ::core::env!("CARGO_PKG_DESCRIPTION"),
                    )
                }
                fn configure(config: ::std::string::String) -> ::core::result::Result<(), ::std::string::String> {
                    __bindings::configure(&INSTANCE, config)
                }
            }
            impl __bindings::EncoderGuest for Component {
                fn encode(
                    payload: __bindings::exports::mcp_bridge::plugin::encoder::Payload,
                ) -> ::core::result::Result<
                    __bindings::exports::mcp_bridge::plugin::encoder::Encoded,
                    ::std::string::String,
                > {
                    __bindings::encode(&INSTANCE, payload)
                }
            }
            $crate::__private::encoder::export_encoder!(Component with_types_in $crate::__private::encoder);
        };
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn() = || {
            fn is_an_encoder<T: $crate::Encoder>() {}
            is_an_encoder::<$ty>();
            let _: &str = $name;
        };
    };
}

/// Exports `$ty` (a [`crate::Discovery`]) as the component's `discovery-plugin` world. Needs the SDK's
/// `discovery` feature. The name works as for [`register_policy!`].
#[macro_export]
macro_rules! register_discovery {
    ($ty:ty) => {
        $crate::register_discovery!($ty, name = ::core::env!("CARGO_PKG_NAME"));
    };
    ($ty:ty, name = $name:expr) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::__private::discovery as __bindings;
            static INSTANCE: $crate::Instance<$ty> =
                $crate::Instance::new($crate::Kind::Discovery, $name);
            struct Component;
            impl __bindings::PluginGuest for Component {
                fn metadata() -> __bindings::Info {
                    __bindings::metadata(
                        $name,
                        ::core::env!("CARGO_PKG_VERSION"),
                        ::core::env!("CARGO_PKG_DESCRIPTION"),
                    )
                }
                fn configure(config: ::std::string::String) -> ::core::result::Result<(), ::std::string::String> {
                    __bindings::configure(&INSTANCE, config)
                }
            }
            impl __bindings::DiscoveryGuest for Component {
                fn wanted_files() -> ::std::vec::Vec<__bindings::exports::mcp_bridge::plugin::discovery::FilePattern> {
                    __bindings::wanted_files(&INSTANCE)
                }
                fn parse(
                    file: __bindings::exports::mcp_bridge::plugin::discovery::SourceFile,
                ) -> ::core::result::Result<
                    ::std::vec::Vec<__bindings::exports::mcp_bridge::plugin::discovery::ServerEntry>,
                    ::std::string::String,
                > {
                    __bindings::parse(&INSTANCE, file)
                }
            }
            $crate::__private::discovery::export_discovery!(Component with_types_in $crate::__private::discovery);
        };
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn() = || {
            fn is_a_discovery_source<T: $crate::Discovery>() {}
            is_a_discovery_source::<$ty>();
            let _: &str = $name;
        };
    };
}
