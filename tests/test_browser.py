"""The notebooks as a reader meets them: JupyterLab in a real, headless Chromium (Selenium + Debian's chromium).

Serves a copy of notebooks/ (so nothing tracked is rewritten) from JupyterLab on 127.0.0.1 with a token, opens
every notebook, then runs notebook 06 under the smoke profile and uses its clip picker. Screenshots go to
outputs/browser/. Skips, saying how to enable it, where chromium, chromedriver or selenium are missing
(fails instead when CI=true). Enable: apt-get install chromium chromium-driver; pip install selenium.
"""
from __future__ import annotations

import os
import resource
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "outputs" / "browser"
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("0*.ipynb"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
# The server's address space, inherited by every kernel it starts: notebook 06 under the smoke profile peaks near
# 3 GiB of it, so a cell that runs away fails with MemoryError in its own traceback (on the page, in the
# screenshots) instead of the kernel, or a process beside the tests, being killed by Linux's OOM killer.
KERNEL_ADDRESS_SPACE = 8 * 1024**3
HOW_TO_ENABLE = "browser tests need chromium, chromedriver and selenium: apt-get install chromium chromium-driver; pip install selenium"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed"
    if not CHROMIUM or not CHROMEDRIVER:
        return "chromium or chromedriver is not on PATH"
    return None


def _limit_address_space():
    """In the JupyterLab server's process before it starts: cap its address space (and its kernels')."""
    resource.setrlimit(resource.RLIMIT_AS, (KERNEL_ADDRESS_SPACE, KERNEL_ADDRESS_SPACE))


@pytest.fixture(scope="module")
def lab(tmp_path_factory, mir1k_root):
    """A JupyterLab server on a copy of notebooks/: yields (base URL, token)."""
    problem = _missing()
    if problem:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {problem}. {HOW_TO_ENABLE}")
        pytest.skip(f"{problem}. {HOW_TO_ENABLE}")
    served = tmp_path_factory.mktemp("lab")
    shutil.copytree(ROOT / "notebooks", served / "notebooks")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token = "shsep-browser-test"
    env = dict(os.environ, SHSEP_PROFILE="smoke", JUPYTER_CONFIG_DIR=str(served / "config"),
               JUPYTER_RUNTIME_DIR=str(served / "runtime"))
    (served / "config" / "labconfig").mkdir(parents=True)  # no "get Jupyter news?" prompt over the screenshots
    (served / "config" / "labconfig" / "page_config.json").write_text(
        '{"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": true}}')
    log = open(served / "lab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", "--ServerApp.allow_root=True", f"--ServerApp.root_dir={served}",
         "--LabApp.expose_app_in_browser=True", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--ServerApp.terminals_enabled=False"],
        env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_limit_address_space)
    url = f"http://127.0.0.1:{port}"
    try:
        import urllib.request

        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"JupyterLab did not start: {(served / 'lab.log').read_text()[-2000:]}")
        yield url, token
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def browser(lab, tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--autoplay-policy=no-user-gesture-required", "--window-size=1400,1000",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def wait_for(condition, timeout: float, message: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(message)


def open_notebook(driver, lab, name: str) -> None:
    url, token = lab
    driver.get(f"{url}/lab/tree/notebooks/{name}?token={token}&reset")
    wait_for(lambda: driver.execute_script(
        "return document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell').length"), 90,
        f"{name}: no cells rendered")
    time.sleep(3)  # let outputs and widgets render


def page_problems(driver) -> list[str]:
    """Error outputs and broken widgets visible in the open notebook."""
    return driver.execute_script("""
        const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
        const problems = [];
        panel.querySelectorAll('.jp-OutputArea-output').forEach(o => {
            const mime = o.getAttribute('data-mime-type') || '';
            const text = o.innerText || '';
            if (mime.includes('error') || text.includes('Traceback (most recent call last)'))
                problems.push('error output: ' + text.slice(0, 200));
            if (text.includes('Error displaying widget')) problems.push('widget error: ' + text.slice(0, 200));
            if (/Loading widget|Loading…/.test(text)) problems.push('widget stuck loading: ' + text.slice(0, 200));
            if (text.startsWith('interactive(children=')) problems.push('widget fallback text: ' + text.slice(0, 200));
        });
        return problems;""")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_notebook_renders_without_errors(lab, browser, name):
    open_notebook(browser, lab, name)
    browser.save_screenshot(str(SCREENSHOTS / f"{Path(name).stem}.png"))
    assert page_problems(browser) == []


# The open notebook panel: the shell's current widget, or (when the headless window holds no focus, where
# JupyterLab 4.6 reports none) the visible one in the main area
NOTEBOOK_PANEL = ("const app = window.jupyterapp; const p = app.shell.currentWidget || "
                  "Array.from(app.shell.widgets('main')).find(w => w.isVisible);")
KERNEL_IDLE = "return !!(p && p.sessionContext.session && p.sessionContext.session.kernel && " \
              "p.sessionContext.session.kernel.status === 'idle');"

AUDIO_STATE = """return Array.from(document.querySelectorAll(
    '.jp-NotebookPanel:not(.lm-mod-hidden) audio')).map(a => [a.readyState, a.duration]);"""


def test_listening_notebook_runs_plays_and_picks(lab, browser):
    name = "06_listening_tests.ipynb"
    open_notebook(browser, lab, name)
    wait_for(lambda: browser.execute_script(NOTEBOOK_PANEL + KERNEL_IDLE), 120, "the kernel never became idle")
    browser.execute_script(NOTEBOOK_PANEL + "app.shell.activateById(p.id); "
                           "app.commands.execute('notebook:run-all-cells');")
    time.sleep(2)

    def finished():  # no cell queued or running, and the kernel idle
        return browser.execute_script(
            "const prompts = Array.from(document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) "
            ".jp-CodeCell .jp-InputPrompt')).map(p => p.innerText.trim());"
            "if (!prompts.every(p => p !== '[*]:')) return false;" + NOTEBOOK_PANEL + KERNEL_IDLE)

    wait_for(finished, 420, "Run All did not finish", interval=2)
    browser.save_screenshot(str(SCREENSHOTS / "06_run_all.png"))
    assert page_problems(browser) == []
    states = wait_for(lambda: (lambda s: s if s and all(r >= 2 and d > 0 for r, d in s) else None)(
        browser.execute_script(AUDIO_STATE)), 60, f"not every player is playable: {browser.execute_script(AUDIO_STATE)}")
    players_before = len(states)

    select = wait_for(lambda: browser.execute_script(
        "return document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .widget-dropdown select');"),
        60, "the clip picker did not appear")
    from selenium.webdriver.support.ui import Select

    options = [o.get_attribute("value") for o in Select(select).options]
    Select(select).select_by_index(min(3, len(options) - 1))
    button = browser.execute_script(
        "return Array.from(document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .widget-button'))"
        ".find(b => b.innerText.includes('Run'));")
    button.click()
    output_area = ".jp-NotebookPanel:not(.lm-mod-hidden) .widget-output"
    def picked():
        return browser.execute_script(f"return document.querySelectorAll('{output_area} audio').length >= 5 && "
                                      f"document.querySelectorAll('{output_area} img').length >= 1;")

    try:
        wait_for(picked, 90, "the picker showed no players")
    except pytest.fail.Exception:  # a click lost while the page was busy: press once more, then wait longer
        button.click()
        output = browser.execute_script(f"return Array.from(document.querySelectorAll('{output_area}'))"
                                        ".map(o => o.innerText).join(' | ');")
        wait_for(picked, 210, f"the picker showed no players; its output area: {output[-1500:]!r}")
    time.sleep(2)
    browser.save_screenshot(str(SCREENSHOTS / "06_picker.png"))
    assert browser.execute_script(f"return document.querySelectorAll('{output_area} audio').length;") == 5
    assert browser.execute_script(f"return document.querySelectorAll('{output_area} img').length;") == 1
    assert len(browser.execute_script(AUDIO_STATE)) == players_before + 5
    assert page_problems(browser) == []
