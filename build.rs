//! With the `napi` feature, lets napi-build set the linker flags a Node addon
//! needs on each platform; the plain library needs nothing.
fn main() {
    #[cfg(feature = "napi")]
    napi_build::setup();
}
