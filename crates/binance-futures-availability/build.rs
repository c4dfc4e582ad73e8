//! Intentionally empty: this build script exists for its `[build-dependencies]` (Cargo.toml),
//! which keep DuckDB's build-script inputs the same in every build of the workspace.
fn main() {}
