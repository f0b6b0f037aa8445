"""The kernels of the notebook batch (batch.py): private sockets, and stopped with the batch.

- Transport: over TCP, ipykernel 7 warns once per kernel that its traffic is unencrypted (a line per
  notebook in `memvae figures`' output that says nothing about the notebook), and its own advice is
  IPC transport. On POSIX the kernels talk to the batch over Unix sockets, private to this user, so
  the warning is never printed; every other kernel message still is.
- Stopping: jupyter_client starts each kernel in a session of its own, so Ctrl-C reaches the batch
  but not its kernels, and papermill's threads would wait for every running notebook to finish
  (minutes at laptop). `stop_all()` kills the kernels this process started; their threads then end
  at once with a DeadKernelError.
"""
from __future__ import annotations

import os
import signal
import threading
import uuid
import weakref

SOCKET_PATH_ROOM = 60  # a Unix socket path has at most 107 bytes; jupyter_client adds '-<port>'

# the kernel managers of this process; papermill drops each once its notebook is done
_started: weakref.WeakSet = weakref.WeakSet()
_started_lock = threading.Lock()
_MANAGER_CLASS = None


def papermill_options() -> dict:
    """papermill.execute_notebook's keyword for the batch's kernel manager."""
    return {"kernel_manager_class": manager_class()}


def manager_class():
    """nbclient's default AsyncKernelManager, remembered for stop_all(), with IPC transport on POSIX.
    Its socket files go under an absolute path in Jupyter's runtime directory: a relative one
    (jupyter_client's default, 'kernel-ipc') would be resolved in the kernel's working directory,
    the notebook's folder, and in this process's, which differ. jupyter_client removes the files
    when the kernel ends."""
    global _MANAGER_CLASS
    if _MANAGER_CLASS is not None:
        return _MANAGER_CLASS
    from jupyter_client.manager import AsyncKernelManager

    class BatchKernelManager(ipc_transport(AsyncKernelManager)):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            with _started_lock:
                _started.add(self)

        async def _async_interrupt_kernel(self):
            # jupyter_client sends SIGINT before every shutdown. The kernel of a finished notebook is
            # idle, but the signal can land in a message handler, and the kernel then logs "ERROR |
            # KeyboardInterrupt caught in kernel." into the batch's output (seen after mem/fig4 at
            # laptop). The shutdown request, then SIGTERM and SIGKILL, stop it all the same.
            if getattr(self, "shutting_down", False):
                return
            await super()._async_interrupt_kernel()

    _MANAGER_CLASS = BatchKernelManager
    return _MANAGER_CLASS


def ipc_transport(manager_class):
    """A subclass of a jupyter_client kernel manager class whose kernels use IPC transport on POSIX
    (the class itself elsewhere). The batch's managers use it, and the nbval goldens' too
    (tests/goldens/conftest.py): nbval sends a kernel's stderr to /dev/null, so its warning is never
    seen there, but the traffic would still cross localhost TCP unencrypted."""
    if os.name != "posix":
        return manager_class
    from traitlets import default

    class IPCKernelManager(manager_class):
        @default("transport")
        def _default_transport(self):
            return "ipc"

        @default("ip")
        def _default_ip(self):
            return _socket_prefix()

    IPCKernelManager.__name__ = IPCKernelManager.__qualname__ = f"IPC{manager_class.__name__}"
    return IPCKernelManager


def _socket_prefix() -> str:
    from jupyter_core.paths import jupyter_runtime_dir

    folder = jupyter_runtime_dir()
    if len(folder) > SOCKET_PATH_ROOM:
        import tempfile

        folder = tempfile.gettempdir()
    os.makedirs(folder, mode=0o700, exist_ok=True)
    return os.path.join(folder, f"memvae-kernel-{uuid.uuid4().hex[:12]}-ipc")


def stop_all() -> int:
    """Kill (SIGKILL, the kernel's process group) every kernel this process started that still runs;
    returns how many. Safe from any thread: it sends signals, it does not touch the managers' event
    loops. A training run in a killed kernel keeps its last checkpoint (train.py)."""
    with _started_lock:
        managers = list(_started)
        _started.clear()
    stopped = 0
    for manager in managers:
        process = getattr(getattr(manager, "provisioner", None), "process", None)
        if process is None or process.poll() is not None:
            continue
        pgid = getattr(manager.provisioner, "pgid", None)
        try:
            if pgid and hasattr(os, "killpg"):
                os.killpg(pgid, signal.SIGKILL)
            else:
                process.kill()
            stopped += 1
        except ProcessLookupError:  # it ended between poll() and the signal
            pass
    return stopped

