//! Decoding a request's `method` and `params` into a [`Request`] with serde's derived (adjacently tagged)
//! `Deserialize`, through a deserializer whose error type is [`RequestProblem`]: serde's own errors (an
//! unknown method, a missing or unknown parameter) arrive as variants, and a parameter's value error is given
//! the parameter's name here, where it is known. The messages are the ones the sandbox raises.

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess};
use serde_json::{Map, Value};

use super::request::{Method, Request};

/// Why a request was refused before any handler saw it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem}")]
pub struct RequestError {
    /// The method, when it is one of the protocol's (then the parameters were wrong).
    pub method: Option<Method>,
    /// What was wrong.
    pub problem: RequestProblem,
}

/// What was wrong with a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestProblem {
    /// The method is not one of the protocol's (its name, shortened).
    #[error("Unknown RPC method {0:?}; the methods are {methods}", methods = Method::list())]
    UnknownMethod(String),
    /// `params` was neither an object nor null.
    #[error("rpc params must be an object")]
    NotAnObject,
    /// A parameter the method needs was not given.
    #[error("missing parameter '{0}'")]
    Missing(&'static str),
    /// A parameter the method does not take (its name, shortened).
    #[error("unknown parameter {param:?} ({})", takes(expected))]
    Unknown {
        /// The parameter's name.
        param: String,
        /// The method's parameters.
        expected: &'static [&'static str],
    },
    /// A parameter's value is not what the method takes.
    #[error("'{param}' {reason}")]
    Invalid {
        /// The parameter's name.
        param: String,
        /// What it must be, e.g. "must be a string".
        reason: String,
    },
    /// Anything else serde reports.
    #[error("{0}")]
    Other(String),
}

fn takes(expected: &[&str]) -> String {
    if expected.is_empty() {
        "this method takes none".to_string()
    } else {
        format!("the parameters are {}", expected.join(", "))
    }
}

impl de::Error for RequestProblem {
    fn custom<T: std::fmt::Display>(message: T) -> Self {
        RequestProblem::Other(message.to_string())
    }

    fn unknown_variant(variant: &str, _expected: &'static [&'static str]) -> Self {
        RequestProblem::UnknownMethod(super::echo(variant))
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        RequestProblem::Unknown {
            param: super::echo(field),
            expected,
        }
    }

    fn missing_field(field: &'static str) -> Self {
        RequestProblem::Missing(field)
    }
}

/// Decodes `method` (a known method's name) with `params` into its request. The derived `Deserialize` reads
/// the request as the map `{"method": …, "params": {…}}`.
pub(super) fn deserialize(
    method: &'static str,
    params: Map<String, Value>,
) -> Result<Request, RequestProblem> {
    Request::deserialize(MapAccessDeserializer::new(CallAccess {
        method: Some(method),
        params: Some(params),
    }))
}

/// Yields `method`, then `params`.
struct CallAccess {
    method: Option<&'static str>,
    params: Option<Map<String, Value>>,
}

impl<'de> MapAccess<'de> for CallAccess {
    type Error = RequestProblem;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, RequestProblem> {
        let key = match (self.method, &self.params) {
            (Some(_), _) => "method",
            (None, Some(_)) => "params",
            (None, None) => return Ok(None),
        };
        seed.deserialize(key.into_deserializer()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, RequestProblem> {
        if let Some(method) = self.method.take() {
            return seed.deserialize(method.into_deserializer());
        }
        let params = self.params.take().ok_or_else(|| {
            RequestProblem::Other("a request has only a method and params".into())
        })?;
        seed.deserialize(MapAccessDeserializer::new(ParamsAccess {
            entries: params.into_iter(),
            value: None,
        }))
    }
}

/// A request's parameters, each value's error given the parameter's name.
struct ParamsAccess {
    entries: serde_json::map::IntoIter,
    /// The entry whose key was just read: (name, value).
    value: Option<(String, Value)>,
}

impl<'de> MapAccess<'de> for ParamsAccess {
    type Error = RequestProblem;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, RequestProblem> {
        let Some((name, value)) = self.entries.next() else {
            return Ok(None);
        };
        let key = seed.deserialize(name.as_str().into_deserializer())?;
        self.value = Some((name, value));
        Ok(Some(key))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, RequestProblem> {
        let (name, value) = self
            .value
            .take()
            .ok_or_else(|| RequestProblem::Other("a parameter value without its name".into()))?;
        seed.deserialize(value)
            .map_err(|error| RequestProblem::Invalid {
                param: super::echo(&name),
                reason: error.to_string(),
            })
    }
}
