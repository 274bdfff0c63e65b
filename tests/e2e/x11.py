"""An X display for window tests: start Xvfb, look at the screen, close windows as a window manager would.

No window manager runs under Xvfb, so closing is done the way one does it when a person clicks a window's close
button: a WM_DELETE_WINDOW client message (libX11 through ctypes; libX11 comes with Xvfb). The screen is grabbed
with Qt (the desktop extra brings PyQt6) in a child process, so nothing extra is installed for it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["close_windows", "grab", "xvfb"]

MAP_VIEWABLE = 2
CLIENT_MESSAGE = 33

GRAB = """
import json, sys
from PyQt6.QtGui import QColor, QGuiApplication
app = QGuiApplication(["grab", "-platform", "xcb"])
shot = app.primaryScreen().grabWindow(0)
image = shot.toImage()
colours, lit, seen = set(), 0, 0
for x in range(0, image.width(), 8):
    for y in range(0, image.height(), 8):
        rgb = image.pixel(x, y) & 0xFFFFFF
        colours.add(rgb)
        seen += 1
        lit += rgb != 0
print(json.dumps({"saved": shot.save(sys.argv[1], "PNG"), "width": image.width(), "height": image.height(),
                  "colours": len(colours), "lit": lit / seen}))
"""


@contextmanager
def xvfb(width: int = 1280, height: int = 900) -> Iterator[str]:
    """A fresh Xvfb display (":N", N chosen by Xvfb itself); stopped afterwards."""
    binary = shutil.which("Xvfb")
    if binary is None:
        raise RuntimeError("Xvfb is not installed (apt-get install xvfb, or `make xvfb`)")
    read, write = os.pipe()
    process = subprocess.Popen(
        [binary, "-displayfd", str(write), "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    try:
        with os.fdopen(read) as answer:
            number = answer.readline().strip()
        if not number:
            raise RuntimeError(f"Xvfb did not start (exit code {process.poll()})")
        yield f":{number}"
    finally:
        process.terminate()
        process.wait(10)


def grab(display: str, path: Path) -> dict[str, Any]:
    """Save a PNG of the whole screen; say its size, how many colours a grid of pixels has, and the share of them
    that are not black (an empty Xvfb screen is black)."""
    done = subprocess.run(
        [sys.executable, "-c", GRAB, str(path)],
        env={**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    facts: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return facts


def close_windows(display: str) -> int:
    """Ask every window shown on `display` that takes WM_DELETE_WINDOW to close; how many were asked."""
    x11 = _libx11()
    screen = x11.XOpenDisplay(display.encode())
    if not screen:
        raise RuntimeError(f"cannot open display {display}")
    try:
        protocols = x11.XInternAtom(screen, b"WM_PROTOCOLS", 0)
        delete = x11.XInternAtom(screen, b"WM_DELETE_WINDOW", 0)
        asked = 0
        for window in _top_level_windows(x11, screen):
            if _viewable(x11, screen, window) and delete in _protocols(x11, screen, window):
                event = _XEvent()
                event.xclient.type = CLIENT_MESSAGE
                event.xclient.window = window
                event.xclient.message_type = protocols
                event.xclient.format = 32
                event.xclient.data[0] = delete
                x11.XSendEvent(screen, window, 0, 0, ctypes.byref(event))
                asked += 1
        x11.XFlush(screen)
        return asked
    finally:
        x11.XCloseDisplay(screen)


# --- libX11 through ctypes ----------------------------------------------------------------------------------------

_Window = ctypes.c_ulong
_Atom = ctypes.c_ulong


class _XClientMessageEvent(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("serial", ctypes.c_ulong),
        ("send_event", ctypes.c_int),
        ("display", ctypes.c_void_p),
        ("window", _Window),
        ("message_type", _Atom),
        ("format", ctypes.c_int),
        ("data", ctypes.c_long * 5),
    ]


class _XEvent(ctypes.Union):
    _fields_ = [("xclient", _XClientMessageEvent), ("pad", ctypes.c_long * 24)]


class _XWindowAttributes(ctypes.Structure):
    _fields_ = [
        *[(name, ctypes.c_int) for name in ("x", "y", "width", "height", "border_width", "depth")],
        ("visual", ctypes.c_void_p),
        ("root", _Window),
        *[(name, ctypes.c_int) for name in ("class_", "bit_gravity", "win_gravity", "backing_store")],
        ("backing_planes", ctypes.c_ulong),
        ("backing_pixel", ctypes.c_ulong),
        ("save_under", ctypes.c_int),
        ("colormap", ctypes.c_ulong),
        ("map_installed", ctypes.c_int),
        ("map_state", ctypes.c_int),
        ("all_event_masks", ctypes.c_long),
        ("your_event_mask", ctypes.c_long),
        ("do_not_propagate_mask", ctypes.c_long),
        ("override_redirect", ctypes.c_int),
        ("screen", ctypes.c_void_p),
    ]


def _libx11() -> Any:
    found = ctypes.util.find_library("X11")
    if found is None:
        raise RuntimeError("libX11 is not installed (it comes with xvfb)")
    x11 = ctypes.CDLL(found)
    pointer = ctypes.POINTER
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XDefaultRootWindow.restype = _Window
    x11.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
    x11.XInternAtom.restype = _Atom
    x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    x11.XQueryTree.argtypes = [
        ctypes.c_void_p, _Window, pointer(_Window), pointer(_Window), pointer(pointer(_Window)), pointer(ctypes.c_uint)
    ]  # fmt: skip
    x11.XGetWMProtocols.argtypes = [ctypes.c_void_p, _Window, pointer(pointer(_Atom)), pointer(ctypes.c_int)]
    x11.XGetWindowAttributes.argtypes = [ctypes.c_void_p, _Window, pointer(_XWindowAttributes)]
    x11.XSendEvent.argtypes = [ctypes.c_void_p, _Window, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
    for name in ("XFlush", "XFree", "XCloseDisplay"):
        getattr(x11, name).argtypes = [ctypes.c_void_p]
    return x11


def _top_level_windows(x11: Any, screen: int) -> list[int]:
    root, parent = _Window(), _Window()
    children, count = ctypes.POINTER(_Window)(), ctypes.c_uint()
    root_window = x11.XDefaultRootWindow(screen)
    if not x11.XQueryTree(screen, root_window, ctypes.byref(root), ctypes.byref(parent), ctypes.byref(children),
                          ctypes.byref(count)):  # fmt: skip
        return []
    try:
        return [children[i] for i in range(count.value)]
    finally:
        if children:
            x11.XFree(children)


def _viewable(x11: Any, screen: int, window: int) -> bool:
    attributes = _XWindowAttributes()
    return bool(x11.XGetWindowAttributes(screen, window, ctypes.byref(attributes))) and (
        attributes.map_state == MAP_VIEWABLE
    )


def _protocols(x11: Any, screen: int, window: int) -> set[int]:
    atoms, count = ctypes.POINTER(_Atom)(), ctypes.c_int()
    if not x11.XGetWMProtocols(screen, window, ctypes.byref(atoms), ctypes.byref(count)):
        return set()
    try:
        return {atoms[i] for i in range(count.value)}
    finally:
        x11.XFree(atoms)
