//! `ublk`: the ublksrv-compatible front end (`add -t cxgb3i ...` runs `ublk.cxgb3i`).

fn main() -> std::process::ExitCode {
    ublk_target::frontend::main()
}
