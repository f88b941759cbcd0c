"""The README's Python example runs as written."""
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))


def readme_example():
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    m = re.search(r"^## From Python\n.*?```python\n(.*?)```", text, re.S | re.M)
    assert m, "README.md has no '## From Python' section with a python code block"
    return m.group(1)


def test_readme_example_runs(tmp_path):
    code = readme_example()
    assert len([l for l in code.splitlines() if l.strip() and not l.startswith("import ")]) <= 5
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"))
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    assert "[[" in r.stdout  # the printed result arrays
    assert (tmp_path / "model" / "model.safetensors").exists()
