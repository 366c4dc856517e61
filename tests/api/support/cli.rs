//! The `anjia` command, run as a separate process.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use super::config_dir;

/// Runs `anjia` with `args`, the test configuration, `env` and `stdin`.
pub fn anjia(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_anjia"));
    cmd.args(args)
        .env("ANJIA_ENV", "test")
        .env("ANJIA_CONFIG_DIR", config_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

/// What the command printed, both streams.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
