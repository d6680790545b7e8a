"""The bridge's own environment (.venv-bridge): a supported runtime, and no machine learning in it,
neither in the bridge nor in the teaching contract it imports (teaching/ without teaching/worker/)."""

from __future__ import annotations

import json
import subprocess

from harness.servers import ROOT, bridge_command, bridge_env

# Imports every module of the bridge, as its processes do, and every module of the teaching
# contract (teaching/ but its worker/ subpackage, which runs in the bot's environment), then
# reports what that loaded.
IMPORT_THE_WHOLE_BRIDGE = """
import importlib, json, pkgutil, sys
import handoff, teaching
modules = [info.name for info in pkgutil.walk_packages(handoff.__path__, "handoff.")]
modules += [info.name for info in pkgutil.iter_modules(teaching.__path__, "teaching.") if not info.ispkg]
for name in modules:
    importlib.import_module(name)
import sanic, websockets, redis, aiohttp
print(json.dumps({
    "modules": modules,
    "loaded": sorted({name.split(".")[0] for name in sys.modules}),
    "python": list(sys.version_info[:2]),
    "versions": {"sanic": sanic.__version__, "websockets": websockets.__version__, "redis": redis.__version__,
                 "aiohttp": aiohttp.__version__},
}))
"""

MACHINE_LEARNING = {"numpy", "rasa", "tensorflow", "sklearn", "scipy", "tokenizers", "rasa_sdk"}


def imported_bridge() -> dict:
    done = subprocess.run(bridge_command("-c", IMPORT_THE_WHOLE_BRIDGE), cwd=ROOT, env=bridge_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr  # a deprecation at import time fails here too (bridge_env)
    return json.loads(done.stdout)


def test_importing_the_whole_bridge_and_the_teaching_contract_loads_no_machine_learning():
    report = imported_bridge()
    assert {"handoff.app", "handoff.service", "handoff.__main__", "handoff.auth"} <= set(report["modules"])
    assert {"teaching.store", "teaching.commands", "teaching.errors", "teaching.transcripts",
            "teaching.__main__"} <= set(report["modules"])
    assert "teaching.worker" not in report["modules"]
    assert "bot" not in report["loaded"], "the bridge needs nothing of the Rasa components' package"
    assert MACHINE_LEARNING.isdisjoint(report["loaded"]), MACHINE_LEARNING & set(report["loaded"])


def test_the_bridge_runs_on_a_supported_python_and_sanic():
    report = imported_bridge()
    assert tuple(report["python"]) >= (3, 12)
    major, minor = (int(part) for part in report["versions"]["sanic"].split(".")[:2])
    assert (major, minor) >= (25, 12)
    assert int(report["versions"]["websockets"].split(".")[0]) >= 14
    assert int(report["versions"]["redis"].split(".")[0]) >= 5
