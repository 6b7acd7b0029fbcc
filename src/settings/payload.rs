//! `--decode`/`--encode` resolved: a `payload::Format` becomes a `payload::Codec`,
//! which for `proto:FILE.proto:package.Message` means compiling the .proto here, at
//! start-up, with protox (no protoc needed). Imports are looked for next to the file,
//! then in each `--proto-path` directory, then among protobuf's well-known types. A
//! file that does not compile, or a message it does not define, is an error naming
//! the file (with line and column when there is one).

use std::path::{Path, PathBuf};

use prost_reflect::MessageDescriptor;

use crate::exit::Error;
use crate::payload::{Codec, Format};

/// The codec a FORMAT names, its schema loaded.
pub fn codec(format: &Format, proto_paths: &[PathBuf]) -> Result<Codec, Error> {
    Ok(match format {
        Format::Sparkplug => Codec::Sparkplug,
        Format::Cbor => Codec::Cbor,
        Format::Msgpack => Codec::Msgpack,
        Format::Json => Codec::Json,
        Format::Auto => Codec::Auto,
        Format::Proto { file, message } => {
            Codec::Proto(message_descriptor(file, message, proto_paths)?)
        }
    })
}

/// Compiles `file` and finds `message` (full name, with its package) in it.
pub fn message_descriptor(
    file: &Path,
    message: &str,
    proto_paths: &[PathBuf],
) -> Result<MessageDescriptor, Error> {
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut includes = vec![dir];
    includes.extend(proto_paths.iter().cloned());
    let shown = file.display().to_string();
    let mut compiler = protox::Compiler::new(&includes).map_err(|e| compile_error(&e, file))?;
    compiler.include_imports(true);
    compiler
        .open_file(file)
        .map_err(|e| compile_error(&e, file))?;
    let pool = compiler.descriptor_pool();
    if let Some(m) = pool.get_message_by_name(message) {
        return Ok(m);
    }
    let name = file_name(file);
    let defined: Vec<String> = pool
        .all_messages()
        .filter(|m| m.parent_file().name() == name && m.parent_message().is_none())
        .map(|m| m.full_name().to_string())
        .collect();
    let hint = if defined.is_empty() {
        "it defines no message".to_string()
    } else {
        format!("it defines {}", defined.join(", "))
    };
    Err(Error::Failed(format!(
        "{shown} does not define message '{message}' ({hint})."
    )))
}

/// The name protox gives `file` (relative to its directory, the first include).
fn file_name(file: &Path) -> String {
    file.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// protox's error as `FILE:LINE:COLUMN: what`, with the file named as the user
/// named it when the error is in that file (protox names it relative to its
/// directory; imported files keep their import path).
fn compile_error(e: &protox::Error, file: &Path) -> Error {
    let text = format!("{e:?}");
    let name = file_name(file);
    let text = match text.strip_prefix(&format!("{name}:")) {
        Some(rest) if e.file() == Some(name.as_str()) => format!("{}:{rest}", file.display()),
        _ => text,
    };
    Error::Failed(format!("cannot use {}: {text}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixtures() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/proto")
    }

    #[test]
    fn imports_from_the_files_directory_and_proto_paths() {
        let file = fixtures().join("sensor.proto");
        let m = message_descriptor(&file, "demo.Reading", &[fixtures().join("include")]).unwrap();
        assert_eq!(m.fields().count(), 10);
        // Without --proto-path, units.proto is not found: where it was imported.
        let e = message_descriptor(&file, "demo.Reading", &[])
            .unwrap_err()
            .message();
        assert!(
            e.contains("sensor.proto:10:1: import 'units.proto' not found"),
            "{e}"
        );
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let file = fixtures().join("broken.proto");
        let e = message_descriptor(&file, "Broken", &[])
            .unwrap_err()
            .message();
        assert_eq!(
            e,
            format!(
                "Error: cannot use {f}: {f}:5:3: expected ';' or '[', but found 'int32'\n",
                f = file.display()
            )
        );
        let file = fixtures().join("sensor.proto");
        let e = message_descriptor(&file, "demo.Nope", &[fixtures().join("include")])
            .unwrap_err()
            .message();
        assert_eq!(
            e,
            format!(
                "Error: {} does not define message 'demo.Nope' (it defines demo.Reading).\n",
                file.display()
            )
        );
        let e = message_descriptor(Path::new("/nonexistent/x.proto"), "X", &[])
            .unwrap_err()
            .message();
        assert!(
            e.starts_with("Error: cannot use /nonexistent/x.proto: "),
            "{e}"
        );
    }
}
