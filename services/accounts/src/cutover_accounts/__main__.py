from pathlib import Path

from cutover_accounts.bootstrap import create_app
from cutover_kit.cli import main as run_service


def main() -> None:
    run_service("accounts", create_app, Path(__file__).parent / "migrations")


if __name__ == "__main__":
    main()
