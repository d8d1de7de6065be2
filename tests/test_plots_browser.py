"""A browser check of `make plots`: headless Chromium opens outputs/dvc_plots/index.html of a small real run.

Every plot of dvc.yaml's ``plots:`` section must be on the page and drawn (a
chart's canvas with a size, an image loaded), and the page must raise no script
error (a title with an apostrophe once broke every chart after it). Slow (a
small pipeline run, about 30 s on 2 cores, then DVC and a browser); needs
Debian's chromium package. Run with `make test-slow`.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from gmmgen.pipeline.runner import run_all
from gmmgen.runtime.validation import validate

from .conftest import REPO, TINY, compose_cfg, copy_project
from .test_ui_browser import CHROMIUM, FLAGS

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)"),
]

#: Written before the page's own scripts: every script error and console error is kept.
CATCH = """<script>
window.__errors = [];
window.addEventListener("error", (e) => window.__errors.push(String(e.message)));
const __consoleError = console.error;
console.error = (...a) => { window.__errors.push(a.map(String).join(" ")); __consoleError(...a); };
</script>"""

#: Written after them: once the charts had time to draw, what each plot's element holds, as JSON in the DOM.
PROBE = """<script>
setTimeout(() => {
  const out = {errors: window.__errors, plots: {}};
  document.querySelectorAll("div[id]").forEach((div) => {
    const chart = div.querySelector("canvas, svg.marks");
    const img = div.querySelector("img");
    out.plots[div.id] = chart ? ["chart", chart.width.baseVal ? chart.width.baseVal.value : chart.width]
      : img ? ["image", img.naturalWidth] : ["empty", 0];
  });
  const pre = document.createElement("pre");
  pre.id = "gmmgen-probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
}, 8000);
</script>"""


def plot_ids(dvc_yaml: Path) -> dict[str, str]:
    """The element id DVC gives each plot of ``dvc_yaml``'s top-level ``plots:`` -> "chart" or "image"."""
    from dvc_render.base import Renderer

    ids = {}
    for entry in yaml.safe_load(dvc_yaml.read_text())["plots"]:
        name = entry if isinstance(entry, str) else next(iter(entry))
        ids[Renderer.remove_special_chars(name)] = "image" if str(name).endswith(".png") else "chart"
    return ids


@pytest.fixture(scope="module")
def plots_page(tmp_path_factory) -> Path:
    """A copy of the project, a small real run in it (evaluation on), then `make plots`: the page's path."""
    project = copy_project(tmp_path_factory.mktemp("plots"))
    overrides = [o for o in TINY if not o.startswith("evaluate.enabled")]
    cfg = compose_cfg(project, [*overrides, "evaluate.n_samples=200", "tracking.enabled=false"])
    validate(cfg)
    run_all(cfg)
    made = subprocess.run(
        ["make", "-o", ".venv/.installed", "plots"], cwd=project, capture_output=True, text=True, timeout=300
    )
    assert made.returncode == 0, made.stdout[-2000:] + made.stderr[-2000:]
    assert "failed to load" not in made.stdout + made.stderr, "the tutorial's plots (not made) were asked for"
    page = project / "outputs" / "dvc_plots" / "index.html"
    assert page.is_file(), made.stdout[-2000:]
    return page


def probe(page: Path, profile: Path) -> dict:
    """Open ``page`` (with the error catcher and the probe added) in headless Chromium; the probe's JSON."""
    html = page.read_text()
    probed = page.with_name("probe.html")  # beside it: the page's relative paths to the chart library hold
    probed.write_text(html.replace("<head>", "<head>\n" + CATCH, 1).replace("</body>", PROBE + "\n</body>", 1))
    result = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--allow-file-access-from-files",
         "--virtual-time-budget=20000", "--window-size=1600,1000", "--dump-dom", probed.as_uri()],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    found = re.search(r'<pre id="gmmgen-probe">(.*?)</pre>', result.stdout, re.S)
    assert found, f"the page never finished drawing: {result.stderr[-2000:]}"
    import html as html_lib

    return json.loads(html_lib.unescape(found.group(1)))


def test_make_plots_draws_every_plot_of_dvc_yaml_without_a_script_error(plots_page, tmp_path):
    expected = plot_ids(plots_page.parents[2] / "dvc.yaml")
    assert len(expected) == len(plot_ids(REPO / "dvc.yaml")) >= 10
    seen = probe(plots_page, tmp_path / "profile")
    assert seen["errors"] == [], f"the page raised script errors: {seen['errors']}"
    for plot_id, kind in expected.items():
        assert plot_id in seen["plots"], f"{plot_id} is not on the page"
        drawn_kind, width = seen["plots"][plot_id]
        assert drawn_kind == kind and width > 50, f"{plot_id} is not drawn: {drawn_kind}, width {width}"


def test_the_probe_sees_a_broken_title(plots_page, tmp_path):
    """The check can fail: a title with an apostrophe (as the BIC plot once had) breaks the page's script."""
    broken = plots_page.with_name("broken.html")
    html = plots_page.read_text()
    first = re.search(r"vegaEmbed\('#([^']+)'", html).group(1)
    broken.write_text(html.replace(f"vegaEmbed('#{first}'", f"vegaEmbed('#{first}'s'", 1))
    seen = probe(broken, tmp_path / "profile")
    assert any("SyntaxError" in e or "missing" in e for e in seen["errors"]), seen["errors"]
