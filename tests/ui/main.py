"""The app the NiceGUI `user` fixture runs (pyproject's `main_file`): Flowyard's pages on NiceGUI's own app.

Production mounts the same pages on the API with `ui.run_with` (app/main.py); here they run over a real
`Flowyard` whose data directory is FLOWYARD_DATA_DIR, a fresh temporary directory per test (conftest.py).
"""

from nicegui import app as nicegui_app
from nicegui import ui

from app.pages import context, register_pages
from app.root import Flowyard
from app.settings import Settings

running: list[Flowyard] = []


async def start() -> None:
    flowyard = Flowyard.open(Settings())
    running.append(flowyard)
    context.use(flowyard)
    await flowyard.start()


async def stop() -> None:
    context.use(None)
    while running:
        await running.pop().close()


nicegui_app.on_startup(start)
nicegui_app.on_shutdown(stop)
register_pages()
ui.run(storage_secret="flowyard-ui-tests", show_welcome_message=False)
