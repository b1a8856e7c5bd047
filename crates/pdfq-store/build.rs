//! `sqlx::migrate!` embeds the migrations when this crate compiles, but cargo does not know it
//! read them: a migration added since the last build would be missing from the binaries (a
//! release build ran without one). Rebuild when either directory changes.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations/postgres");
    println!("cargo:rerun-if-changed=../../migrations/sqlite");
}
