"""docker-compose.yml and the Dockerfile describe the documented production stack.

No Docker engine is needed: the compose CLI (`docker compose` or the older `docker-compose`)
validates the file when installed, and the structure is checked from the YAML in any case.
"""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
APP_SERVICES = ("migrate", "web", "worker", "beat")
APP_ENV = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS", "PLATFORM_DOMAIN")


def compose_cli() -> list[str] | None:
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def load_compose() -> dict:
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load(COMPOSE_FILE.read_text())


def command_line(service: dict) -> str:
    command = service.get("command", "")
    return command if isinstance(command, str) else " ".join(command)


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return env


def module_exists(dotted: str) -> bool:
    path = REPO_ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def referenced_modules(command: str) -> set[str]:
    """Python modules a service command needs: WSGI targets, `celery -A` apps, `python -m` modules."""
    modules = {target.split(":")[0] for target in re.findall(r"\b([A-Za-z_][\w.]*):[A-Za-z_]\w*\b", command)}
    # `celery -A pkg` loads pkg.celery (or pkg itself when it defines the app).
    modules |= {f"{app}.celery" for app in re.findall(r"celery\s+-A\s+([\w.]+)", command)}
    modules |= set(re.findall(r"python\S*\s+-m\s+([\w.]+)", command))
    return modules


def test_compose_cli_accepts_the_file():
    cli = compose_cli()
    if cli is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    result = subprocess.run(
        [*cli, "-f", str(COMPOSE_FILE), "config", "-q"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_compose_runs_the_documented_services():
    services = load_compose()["services"]

    assert set(services) >= {"postgres", "redis", *APP_SERVICES}
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    for name in ("postgres", "redis", "web"):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    assert "/healthz" in str(services["web"]["healthcheck"]["test"])

    migrate = command_line(services["migrate"])
    steps = ["migrate_schemas --shared", "prepare_tenant_template", "migrate_schemas --tenant"]
    positions = [migrate.find(step) for step in steps]
    assert -1 not in positions and positions == sorted(positions), migrate
    assert services["migrate"].get("restart", "no") == "no"

    for name in ("web", "worker", "beat"):
        depends_on = services[name].get("depends_on")
        assert isinstance(depends_on, dict), f"{name}: depends_on needs conditions"
        assert depends_on.get("migrate", {}).get("condition") == "service_completed_successfully", name

    assert "superapp.wsgi:application" in command_line(services["web"])
    worker_args = shlex.split(command_line(services["worker"]))
    assert worker_args[:4] == ["celery", "-A", "superapp", "worker"]
    assert worker_args[worker_args.index("-Q") + 1] == "disaster,default"
    assert shlex.split(command_line(services["beat"]))[:4] == ["celery", "-A", "superapp", "beat"]


def test_app_services_get_configuration_and_existing_code():
    services = load_compose()["services"]

    for name in APP_SERVICES:
        service = services[name]
        assert "build" in service or "image" in service, name
        env = environment(service)
        missing = [var for var in APP_ENV if not env.get(var)]
        assert not missing, f"{name} lacks {missing}"
        command = command_line(service)
        assert command, f"{name} has no command"
        for module in referenced_modules(command):
            assert module_exists(module), f"{name} runs {module}, which is not in the repository"
        if "manage.py" in command:
            assert (REPO_ROOT / "manage.py").is_file()

    assert environment(services["web"])["DATABASE_URL"].startswith("postgres://")
    assert "@postgres:5432/" in environment(services["web"])["DATABASE_URL"]
    assert environment(services["worker"])["REDIS_URL"].startswith("redis://redis:6379")


def test_dockerfile_builds_a_non_root_image_with_static_files():
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    instructions = [line.strip() for line in dockerfile.splitlines() if line.strip() and not line.startswith("#")]

    assert instructions[-1].startswith("CMD") and "superapp.wsgi:application" in instructions[-1]
    final_stage = dockerfile[dockerfile.rindex("FROM "):]
    assert final_stage.startswith("FROM python:3.11-slim")
    assert "pip install" in final_stage and "collectstatic --noinput" in final_stage
    users = re.findall(r"^USER\s+(\S+)", final_stage, flags=re.MULTILINE)
    assert users and users[-1] not in {"root", "0"}
