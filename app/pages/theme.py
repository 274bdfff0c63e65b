"""Flowyard's visual language in one place: the accent, the status colours and icons, how times read.

Every page, and the graph editor through the CSS variables, takes statuses from here, so a failed
node on the canvas, a chip in a table and a badge in the header are the same red. `install()` puts
the variables (`--fy-accent`, `--fy-status-<status>`) and `assets/css/flowyard.css` on every page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from nicegui import ui

from app import clock
from app.models.instance import DEFAULT_TIME_ZONE
from app.pages.context import services

__all__ = [
    "ACCENT",
    "ACCENT_DARK",
    "STATUS_COLORS",
    "STATUS_ICONS",
    "STATUS_LABELS",
    "css_variables",
    "default_time_zone",
    "exact_time",
    "install",
    "relative_time",
    "status_chip",
    "status_key",
    "time_label",
]

ACCENT = "#6e56cf"
ACCENT_DARK = "#a896f0"  # the same violet, lifted to keep its contrast as text on dark surfaces
ACCENT_FILL = ACCENT  # behind white text (buttons, badges) in both themes: 5.4:1

# Quasar's brand colours where they are text or a fill under white text, at 4.5:1 or better on Flowyard's surfaces
# (Quasar's own positive green is 2.6:1 on white). Dark surfaces need lighter text and keep the darker fills.
BRAND_LIGHT = {"positive": "#177a42", "negative": "#c10015"}
BRAND_DARK = {"positive": "#4cc38a", "negative": "#ff7b7f"}

# queued grey · running blue · waiting amber · completed green · failed red · skipped light grey · cancelled dark grey
STATUS_COLORS: dict[str, str] = {
    "queued": "#8b95a5",
    "running": "#2f7bf5",
    "waiting": "#e09a1b",
    "completed": "#1f9d55",
    "failed": "#e5484d",
    "skipped": "#c4cad4",
    "cancelled": "#5b6472",
}

STATUS_ICONS: dict[str, str] = {
    "queued": "schedule",
    "running": "autorenew",
    "waiting": "pending_actions",
    "completed": "check_circle",
    "failed": "error",
    "skipped": "redo",
    "cancelled": "block",
}

STATUS_LABELS: dict[str, str] = {
    "queued": "Queued",
    "running": "Running",
    "waiting": "Waiting for approval",
    "completed": "Completed",
    "failed": "Failed",
    "skipped": "Skipped",
    "cancelled": "Cancelled",
}

# Run and node statuses (app.engine.model) that are shown as one of the seven above under another name.
_ALIASES = {"paused": "waiting", "waiting_approval": "waiting", "pending": "queued"}

STYLESHEET = Path(__file__).resolve().parents[2] / "assets" / "css" / "flowyard.css"


def status_key(status: str) -> str:
    """The key of `STATUS_COLORS` for a run or node status (`PAUSED` and `WAITING_APPROVAL` are "waiting")."""
    key = status.lower()
    key = _ALIASES.get(key, key)
    if key not in STATUS_COLORS:
        raise KeyError(f"unknown status {status!r}")
    return key


def css_variables() -> str:
    """Custom properties for the accent (light and dark), Quasar's brand colours and every status colour."""
    lines = [f"  --fy-accent: {ACCENT};", f"  --fy-accent-fill: {ACCENT_FILL};"]
    lines += [f"  --fy-status-{key}: {color};" for key, color in STATUS_COLORS.items()]
    # Quasar's colours are set inline on <body> by ui.colors(), so these need !important to win.
    light = [f"  --q-{name}: {color} !important;" for name, color in BRAND_LIGHT.items()]
    dark = [f"  --fy-accent: {ACCENT_DARK};", f"  --q-primary: {ACCENT_DARK} !important;"]
    dark += [f"  --q-{name}: {color} !important;" for name, color in BRAND_DARK.items()]
    return (
        ":root {\n" + "\n".join(lines) + "\n}\n"
        "body {\n" + "\n".join(light) + "\n}\n"
        "body.body--dark {\n" + "\n".join(dark) + "\n}\n"
    )


