fn main() -> std::process::ExitCode {
    anjia::cli::main()
}
