//! `mqtk generate DIR` (hidden): writes the man pages and completions that `crate::doc`
//! renders into DIR/man and DIR/completions. Files are replaced only when their bytes
//! change, so a regeneration leaves untouched files' timestamps alone.

use std::path::Path;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::exit::{self, Error};

pub fn run(dir: &Path) -> Result<u8, Error> {
    for file in crate::doc::render_all(Cli::command()) {
        let path = dir.join(&file.path);
        if std::fs::read(&path).ok().as_deref() == Some(&file.contents[..]) {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
        }
        std::fs::write(&path, &file.contents)
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    }
    Ok(exit::OK)
}
