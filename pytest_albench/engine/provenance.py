"""What produced a result: config hash, package versions and device, recorded with every run.

Versions are read from installed metadata so recording them never imports a heavy library.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from importlib import metadata
from typing import Any

TRACKED_PACKAGES = (
    "pytest-albench",
    "torch",
    "numpy",
    "scikit-learn",
    "scipy",
    "sentence-transformers",
    "transformers",
)


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def stable_hash(obj: Any, length: int = 16) -> str:
    """Hex digest of canonical JSON: equal configurations hash equally on every machine."""
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:length]


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def device_description(device: str) -> str:
    """A human-readable device name, e.g. ``cuda:0 (NVIDIA H200)`` or ``cpu (x86_64, 2 threads)``."""
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        index = torch.device(device).index or 0
        return f"{device} ({torch.cuda.get_device_name(index)})"
    return f"cpu ({platform.machine()}, {torch.get_num_threads()} threads)"


def environment_fingerprint(device: str) -> dict[str, Any]:
    """Everything besides the config that can change a number: versions, platform, device."""
    return {
        "versions": package_versions(),
        "platform": f"{platform.system()}-{platform.machine()}",
        "python_implementation": sys.implementation.name,
        "device": device_description(device),
    }
