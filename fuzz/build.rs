//! With the feature `libtpms-oracle` (the `libtpms_oracle` example), link libtpms. Debian's
//! runtime package ships only `libtpms.so.0` (no headers, no `libtpms.so`): a `libtpms.so`
//! symlink to it goes into OUT_DIR, which is added to the search path. `LIBTPMS_SO` names
//! another library file. Without the feature this does nothing, so the fuzz targets build on
//! machines without libtpms.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=LIBTPMS_SO");
    if std::env::var_os("CARGO_FEATURE_LIBTPMS_ORACLE").is_none() {
        return;
    }
    let lib = std::env::var("LIBTPMS_SO")
        .unwrap_or_else(|_| "/usr/lib/x86_64-linux-gnu/libtpms.so.0".to_string());
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let link = out.join("libtpms.so");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&lib, &link)
        .unwrap_or_else(|e| panic!("symlink {} -> {lib}: {e}", link.display()));
    println!("cargo::rustc-link-search=native={}", out.display());
}
