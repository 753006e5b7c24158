//! `conveyor`: parse the command line, set up logging, run the command, report its error.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = conveyor::Cli::parse();
    conveyor::init_logging(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(conveyor::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
