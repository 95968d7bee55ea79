"""The desktop-notifier backend (D-Bus on Linux), probed and disposed; and the persisted
controls (mutes, quiet hours). Shared by the notifier, `sessiond notify-test`, `doctor` and
the controls API.
"""

from __future__ import annotations

import asyncio
import html
import os
import platform
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

import structlog
from desktop_notifier import DEFAULT_SOUND, Button, DesktopNotifier, Icon, ReplyField, Urgency
from sessiond.config import Config
from sessiond.notify.policy import Controls, Toast, changed_keys, with_overrides
from sessiond.store.db import Store, StoreError

log = structlog.get_logger(__name__)

APP_NAME = "sessiond"
PROBE_TIMEOUT_S = 5.0
CONTROLS_KEY = "controls"
MUTE_BUTTON_ID = "mute"
MUTE_BUTTON_TITLE = "Mute project"



def app_icon() -> Icon | None:
    """The package's own icon; None (no icon at all) rather than desktop-notifier's
    default, which is the Python logo."""
    # Linux notification servers also take SVG; WinRT wants a bitmap (macOS uses the
    # app bundle's icon whatever we pass).
    names = ["icon.png", "icon.svg"] if platform.system() == "Linux" else ["icon.png"]
    try:
        folder = resources.files("sessiond.ui")
    except ModuleNotFoundError:
        return None
    for name in names:
        icon = folder.joinpath(name)
        # Installed as plain files (wheel or editable link tree), never zipped.
        if isinstance(icon, Path) and icon.is_file():
            return Icon(path=icon.resolve())
    return None


def make_desktop_notifier() -> DesktopNotifier:
    return DesktopNotifier(app_name=APP_NAME, app_icon=app_icon())


def platform_name() -> str:
    system = platform.system()
    if system == "Linux" and (
        "microsoft" in platform.release().lower() or os.environ.get("WSL_DISTRO_NAME")
    ):
        return "WSL"
    return {"Darwin": "macOS"}.get(system, system)


@dataclass(frozen=True, slots=True)
class Probe:
    """What the backend answered: `reason` is None when toasts can be shown."""

    reason: str | None
    server: str = ""
    # The D-Bus server renders a subset of HTML in the body: transcript text is escaped.
    markup: bool = False


async def probe(dn: DesktopNotifier) -> Probe:
    """Ask the backend whether it can show toasts. Never raises."""
    backend = dn._backend  # desktop-notifier has no public way to tell which backend
    kind = type(backend).__name__
    if kind == "DummyNotificationCenter":
        if platform.system() == "Darwin":
            return Probe(
                "this Python is not inside an app bundle, so macOS gives it no "
                "notifications (desktop-notifier fell back to a dummy backend)"
            )
        return Probe(f"desktop-notifier has no notification backend for {platform.system()}")
    try:
        if kind != "DBusDesktopNotifier":
            # macOS and Windows: asks the user once; False means turned off in Settings.
            granted = await asyncio.wait_for(dn.request_authorisation(), PROBE_TIMEOUT_S)
            return Probe(None if granted else "notifications for sessiond are turned off "
                         "in the system settings")
        await asyncio.wait_for(dn.get_capabilities(), PROBE_TIMEOUT_S)
        iface: Any = getattr(backend, "interface", None)
        raw_caps = await asyncio.wait_for(iface.call_get_capabilities(), PROBE_TIMEOUT_S)
        info = await asyncio.wait_for(iface.call_get_server_information(), PROBE_TIMEOUT_S)
        return Probe(None, server=f"{info[0]} {info[2]}".strip(), markup="body-markup" in raw_caps)
    except Exception as exc:  # every failure becomes a reason, never a crash
        dispose(dn)
        return Probe(explain_failure(exc))


