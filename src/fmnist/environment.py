"""What produced a result: package versions, Keras' backend and the machine.

TensorFlow is imported only inside the two functions that ask it something (`accelerator`,
`use_threads`), and only where it is loaded already or about to be: the runner and the command
line import this module, and importing TensorFlow takes seconds and prints its start-up lines.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from threadpoolctl import threadpool_limits

# The packages whose versions shape a chapter's numbers (or its pages' figures and tables).
RESULT_PACKAGES = ("numpy", "scipy", "scikit-learn", "keras", "tensorflow", "keras-tuner", "jax",
                   "torch", "pandas", "matplotlib", "seaborn")


def package_versions() -> dict[str, str]:
    """Python's version and every installed package of `RESULT_PACKAGES`, from the installed
    metadata (cheap: nothing is imported)."""
    out = {"python": platform.python_version()}
    for pkg in RESULT_PACKAGES:
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            continue
    return out


def versions() -> dict[str, str]:
    """Versions of Python and the packages that produce the numbers, and the machine."""
    out = package_versions()
    if "keras" in out:
        out["keras_backend"] = keras_backend()
    if "tensorflow" in sys.modules:  # a chapter's kernel: say where the models trained
        out["accelerator"] = accelerator()
    out["machine"] = machine_description()
    return out


def keras_backend() -> str:
    """Keras' backend, read as Keras reads it, without importing Keras where it is not loaded
    (importing it starts TensorFlow, and its start-up lines, in the runner)."""
    if "keras" in sys.modules:
        return sys.modules["keras"].backend.backend()
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    try:
        return json.loads((home / "keras.json").read_text()).get("backend", "tensorflow")
    except (OSError, ValueError):
        return "tensorflow"


def machine_description() -> str:
    """CPU model and core count."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores"


def accelerator() -> str:
    """`CPU`, or the GPUs TensorFlow trains on (e.g. Colab's default runtime)."""
    import tensorflow as tf  # noqa: PLC0415 - called only where a chapter has loaded it

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "CPU"
    names = [tf.config.experimental.get_device_details(g).get("device_name", g.name)
             for g in gpus]
    return "GPU: " + ", ".join(names)


BLAS_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def use_threads(threads: int) -> None:
    """Fix this process's thread counts for the rest of its life: the BLAS and OpenMP pools
    (threadpoolctl) and, where Keras runs on TensorFlow, its intra- and inter-op pools.

    A chapter calls it before its first computation, with its own `threads` parameter: results
    move with the thread count, so it belongs to the chapter's parameters, not to where or
    beside what the chapter runs. TensorFlow fixes its pools at its first operation; asking for
    another count after that is a `RuntimeError` that says to restart the kernel.
    """
    # The libraries loaded already are limited now; those loaded later read the variables.
    for name in BLAS_VARIABLES:
        os.environ[name] = str(threads)
    threadpool_limits(threads)  # stays in force: the returned object only restores on exit
    if "tensorflow" not in sys.modules:  # a chapter without Keras loads no TensorFlow for this
        return
    import tensorflow as tf  # noqa: PLC0415 - loaded already (checked just above)

    pools = (tf.config.threading.get_intra_op_parallelism_threads,
             tf.config.threading.get_inter_op_parallelism_threads)
    if all(get() == threads for get in pools):
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        raise RuntimeError(
            f"TensorFlow already runs with {pools[0]()} threads in this kernel; it fixes them at "
            f"its first operation. Restart the kernel and run the chapter from the top to use "
            f"{threads}.") from None


# Where each library the runner and the chapters load keeps its caches and runtime files, by
# default under HOME. A locked-down container or CI image may give a HOME that is read-only or
# absent: the libraries then fall back to temporary folders of their own, each with a warning
# (Matplotlib's lands on a chapter's page, IPython's on the terminal).
CACHE_VARIABLES = ("MPLCONFIGDIR", "IPYTHONDIR", "KERAS_HOME", "JUPYTER_RUNTIME_DIR",
                   "JUPYTER_DATA_DIR", "XDG_CACHE_HOME")


def writable_home() -> bool:
    """Whether HOME names a folder this process can write in."""
    home = os.environ.get("HOME")
    if not home:
        return False
    path = Path(home)
    return path.is_dir() and os.access(path, os.W_OK | os.X_OK)


def settle_home() -> Path | None:
    """When HOME is not writable, point every library's cache (`CACHE_VARIABLES`, unless set
    already) at one folder in the temporary directory; child processes (notebook kernels,
    search workers) inherit it. Returns that folder, or None when HOME is fine."""
    if writable_home():
        return None
    folder = Path(tempfile.gettempdir()) / f"fmnist-home-{os.getuid()}"
    for name in CACHE_VARIABLES:
        if not os.environ.get(name):
            path = folder / name.lower()
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.environ[name] = str(path)
    return folder
