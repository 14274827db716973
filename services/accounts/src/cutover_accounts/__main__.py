from pathlib import Path

from cutover_kit.cli import main as run_service

from cutover_accounts.bootstrap import create_app


def main() -> None:
    run_service("accounts", create_app, Path(__file__).parent / "migrations")


if __name__ == "__main__":
    main()
