"""The four services as real processes, for end-to-end and fault tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from cryptography.fernet import Fernet

from tests.support.infra import TEST_SLOT, TEST_STATE, Infra
from tests.support.tokens import ISSUER, TestIssuer

TEST_TOKEN = "test-token-operator"
TEST_PORTS = {
    name: port + 100 * TEST_SLOT
    for name, port in {
        "accounts": 18001,
        "billing": 18002,
        "addresses": 18003,
        "scheduler": 18004,
    }.items()
}
LOG_DIR = TEST_STATE / "log"


@dataclass
class ServiceProcess:
    name: str
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{TEST_PORTS[self.name]}"

    @property
    def log_path(self) -> Path:
        return LOG_DIR / f"{self.name}.log"

    def start(self) -> None:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", f"cutover_{self.name}", "serve"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout: float = 180.0) -> None:
        # Generous: on a machine shared with other suites a service has taken over a minute to
        # import and start.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, (
                f"{self.name} exited; see {self.log_path}"
            )
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready after {timeout} s; see {self.log_path}")

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, exactly like a crash."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


class System:
    """The four services, each verifying JWTs from the session's own issuer (`self.issuer`) and
    calling the others with its own identity token; the break-glass `TEST_TOKEN` is accepted too,
    for the tests that do not care who acts."""

    def __init__(self, infra: Infra) -> None:
        self.issuer = TestIssuer(TEST_STATE / "auth")
        env = {
            **os.environ,
            **infra.service_env(),
            "CUTOVER_API_TOKEN": TEST_TOKEN,
            # The suite drives the APIs as fast as it can with the break-glass token (fuzzing,
            # concurrency, crashes): its own limit, like a load generator's.
            "CUTOVER_RATE_LIMITS": "operator=1000000",
            "CUTOVER_JWKS_FILE": str(self.issuer.jwks_file),
            "CUTOVER_TOKEN_ISSUER": ISSUER,
            "CUTOVER_RELAY_POLL_SECONDS": "0.5",
            **{
                f"{name.upper()}_URL": f"http://127.0.0.1:{port}"
                for name, port in TEST_PORTS.items()
            },
            **{f"{name.upper()}_PORT": str(port) for name, port in TEST_PORTS.items()},
        }
        self.infra = infra
        for old_log in LOG_DIR.glob("*.log"):
            if old_log.stem in TEST_PORTS:
                old_log.unlink()
        # Each service connects to Kafka as its own principal, like in `make up`, and calls the
        # others with its own identity token.
        self.services = {
            name: ServiceProcess(
                name,
                {
                    **env,
                    **infra.kafka_env(name),
                    "CUTOVER_SERVICE_TOKEN_FILE": str(self.issuer.service_token_file(name)),
                },
            )
            for name in TEST_PORTS
        }

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.services[name]

    def start(self) -> None:
        for service in self.services.values():
            service.start()
        for service in self.services.values():
            service.wait_ready()

    def stop(self) -> None:
        for service in self.services.values():
            service.stop()

    def client(self, name: str, token: str = TEST_TOKEN) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.services[name].url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=10.0,
        )


CONSOLE_PORT = 18080 + 100 * TEST_SLOT


class ConsoleProcess(ServiceProcess):
    """The operator console as `make up` runs it: the four APIs' URLs and a cookie key, and no
    token of its own (CUTOVER_API_TOKEN is taken out of its environment)."""

    def __init__(self, system: System) -> None:
        env = {
            name: value
            for name, value in system.services["accounts"].env.items()
            if name != "CUTOVER_API_TOKEN" and not name.startswith("KAFKA_")
        }
        env["CONSOLE_PORT"] = str(CONSOLE_PORT)
        env["CONSOLE_SECRET_KEY"] = Fernet.generate_key().decode()
        super().__init__("console", env)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{CONSOLE_PORT}"