# What Quasar and NiceGUI's CodeMirror leave out, done once for every page as elements appear (only added nodes are
# looked at): a dialog (role="dialog") is named after its title; an uploader's file button after the uploader's
# title; a code editor's text area gets a name (its `data-label`, else "Code editor"); and code editors take the
# theme's colours (GitHub light or dark: their tokens keep 4.5:1; NiceGUI's default, basicLight, is light-only and
# 2.5:1), also when the theme toggle flips.
_PAGE_SCRIPT = """
<script>
(() => {
  const TITLE = ".fy-dialog__title, .fy-title, .text-h6, .text-lg, .text-base.font-medium, .font-medium";
  const dark = () => document.body.classList.contains("body--dark");
  const nameDialog = (box) => {
    if (box.hasAttribute("aria-label") || box.hasAttribute("aria-labelledby")) return;
    const title = box.querySelector(TITLE);
    box.setAttribute("aria-label", (title && title.textContent.trim()) || document.title.split(" · ")[0]);
  };
  const nameCode = (area) => {
    if (area.hasAttribute("aria-label")) return;
    const owner = area.closest("[data-label]");
    area.setAttribute("aria-label", owner ? owner.dataset.label : "Code editor");
  };
  const nameUpload = (button) => {
    if (button.hasAttribute("aria-label")) return;
    const title = button.closest(".q-uploader")?.querySelector(".q-uploader__title");
    button.setAttribute("aria-label", (title && title.textContent.trim()) || "Choose a file");
  };
  const themeCode = (box) => {
    const editor = getElement(box);
    if (!editor || !editor.editorPromise) return;
    const theme = dark() ? "githubDark" : "githubLight";
    Promise.resolve(editor.editor || editor.editorPromise).then(() => editor.setTheme(theme));
  };
  const visit = (node) => {
    if (node.matches('[role="dialog"]')) nameDialog(node);
    node.querySelectorAll('[role="dialog"]').forEach(nameDialog);
    node.querySelectorAll(".cm-content").forEach(nameCode);
    node.querySelectorAll(".q-uploader__header .q-btn").forEach(nameUpload);
    if (node.matches(".nicegui-codemirror")) themeCode(node);
    node.querySelectorAll(".nicegui-codemirror").forEach(themeCode);
  };
  new MutationObserver((changes) => {
    for (const change of changes) for (const node of change.addedNodes) if (node.nodeType === 1) visit(node);
  }).observe(document.body, { childList: true, subtree: true });
  let wasDark = dark();
  new MutationObserver(() => {
    if (dark() !== wasDark) document.querySelectorAll(".nicegui-codemirror").forEach(themeCode);
    wasDark = dark();
  }).observe(document.body, { attributes: true, attributeFilter: ["class"] });
})();
</script>
"""


def install() -> None:
    """Add the variables, the stylesheet and the page script to every page (call once, where pages are registered).

    Menu entries get the menu item role (Quasar gives them "listitem", wrong inside a menu).
    """
    ui.add_css(css_variables() + STYLESHEET.read_text(encoding="utf-8"), shared=True)
    ui.add_body_html(_PAGE_SCRIPT, shared=True)
    ui.menu_item.default_props("role=menuitem")


def status_chip(status: str) -> ui.element:
    """A small pill: the status's dot (pulsing while running) and its label, in the status colour."""
    key = status_key(status)
    with ui.element("span").classes(f"fy-status fy-status--{key}") as chip:
        ui.element("span").classes("fy-status__dot")
        ui.label(STATUS_LABELS[key]).classes("fy-status__label")
    return chip


def relative_time(moment: datetime, now: datetime | None = None) -> str:
    """How long ago, as people say it: "just now", "3 min ago", "5 h ago", "yesterday", "4 days ago", a date."""
    now = now or clock.now()
    seconds = (now - moment).total_seconds()
    if seconds < 45:
        return "just now"
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))} min ago"
    if seconds < 86_400:
        return f"{int(seconds // 3600)} h ago"
    days = int(seconds // 86_400)
    if days == 1:
        return "yesterday"
    if days < 7:
        return f"{days} days ago"
    return f"{moment.astimezone(UTC):%d %b %Y}"


def exact_time(moment: datetime, zone: str | None = None) -> str:
    """The moment to the second, in `zone`; by default in the instance's default time zone (Settings → Instance),
    since the server does not know the browser's."""
    local = moment.astimezone(ZoneInfo(zone or default_time_zone()))
    return f"{local:%d %b %Y, %H:%M:%S} {local.tzname()}"


def default_time_zone() -> str:
    """The instance's default time zone (UTC before the app has started, e.g. in unit tests)."""
    try:
        return services().instance.defaults.time_zone
    except RuntimeError:
        return DEFAULT_TIME_ZONE


def time_label(moment: datetime, *, prefix: str = "") -> ui.label:
    """A relative time with the exact time on hover."""
    label = ui.label(f"{prefix}{relative_time(moment)}").classes("fy-time")
    label.tooltip(exact_time(moment))
    return label
