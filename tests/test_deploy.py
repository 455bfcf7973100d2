"""deploy/: the example config is valid as shipped, and the systemd units are hardened and verify."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from indsats.config import load_settings
from indsats.jobs import schedule_from

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
UNITS = ("indsats-server.service", "indsats-worker.service")
HARDENING = ("ProtectSystem=strict", "NoNewPrivileges=true", "StateDirectory=indsats", "PrivateTmp=true",
             "ProtectHome=true", "CapabilityBoundingSet=\n", "User=indsats")


def test_the_example_config_is_valid_and_must_be_private(tmp_path: Path) -> None:
    from indsats.engine.time.calendar import CalendarConfig
    from indsats.errors import BadConfig

    config = tmp_path / "config.toml"
    shutil.copy(DEPLOY / "config.toml", config)
    config.chmod(0o644)
    with pytest.raises(BadConfig, match="chmod 600"):  # it holds the SMTP password
        load_settings({"INDSATS_CONFIG": str(config)})
    config.chmod(0o600)
    settings = load_settings({"INDSATS_CONFIG": str(config)})
    assert settings.smtp_url is not None and "starttls=true" in settings.smtp_url and "cafile=" in settings.smtp_url
    assert settings.log_format == "json"
    assert schedule_from(settings.schedule)["access_sample"] == "mon 06:00"
    assert schedule_from(settings.schedule)["statistics"] == "04:00"
    CalendarConfig.from_mapping(settings.calendar)


@pytest.mark.parametrize("unit", UNITS)
def test_the_units_are_hardened(unit: str) -> None:
    text = (DEPLOY / unit).read_text(encoding="utf-8")
    for line in HARDENING:
        assert f"\n{line}" in text, f"{unit} lacks {line.strip()}"
    assert "Restart=on-failure" in text and "INDSATS_CONFIG=/etc/indsats/config.toml" in text


@pytest.mark.parametrize("unit", UNITS)
def test_systemd_accepts_the_units(unit: str, tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    # The units name /opt/indsats/bin/indsats; point them at this installation's script to verify them.
    script = Path(sys.executable).with_name("indsats")
    (tmp_path / unit).write_text(
        (DEPLOY / unit).read_text(encoding="utf-8").replace("/opt/indsats/bin/indsats", str(script)), encoding="utf-8"
    )
    done = subprocess.run([analyze, "verify", "--man=no", str(tmp_path / unit)], capture_output=True, text=True,
                          timeout=60)
    problems = [line for line in (done.stdout + done.stderr).splitlines() if unit in line]
    assert done.returncode == 0 and problems == [], done.stdout + done.stderr


def test_the_containerfile_installs_with_the_constraints_and_runs_the_worker() -> None:
    text = (DEPLOY / "Containerfile").read_text(encoding="utf-8")
    assert "-c constraints.txt" in text and 'CMD ["worker"]' in text and "USER indsats" in text
    assert 'HEALTHCHECK' in text and '"health"' in text
