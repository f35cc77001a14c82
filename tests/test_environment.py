"""What produced a result: versions, backend and machine, read without starting TensorFlow."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from fmnist.environment import versions


def run(code: str, **env) -> dict:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env}, check=True)
    return json.loads(proc.stdout.splitlines()[-1])


def test_the_runner_reads_versions_without_importing_tensorflow(tmp_path):
    out = run("import json, sys; from fmnist.environment import versions; v = versions(); "
              "print(json.dumps({'v': v, 'tf': 'tensorflow' in sys.modules}))",
              KERAS_HOME=str(tmp_path))
    assert out["tf"] is False
    assert out["v"]["keras_backend"] == "tensorflow"  # Keras' own default
    assert "accelerator" not in out["v"], "only a process that trains knows its accelerator"
    assert "cores" in out["v"]["machine"]


def test_the_backend_is_read_as_keras_reads_it(tmp_path):
    (tmp_path / "keras.json").write_text(json.dumps({"backend": "jax"}))
    code = ("import json; from fmnist.environment import keras_backend; "
            "print(json.dumps(keras_backend()))")
    assert run(code, KERAS_HOME=str(tmp_path)) == "jax"
    assert run(code, KERAS_HOME=str(tmp_path), KERAS_BACKEND="torch") == "torch"


def test_a_training_process_names_its_accelerator():
    import tensorflow as tf  # noqa: PLC0415 - loading it makes this a training process

    expected = "CPU" if not tf.config.list_physical_devices("GPU") else None
    found = versions()["accelerator"]
    assert found == expected or (expected is None and found.startswith("GPU: "))
