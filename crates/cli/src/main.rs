//! `layerscope`: the command-line side of layerscope. Each subcommand lives in its own module;
//! this file only parses arguments and dispatches.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod inspect;
mod pull;
mod serve;

/// Inspect container images: serve the browser app, or analyse images in a terminal.
#[derive(Debug, Parser)]
#[command(name = "layerscope", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the built page (dist/) on loopback.
    Serve(serve::ServeArgs),
    /// Analyse an image archive or OCI layout directory (history, layers, efficiency, CI rules).
    Inspect(inspect::InspectArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        // inspect has its own exit codes (1: CI rule failed, 2: unreadable input).
        Command::Inspect(args) => return inspect::run(&args),
        Command::Serve(args) => serve::run(&args).map_err(|error| error.to_string()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("layerscope: {message}");
            ExitCode::FAILURE
        }
    }
}
