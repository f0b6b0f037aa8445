"""Sphinx configuration of the book: myst-nb renders the executed notebooks that book/build.py
staged (it never runs a kernel), sphinx-book-theme lays them out, and MathJax 2 is served from the
book itself (the jupyter-server-mathjax package's copy), so pages render offline: no CDN is needed
by a reader, by CI or by the browser test."""
from pathlib import Path

import jupyter_server_mathjax

from memvae_lib.papers import all_papers

project = "memvae"
author = "the memvae contributors"
copyright = "the memvae contributors"

extensions = ["myst_nb"]
nb_execution_mode = "off"  # read without running: outputs come from the executed copies only
nb_merge_streams = True  # one block per cell for stdout (papermill stores it in many chunks)
nb_output_stderr = "show"  # warnings a reader should see stay visible

myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "substitution"]
myst_heading_anchors = 4  # docs/protocols.md links its sections as GitHub does: (#25-experiments)
myst_dmath_double_inline = True
myst_substitutions = {
    # {{<key>_arxiv}} for every paper package (memvae_lib/papers/<key>/): a third paper needs no edit here
    **{f"{p.KEY}_arxiv": f"[arXiv:{p.ARXIV.rsplit('/', 1)[-1]}]({p.ARXIV})" for p in all_papers()},
}

# text as the notebooks and the results JSON hold it: no typographic quotes or dashes
smartquotes = False

html_theme = "sphinx_book_theme"
html_title = "memvae: read without running"
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": True,  # the executed .ipynb of each notebook page
    "home_page_in_toc": True,
}
html_last_updated_fmt = None  # no build date: two builds of the same notebooks are the same pages
html_show_sourcelink = False

# MathJax 2.7 from the jupyter-server-mathjax wheel, copied into _static/ (html_static_path copies
# a folder's contents); the config below is the one Sphinx documents for MathJax 2.
html_static_path = [str(Path(jupyter_server_mathjax.__file__).parent / "static"), "static"]
html_css_files = ["memvae.css"]
mathjax_path = "MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
mathjax2_config = {
    "tex2jax": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]],
                "processRefs": False, "processEnvironments": False,
                # myst marks the page body mathjax_ignore and each equation .math: typeset those only
                "processClass": "math|output_area|tex2jax_process|mathjax_process",
                "ignoreClass": "tex2jax_ignore|mathjax_ignore"},
    # the wheel ships the STIX-Web fonts only (no TeX fonts): without this MathJax asks for
    # fonts/TeX/fontdata.js, gets a 404 and never finishes typesetting
    "HTML-CSS": {"availableFonts": [], "preferredFont": None, "webFont": "STIX-Web", "imageFont": None},
    # the quick previews draw with the TeX fonts the wheel does not ship (404s, and a page that never
    # finishes): the STIX-Web rendering is the only one
    "fast-preview": {"disabled": True},
    "CHTML-preview": {"disabled": True},
    # the hidden MathML copy for screen readers is styled with TeX web fonts that the wheel does not
    # ship either (Chromium renders MathML itself, so it asks for them: 404s)
    "AssistiveMML": {"disabled": True},
    "menuSettings": {"assistiveMML": False},
    "messageStyle": "none",
    "showMathMenu": False,
}
# arrow keys scroll the page instead of turning it (the theme's default since 0.14)
html_theme_options["navigation_with_keys"] = False

suppress_warnings = [
    "myst.header",  # docs/protocols.md goes from ## 6 to #### P1, as GitHub renders it: a style, not a fault
    "mystnb.unknown_mime_type",  # widget views saved headless have no static rendering: text shows instead
]


def setup(app):
    # MathJax on every page, not only on pages with equations: the navigation of every page shows
    # the headings of the model pages, some of which hold math
    app.set_html_assets_policy("always")
