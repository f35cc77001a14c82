"""The terminal during a run: start-up noise dropped, real warnings and progress kept."""

from __future__ import annotations

import asyncio
import io
import os
from pathlib import Path

import nbformat
import papermill as pm
import pytest

from fmnist.console import Echo, QuietKernelManager, is_noise, prefixed, quiet_stderr
from fmnist.executed import drop_noise_outputs

TENSORFLOW_START = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1795691465.457674   29176 port.cc:153] oneDNN custom operations are on. You "
    "may see slightly different numerical results due to floating-point round-off errors.",
    "I0000 00:00:1795691465.458852   29176 cudart_stub.cc:31] Could not find cuda drivers on "
    "your machine, GPU will not be used.",
    "E0000 00:00:1795691484.330841   29321 cuda_platform.cc:52] failed call to cuInit: "
    "INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)",
    "E0000 00:00:1795691472.334435   29176 node_def_util.cc:682] NodeDef mentions attribute "
    "use_unbounded_threadpool which is not in the op definition: Op<name=MapDataset>",
    "[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel.",
    "[IPKernelApp] WARNING | Kernel is running over TCP without encryption. All communication "
    "(including code and outputs) is sent in plain text.",
]
REAL = [
    "E0000 00:00:1795691484.330841   29321 bfc_allocator.cc:52] Out of memory while trying "
    "to allocate 1.2GiB",
    "W0000 00:00:1795691484.330841   29321 op_kernel.cc:1829] OP_REQUIRES failed",
    "/src/fmnist/train.py:88: UserWarning: the learning rate is very high",
    "Traceback (most recent call last):",
]


@pytest.mark.parametrize("line", TENSORFLOW_START)
def test_start_up_lines_are_noise(line):
    assert is_noise(line)


@pytest.mark.parametrize("line", REAL)
def test_warnings_and_errors_are_not_noise(line):
    assert not is_noise(line)


def test_echo_indents_whole_lines_as_they_complete():
    out = io.StringIO()
    echo = Echo(out, indent="  ")
    echo.write("epoch 1/2: train 50.00 %")
    assert out.getvalue() == "", "half a line waits for its end"
    echo.write(", 3 s\nepoch 2/2: train 60.00 %, 3 s\n\n")
    assert out.getvalue() == "  epoch 1/2: train 50.00 %, 3 s\n  epoch 2/2: train 60.00 %, 3 s\n"


def test_a_chapter_kernel_passes_warnings_and_drops_start_up_noise(tmp_path, capfd):
    # Written to the kernel's file descriptor 2, as TensorFlow's C++ code writes them.
    lines = [TENSORFLOW_START[1], "a real warning"]
    code = "import os\n" + "\n".join(f"os.write(2, {(line + chr(10)).encode()!r})"
                                      for line in lines) + "\nprint('progress line')"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nbformat.write(nb, tmp_path / "in.ipynb")
    echo = io.StringIO()
    pm.execute_notebook(str(tmp_path / "in.ipynb"), str(tmp_path / "out.ipynb"),
                        kernel_name="python3", progress_bar=False, stdout_file=Echo(echo),
                        kernel_manager_class=QuietKernelManager)
    err = capfd.readouterr().err
    assert "a real warning" in err
    assert "oneDNN" not in err and "without encryption" not in err
    assert "progress line" in echo.getvalue()


def test_pages_keep_real_warnings_and_lose_start_up_lines():
    cell = nbformat.v4.new_code_cell("import tensorflow")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stderr",
                               text="\n".join(TENSORFLOW_START[:3]) + "\n"),
        nbformat.v4.new_output("stream", name="stderr",
                               text=TENSORFLOW_START[1] + "\n" + REAL[2] + "\n"),
        nbformat.v4.new_output("stream", name="stdout", text=TENSORFLOW_START[1] + "\n"),
    ]
    nb = nbformat.v4.new_notebook(cells=[cell])
    drop_noise_outputs(nb)
    outputs = nb.cells[0].outputs
    assert [(o.name, o.text) for o in outputs] == [("stderr", REAL[2] + "\n"),
                                                   ("stdout", TENSORFLOW_START[1] + "\n")]


def test_quiet_stderr_drops_this_processs_start_up_lines_and_keeps_the_rest(capfd):
    with quiet_stderr():
        for line in [*TENSORFLOW_START[:4], REAL[0], REAL[2]]:
            os.write(2, (line + "\n").encode())  # file descriptor 2, as TensorFlow's C++ writes
    os.write(2, (TENSORFLOW_START[1] + "\n").encode())  # after the block: nothing is filtered
    assert capfd.readouterr().err.splitlines() == [REAL[0], REAL[2], TENSORFLOW_START[1]]


def _niceness(pid: int) -> int:
    """A process's nice value, from /proc (field 19 of its stat line)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[16])


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads /proc (Linux)")
@pytest.mark.parametrize("niceness", [0, 7])
def test_a_chapters_kernel_runs_at_the_niceness_it_is_given(niceness):
    async def launch() -> tuple[int, int]:
        manager = prefixed("", niceness)(kernel_name="python3")
        await manager.start_kernel()
        try:
            pid = manager.provisioner.process.pid
            return _niceness(pid), _niceness(os.getpid())
        finally:
            await manager.shutdown_kernel(now=True)

    kernel, ours = asyncio.run(launch())
    assert kernel == min(ours + niceness, 19)  # 19: the lowest priority there is
