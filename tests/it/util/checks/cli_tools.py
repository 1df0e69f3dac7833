"""Exercise the cli_tools venv as a command-line tool does: a click command run through its test
runner, a jinja2 template, rich rendering a table, markdown and syntax highlighting (pygments)
to text, and requests preparing a request and finding its CA bundle (certifi). No network.
Asserts what it expects and prints a deterministic JSON summary.
Usage: python cli_tools.py [TMPDIR]"""

import importlib.metadata as md
import io
import json

import click
import jinja2
import requests
from click.testing import CliRunner
from rich.console import Console
from rich.markdown import Markdown
from rich.syntax import Syntax
from rich.table import Table


@click.command()
@click.option("--name", default="world")
@click.option("--count", type=int, default=2)
def hello(name, count):
    env = jinja2.Environment(loader=jinja2.DictLoader({"t": "{% for i in range(n) %}hi {{ who }};{% endfor %}"}))
    click.echo(env.get_template("t").render(n=count, who=name))


out = {}
r = CliRunner().invoke(hello, ["--name", "zip", "--count", "3"])
out["click"] = [r.exit_code, r.output.strip()]
assert out["click"] == [0, "hi zip;hi zip;hi zip;"], out

console = Console(record=True, width=60, color_system=None, file=io.StringIO())
table = Table(title="deps")
table.add_column("name")
table.add_column("version")
for d in ("click", "jinja2", "rich", "requests"):
    table.add_row(d, md.version(d))
console.print(table)
console.print(Markdown("# Title\n\n* one\n* two"))
console.print(Syntax("def f(x):\n    return x + 1\n", "python"))
text = console.export_text()
out["rich_lines"] = len(text.splitlines())
assert "requests" in text and "return x + 1" in text and "Title" in text, text

req = requests.Request("GET", "https://example.org/a", params={"q": "z i p"}).prepare()
out["request"] = req.url
assert req.url == "https://example.org/a?q=z+i+p", out
out["ca_bundle_exists"] = bool(open(requests.certs.where(), "rb").read(64))
print(json.dumps(out, sort_keys=True))