def explain_failure(exc: BaseException) -> str:
    """One clause saying why the D-Bus backend cannot show toasts."""
    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS", "")
    text = str(exc)
    if isinstance(exc, TimeoutError):
        return "the notification server did not answer within 5 s"
    if not address and isinstance(exc, ValueError):
        return "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS unset)"
    if isinstance(exc, OSError):
        return f"no D-Bus session bus at {address} ({exc.strerror or exc})"
    if "org.freedesktop.Notifications" in text or "ServiceUnknown" in type(exc).__name__:
        return "no notification daemon on the D-Bus session bus (nothing provides " \
            "org.freedesktop.Notifications)"
    return f"the notification backend failed: {text or type(exc).__name__}"


def dispose(dn: DesktopNotifier) -> None:
    """Close the D-Bus connection desktop-notifier opened, if any (it has no close())."""
    bus = getattr(dn._backend, "bus", None)
    if bus is not None:
        try:
            bus.disconnect()
        except Exception:  # already gone is fine
            pass
    dn._backend.interface = None  # type: ignore[attr-defined]


def panel_url(config: Config, session_id: str) -> str:
    return f"{config.base_url}/#session={quote(session_id, safe='')}"


# -- persisted controls --------------------------------------------------------------


def load_controls(config: Config, store: Store) -> tuple[Controls, list[str]]:
    """The controls as of now: defaults < `[notify]` in the config file < the store."""
    controls, problems = with_overrides(config.notify_base, store.get_json(CONTROLS_KEY, {}))
    return controls, config.notify_problems + problems


def change_controls(
    config: Config, store: Store, change: Callable[[Controls], Controls]
) -> Controls:
    """Apply `change` to the current controls; store only the keys it changed."""
    result: list[Controls] = []

    def apply(overrides: Any) -> Any:
        overrides = dict(overrides) if isinstance(overrides, dict) else {}
        current, _ = with_overrides(config.notify_base, overrides)
        new = change(current)
        overrides.update(changed_keys(current, new))
        result.append(new)
        return overrides

    store.update_json(CONTROLS_KEY, apply, {})
    return result[0]


async def send_toast(
    dn: DesktopNotifier,
    toast: Toast,
    *,
    markup: bool,
    on_mute: Callable[[], None],
    on_click: Callable[[], None],
    on_dismiss: Callable[[], None],
    answers: Callable[[str], None] | None = None,
    reply: Callable[[str], None] | None = None,
) -> str | None:
    """Send one toast; its id once the backend accepted it (on_dispatched), else None.

    With `answers` (the session holds a permission request), the toast gets Allow and Deny
    buttons that call it with "allow" or "deny". With `reply` (the agent's terminal takes
    input), a reply field where the platform has one (desktop-notifier drops it where
    the server lacks `inline-reply`)."""
    dispatched = False

    def on_dispatched() -> None:
        nonlocal dispatched
        dispatched = True

    body = html.escape(toast.body, quote=False) if markup else toast.body
    identifier = await dn.send(
        toast.title,
        body,
        urgency=Urgency.Normal,
        buttons=[
            *([Button("Allow", lambda: answers("allow"), identifier="allow"),
               Button("Deny", lambda: answers("deny"), identifier="deny")] if answers else []),
            Button(MUTE_BUTTON_TITLE, on_mute, identifier=MUTE_BUTTON_ID),
        ],
        reply_field=ReplyField("Reply", "Send", on_replied=reply) if reply else None,
        on_dispatched=on_dispatched,
        on_clicked=on_click,
        on_dismissed=on_dismiss,
        sound=DEFAULT_SOUND if toast.sound else None,
        thread=toast.session_id,
    )
    if not dispatched:
        # desktop-notifier logs the exception and returns an id anyway.
        log.warning("toast not delivered", session=toast.session_id)
        return None
    log.info("toast sent", session=toast.session_id, title=toast.title, reminder=toast.reminder)
    return identifier


def claim_ledger(store: Store, toast: Toast) -> bool:
    """Claim the toast's ledger row (False: it was shown already). A ledger that cannot be
    written (a full disk) does not cost the user the toast: at worst a restart shows it
    once more."""
    try:
        return store.mark_notified(*toast.ledger_key)
    except (StoreError, sqlite3.Error) as exc:
        log.warning("cannot record a toast in the ledger; showing it anyway", error=str(exc))
        return True
