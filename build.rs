//! With the `napi` feature, lets napi-build set the linker flags a Node addon
//! needs on each platform; the plain library needs nothing.
fn main() {
    // Without this a build script is rerun, and the crate rebuilt, whenever any
    // file of the package changes (a JS test, a file a test writes).
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "napi")]
    napi_build::setup();
}
