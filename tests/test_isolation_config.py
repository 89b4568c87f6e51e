"""Exercise isolation at configuration load: every overlap the file alone shows is refused.

Each case writes a TOML file whose exercise target is the production one in another spelling
(``./path``, ``path/../path``, a symbolic link, a trailing slash, other letter case) and loads
it with ``load_settings``: the refusal is one plain sentence naming both targets. What needs a
secret (the X credentials) stays with the channel-build guard, tested in
``tests/lifecycle/test_exercise_isolation.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crisiscast.channels.registry import spec_for
from crisiscast.config import load_settings
from crisiscast.errors import ConfigError
from crisiscast.isolation import file_identity, topic_prefix_identity, url_identity


def _refusal(tmp_path: Path, text: str) -> str:
    path = tmp_path / "c.toml"
    path.write_text(f'base_dir = "{tmp_path}"\n{text}', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    assert message.count(". ") == 0 and message.endswith(".")
    return message.replace(str(path), "FILE")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[channels.banner]\npath = "var/banner.json"\nexercise_path = "./var/banner.json"\n',
            "the exercise banner path './var/banner.json' is the production one ('var/banner.json'); "
            "set [channels.banner] exercise_path to a target of its own",
        ),
        (
            '[channels.banner]\npath = "var/banner.json"\nexercise_path = "var/../var/banner.json"\n',
            "the exercise banner path 'var/../var/banner.json' is the production one ('var/banner.json')",
        ),
        (
            '[channels.banner]\ncms_url = "https://cms.example.org/banner"\n'
            'exercise_cms_url = "https://CMS.example.org/banner/"\n',
            "the exercise banner CMS URL 'https://CMS.example.org/banner/' is the production one "
            "('https://cms.example.org/banner'); set [channels.banner] exercise_cms_url",
        ),
        (
            '[channels.mqtt]\ntopic_prefix = "hospital/cc"\nexercise_topic_prefix = "hospital/cc//"\n',
            "the exercise MQTT topic prefix 'hospital/cc//' is the production one ('hospital/cc'); "
            "set [channels.mqtt] exercise_topic_prefix",
        ),
        (
            '[channels.facebook]\npage_id = "100000000000001"\nexercise_page_id = " 100000000000001 "\n',
            "the exercise Facebook page ' 100000000000001 ' is the production one ('100000000000001')",
        ),
        (
            '[audiences]\nall-staff = ["staff"]\nexercise = ["drill-team", "Staff"]\n',
            "the exercise audience 'exercise' shares the contact group 'Staff' with the production "
            "audience 'all-staff' (as 'staff'; groups compare without case); give drills a contact "
            "group of their own in [audiences]",
        ),
    ],
)
def test_config_load_refuses_a_normalised_overlap(tmp_path: Path, text: str, expected: str) -> None:
    """An exercise target that is the production one in another spelling is refused at load."""
    message = _refusal(tmp_path, text)
    assert message.startswith("The configuration FILE is invalid: the exercise ")
    assert expected in message


def test_config_load_refuses_a_banner_link_to_the_production_file(tmp_path: Path) -> None:
    """An exercise banner path that is a symbolic link to the production banner file is refused."""
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "banner.json").write_text("{}", encoding="utf-8")
    os.symlink(tmp_path / "var" / "banner.json", tmp_path / "drill.json")
    message = _refusal(
        tmp_path, '[channels.banner]\npath = "var/banner.json"\nexercise_path = "drill.json"\n'
    )
    assert "the exercise banner path 'drill.json' is the production one ('var/banner.json')" in message


def test_distinct_targets_load(tmp_path: Path) -> None:
    """Exercise targets that differ from production in substance load without complaint."""
    path = tmp_path / "c.toml"
    path.write_text(
        f'base_dir = "{tmp_path}"\n'
        '[channels.banner]\npath = "var/banner.json"\nexercise_path = "var/drill.json"\n'
        '[channels.mqtt]\ntopic_prefix = "hospital/cc"\nexercise_topic_prefix = "hospital/cc-drill"\n'
        '[audiences]\nall-staff = ["staff"]\nexercise = ["drill-team"]\n',
        encoding="utf-8",
    )
    settings = load_settings(path)
    assert spec_for("mqtt").config(settings).exercise_topic_prefix == "hospital/cc-drill"


def test_identities_are_the_ones_the_channels_use(tmp_path: Path) -> None:
    """The shared normalisations: real path, URL without slash or case, topic without slash."""
    assert file_identity(tmp_path / "a" / ".." / "b.json") == file_identity(tmp_path / "b.json")
    assert url_identity(" HTTPS://X.example/ ") == url_identity("https://x.example")
    assert url_identity("") is None and url_identity(None) is None
    assert topic_prefix_identity("a/b//") == "a/b"
    from crisiscast.channels.mqtt.channel import alert_topic

    assert alert_topic("a/b/") == alert_topic("a/b") == "a/b/alert/current"
