"""Settings resolved once: the `[actions]` table and the machine's default name."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_the_actions_settings_are_checked(tmp_path: Path) -> None:
    from sessiond.config import Config, ConfigError

    def config(text: str) -> Config:
        path = tmp_path / "config.toml"
        path.write_text(text)
        return Config.from_env({"SESSIOND_CONFIG": str(path), "SESSIOND_STATE_DIR": str(tmp_path / "s")})

    defaults = config("")
    assert (defaults.send_input, defaults.toast_click) == (True, "terminal")
    chosen = config('[actions]\ninput = false\ntoast_click = "panel"\n')
    assert (chosen.send_input, chosen.toast_click) == (False, "panel")
    with pytest.raises(ConfigError, match=r'toast_click in the config file.s \[actions\] must be "terminal"'):
        config('[actions]\ntoast_click = "window"\n')
    with pytest.raises(ConfigError, match=r"input in the config file's \[actions\] must be true or false"):
        config('[actions]\ninput = "yes"\n')


def test_a_host_name_that_is_no_valid_machine_name_still_gives_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default machine name comes from the host name; one with spaces or other
    characters (a laptop named "Ann's Mac") must not keep the daemon from starting."""
    import socket

    from sessiond.config import default_name, name_problem

    for host, expected in (("Ann's Mac.local", "Ann-s-Mac"), ("build_07", "build_07"), ("!!!", "localhost")):
        monkeypatch.setattr(socket, "gethostname", lambda host=host: host)
        assert default_name({}) == expected
        assert name_problem(default_name({})) is None
    assert default_name({"SESSIOND_NAME": "devbox"}) == "devbox"
