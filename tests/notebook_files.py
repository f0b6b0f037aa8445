"""Tiny notebooks built in tmp_path, for tests of the papermill batch."""


def write_notebook(path, *cells, parameters="profile = 'laptop'\ninteractive = True\ndevice = 'auto'\nseed = 0"):
    """A minimal notebook: a cell tagged `parameters`, then one code cell per string in `cells`."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    first = nbformat.v4.new_code_cell(parameters)
    first.metadata["tags"] = ["parameters"]
    nb.cells = [first] + [nbformat.v4.new_code_cell(src) for src in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path
