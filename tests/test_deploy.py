"""The Docker deployment names only things crisiscast really has (no Docker engine runs here).

docker/compose.yaml, docker/crisiscast.env.example, docker/crisiscast.toml and
docker/Dockerfile are checked against the code: every ``CRISISCAST_*`` variable is a secret
crisiscast reads (a ``Secrets`` field) or a documented variable the code reads; every
command a service runs parses with the real CLI; the configuration validates; the image's
entry point is the console script and it runs as a non-root user; services and files that
are referenced exist.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer
import yaml
from typer.core import TyperGroup

from crisiscast.channels.registry import spec_for
from crisiscast.cli import app
from crisiscast.config import Secrets, channel_secret_names, load_settings

SECRET_NAMES = (*Secrets.model_fields, *channel_secret_names())

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
DOCUMENTED = ("CRISISCAST_CONFIG", "CRISISCAST_SECRETS_FILE", "CRISISCAST_FAILPOINTS")
_VAR = re.compile(r"\bCRISISCAST_[A-Z0-9_]+\b")


def _compose() -> dict[str, Any]:
    data = yaml.safe_load((DOCKER / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _crisiscast_services() -> dict[str, dict[str, Any]]:
    """The services built from the crisiscast Dockerfile."""
    services = _compose()["services"]
    return {name: s for name, s in services.items() if "build" in s}


def _known_variables() -> set[str]:
    return {f"CRISISCAST_{name.upper()}" for name in SECRET_NAMES} | set(DOCUMENTED)


def test_documented_variables_are_read_by_the_code() -> None:
    """CRISISCAST_CONFIG, _SECRETS_FILE and _FAILPOINTS each appear in the package source."""
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "src" / "crisiscast").rglob("*.py"))
    for name in DOCUMENTED:
        assert f'"{name}"' in source, f"{name} is documented but nothing reads it"


@pytest.mark.parametrize("path", ["compose.yaml", "crisiscast.env.example", "Dockerfile"])
def test_every_crisiscast_variable_is_one_crisiscast_reads(path: str) -> None:
    """A misspelt secret name in the deployment would be silently ignored: there is none."""
    text = (DOCKER / path).read_text(encoding="utf-8")
    unknown = set(_VAR.findall(text)) - _known_variables()
    assert not unknown, f"docker/{path} names variables crisiscast does not read: {sorted(unknown)}"


def test_env_example_lists_only_secrets_and_every_service_uses_the_env_file() -> None:
    """The env example holds secrets (never settings for the TOML); each crisiscast service loads it."""
    lines = (DOCKER / "crisiscast.env.example").read_text(encoding="utf-8").splitlines()
    names = [line.split("=", 1)[0] for line in lines if line.strip() and not line.startswith("#")]
    secrets = {f"CRISISCAST_{n.upper()}" for n in SECRET_NAMES}
    assert names and set(names) <= secrets
    assert "CRISISCAST_DB_PASSWORD" in names  # the workers' login to PostgreSQL
    for name, service in _crisiscast_services().items():
        assert service.get("env_file") == ["crisiscast.env"], name
        for key in service.get("environment") or {}:
            assert key in _known_variables(), f"{name} sets {key}, which crisiscast does not read"


def _parses(args: list[str]) -> Any:
    """Resolve ``args`` through the real CLI (groups and subcommands), as it would run them."""
    command: Any = typer.main.get_command(app)
    ctx = command.make_context("crisiscast", list(args), resilient_parsing=False)
    while isinstance(command, TyperGroup):
        protected = getattr(ctx, "_protected_args", None) or getattr(ctx, "protected_args", [])
        rest = [*protected, *ctx.args]
        name, sub, remaining = command.resolve_command(ctx, rest)
        assert sub is not None, f"crisiscast has no command {name!r}"
        ctx = sub.make_context(str(name), remaining, parent=ctx)
        command = sub
    return ctx


def test_every_service_command_exists_in_the_cli() -> None:
    """serve --worker-id NAME and db migrate --app-role (and the image's default CMD) are real
    commands; the migrate service creates the least-privilege role the workers run as."""
    commands = {name: s["command"] for name, s in _crisiscast_services().items()}
    assert commands["migrate"][:3] == ["db", "migrate", "--app-role"]
    app_role = commands["migrate"][3]
    docker_config = load_settings(ROOT / "docker" / "crisiscast.toml")
    assert docker_config.store.url.startswith(f"postgresql://{app_role}@")
    assert docker_config.store.password_secret == "db_app_password" and docker_config.store.owner_url
    workers = [c for c in commands.values() if c[0] == "serve"]
    assert len(workers) >= 2
    ids = set()
    for command in commands.values():
        ctx = _parses(command)
        if command[0] == "serve":
            ids.add(ctx.params["worker_id"])
    assert len(ids) == len(workers) and None not in ids  # every worker has its own id
    with pytest.raises(Exception) as refused:  # the CLI library's own UsageError
        _parses(["serve", "--no-such-option"])
    assert "UsageError" in {c.__name__ for c in type(refused.value).__mro__}


def test_dockerfile_runs_the_console_script_as_a_non_root_user() -> None:
    """ENTRYPOINT is the ``crisiscast`` console script; USER is set, not root, before it."""
    text = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts["crisiscast"] == "crisiscast.cli:main"
    entry = re.search(r"^ENTRYPOINT\s+\[\"([^\"]+)\"\]", text, re.MULTILINE)
    assert entry is not None and entry.group(1) == "crisiscast"
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users and users[-1] not in ("root", "0", "0:0")
    assert text.index("USER") < text.index("ENTRYPOINT")
    cmd = re.search(r"^CMD\s+(\[.*\])", text, re.MULTILINE)
    assert cmd is not None
    _parses(yaml.safe_load(cmd.group(1)))
    for source in re.findall(r"^COPY\s+(?:--\S+\s+)*(.+?)\s+\S+$", text, re.MULTILINE):
        for item in source.split():
            assert (ROOT / item).exists(), f"the Dockerfile copies {item}, which is not in the repository"


def test_docker_configuration_validates_and_points_at_the_compose_services() -> None:
    """docker/crisiscast.toml is a valid configuration whose store, broker and files match compose."""
    text = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    config_path = re.search(r"CRISISCAST_CONFIG=(\S+)", text)
    assert config_path is not None
    settings = load_settings(DOCKER / "crisiscast.toml")
    services = _compose()["services"]
    store = urlsplit(settings.store.url)
    assert store.scheme == "postgresql" and store.hostname in services
    assert store.password is None  # the password comes from CRISISCAST_DB_PASSWORD, never the file
    assert urlsplit(spec_for("mqtt").config(settings).url).hostname in services
    mounts = [v for s in _crisiscast_services().values() for v in s.get("volumes") or []]
    assert any(m.split(":")[1] == spec_for("sms").config(settings).contacts for m in mounts)
    assert settings.server.host == "0.0.0.0"  # inside the container
    copied = re.search(r"^COPY\s+docker/crisiscast.toml\s+(\S+)$", text, re.MULTILINE)
    assert copied is not None and copied.group(1) == config_path.group(1)
