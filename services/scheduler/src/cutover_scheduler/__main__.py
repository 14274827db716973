from pathlib import Path

from cutover_kit.cli import main as run_service
from cutover_scheduler.bootstrap import create_app


def main() -> None:
    run_service("scheduler", create_app, Path(__file__).parent / "migrations")


if __name__ == "__main__":
    main()
